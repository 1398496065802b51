"""The digest of everything that goes into build/multus, so tests can tell a stale build.

build.sh stores it in build/multus.digest next to the file it built; the test suite compares
it with the tree it runs in.

Usage: source_digest.py [REPO]
"""

import hashlib
import sys
from pathlib import Path

INPUTS = ("multus/**/*.py", "build/fastmain.py", "build/requirements.txt", "setup.cfg", "build.sh")


def digest(repo: Path) -> str:
    h = hashlib.sha256()
    for pattern in INPUTS:
        for path in sorted(repo.glob(pattern)):
            h.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


if __name__ == "__main__":
    print(digest(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))

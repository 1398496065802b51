"""The Multus log: `logLevel`, `logFile`, `logToStderr` from the config, no stdlib logging.

Levels follow upstream: panic < error < verbose < debug. stdout is never written here.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

LEVELS = {"panic": 0, "error": 1, "verbose": 2, "debug": 3}
SECRET_KEY_PATTERN = r"(?i)(pass|secret|token|credential|auth|private|api.?key|key.?data|cert.?data)"
REDACTED = "<redacted>"
DEFAULT_LEVEL = "error"


class Logger:
    __slots__ = ("level", "path", "stderr", "prefix")

    def __init__(self, level: str = DEFAULT_LEVEL, path: str = "", stderr: TextIO | None = sys.stderr,
                 prefix: str = "") -> None:
        self.level = LEVELS.get(level.lower(), LEVELS[DEFAULT_LEVEL])
        self.path = path
        self.stderr = stderr
        self.prefix = prefix

    def _emit(self, level: int, name: str, msg: str) -> None:
        if level > self.level:
            return
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{name}] {self.prefix}{msg}\n"
        if self.stderr is not None:
            self.stderr.write(line)
            self.stderr.flush()
        if self.path:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a") as f:
                    f.write(line)
            except OSError as exc:
                if self.stderr is not None:
                    self.stderr.write(f"multus: cannot write log file {self.path}: {exc.strerror}\n")

    def error(self, msg: str) -> None:
        self._emit(1, "error", msg)

    def verbose(self, msg: str) -> None:
        self._emit(2, "verbose", msg)

    def debug(self, msg: str) -> None:
        self._emit(3, "debug", msg)

    def enabled(self, name: str) -> bool:
        return self.level >= LEVELS[name]


def redact(text: str) -> str:
    """A JSON document with every value under a credential-like key replaced; other text as is."""
    import json
    import re

    try:
        doc = json.loads(text)
    except ValueError:
        return text
    pattern = re.compile(SECRET_KEY_PATTERN)

    def scrub(value: object) -> object:
        if isinstance(value, dict):
            return {k: REDACTED if pattern.search(k) else scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return json.dumps(scrub(doc), sort_keys=True, separators=(",", ":"))

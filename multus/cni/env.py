"""The runtime's request: CNI_* environment plus stdin, validated at the edge.

Container IDs and interface names end up in file names and kernel calls, so they are
checked here with the spec's rules before any other code sees them.
"""

from __future__ import annotations

from multus.cni.errors import INVALID_ENV, CniError

COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION")
_REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "STATUS": ("CNI_PATH",),
    "GC": ("CNI_PATH",),
    "VERSION": (),
}
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")
MAX_CONTAINER_ID = 1024


def check_ifname(name: str) -> str | None:
    """The kernel's rules for a link name; returns the problem, or None when fine."""
    if not name:
        return "interface name is empty"
    if len(name) > 15:
        return f"interface name {name!r} is longer than 15 characters"
    if name in (".", ".."):
        return f"interface name {name!r} is not allowed"
    if any(c in "/:" or c.isspace() for c in name):
        return f"interface name {name!r} contains '/', ':' or whitespace"
    return None


def check_container_id(cid: str) -> str | None:
    if len(cid) > MAX_CONTAINER_ID or cid[0] not in _ALNUM or not _ID_CHARS.issuperset(cid):
        return f"invalid container ID {cid[:80]!r}: must match [A-Za-z0-9][A-Za-z0-9_.-]*"
    return None


class CmdArgs:
    """One CNI request, as a plugin sees it."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args", "path", "environ", "stdin")

    def __init__(self, command: str, container_id: str, netns: str, ifname: str, args: str,
                 path: list[str], environ: dict[str, str], stdin: bytes) -> None:
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path
        self.environ = environ
        self.stdin = stdin

    @classmethod
    def from_environ(cls, environ: dict[str, str], stdin: bytes) -> CmdArgs:
        command = environ.get("CNI_COMMAND", "")
        if not command:
            raise CniError(INVALID_ENV, "CNI_COMMAND is not set", f"expected one of {list(COMMANDS)}")
        if command not in COMMANDS:
            raise CniError(INVALID_ENV, f"unknown CNI_COMMAND {command[:40]!r}", f"expected one of {list(COMMANDS)}")
        poisoned = [k for k, v in environ.items() if not _passable(k, v)]
        if poisoned:
            # No process can be given such a variable (a daemon request's JSON can carry one): refused
            # before anything runs, except by DEL, which must converge and goes on without them.
            if command != "DEL":
                raise CniError(INVALID_ENV, f"environment variable {poisoned[0][:40]!r} cannot be passed to a "
                                            f"plugin (a NUL byte, '=' or an empty name, or text that is not bytes)")
            environ = {k: v for k, v in environ.items() if k not in poisoned}
        missing = [k for k in _REQUIRED[command] if not environ.get(k)]
        if missing:
            raise CniError(INVALID_ENV, f"required env variables {missing} missing")
        cid = environ.get("CNI_CONTAINERID", "")
        if cid and (problem := check_container_id(cid)):
            raise CniError(INVALID_ENV, problem)
        ifname = environ.get("CNI_IFNAME", "")
        if ifname and command not in ("STATUS", "GC", "VERSION") and (problem := check_ifname(ifname)):
            raise CniError(INVALID_ENV, problem)
        path = [p for p in environ.get("CNI_PATH", "").split(":") if p]
        return cls(command, cid, environ.get("CNI_NETNS", ""), ifname, environ.get("CNI_ARGS", ""),
                   path, environ, stdin)


def _passable(name: str, value: str) -> bool:
    """What exec can put in a process environment: no NUL, a name without "=", and text that goes back
    to bytes the way the interpreter decoded it (surrogateescape)."""
    if not name or "=" in name or "\0" in name or "\0" in value:
        return False
    try:
        name.encode("utf-8", "surrogateescape")
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True

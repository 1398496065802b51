"""The one error type of the CNI protocol and the spec's well-known codes.

Raised anywhere inside; turned into output only by `skel`.
"""

from __future__ import annotations

INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE = 6
INVALID_CONFIG = 7
INVALID_NETNS = 8
TRY_AGAIN_LATER = 11
PLUGIN_NOT_AVAILABLE = 50
INTERNAL = 999


class CniError(Exception):
    """A failure with a spec code; a delegate's own code passes through unchanged."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def __str__(self) -> str:
        return f"{self.msg}: {self.details}" if self.details else self.msg

    def wrap(self, prefix: str) -> CniError:
        """Add context to the message but keep the code, so runtimes still see e.g. 11."""
        return CniError(self.code, f"{prefix}: {self.msg}", self.details)

    def to_dict(self, cni_version: str) -> dict:
        out: dict = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


def internal_error(exc: BaseException) -> CniError:
    """An unforeseen exception as the CNI error a runtime can read: code 999, type and message."""
    return CniError(INTERNAL, f"internal error: {type(exc).__name__}: {exc}")

"""`readinessindicatorfile`: ADD, STATUS and GC wait for the cluster network's signal (multus-behaviour.md §17).

Nothing is asked of the API and no delegate runs before the file exists. DEL never waits:
a node whose default network is down must still be able to clean up.
"""

from __future__ import annotations

import os
import time

from multus.cni.errors import TRY_AGAIN_LATER, CniError

POLL = 0.25


def wait_for(path: str, timeout: float) -> None:
    if not path:
        return
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            raise CniError(TRY_AGAIN_LATER, f"have you checked that your default network is ready? still waiting for "
                                            f"readinessindicatorfile {path} after {timeout:g}s")
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))

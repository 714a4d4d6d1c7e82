"""Which worker process owns the embedded store (chdb allows one process per data dir), and
where it answers queries: a small file in the data dir."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

OWNER_FILE = "worker.json"


def write_owner(data_dir: Path, host: str, port: int) -> None:
    """Record this process as the worker that owns the store, and where it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": host, "port": port}))


def remove_owner(data_dir: Path) -> None:
    """Forget the store's owner."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / OWNER_FILE).unlink()


def running_owner(data_dir: Path) -> dict[str, Any] | None:
    """The owner record of the store if its process is alive, else None."""
    try:
        owner = json.loads((data_dir / OWNER_FILE).read_text())
        os.kill(int(owner["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return None
    return dict(owner)

"""`linepulse query`: SQL on the store, through the worker that owns it when one is running."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from streams.settings import StoreSettings
from streams.store.clickhouse import StoreError, open_store, output_format

OWNER_FILE = "worker.json"


def write_owner(data_dir: Path, host: str, port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": host, "port": port}))


def remove_owner(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / OWNER_FILE).unlink()


def running_owner(data_dir: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((data_dir / OWNER_FILE).read_text())
        os.kill(int(owner["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return None
    return dict(owner)


def query_worker(owner: dict[str, Any], sql: str, fmt: str, timeout_s: float = 60.0) -> bytes:
    request = urllib.request.Request(
        f"http://{owner['host']}:{owner['port']}/query",
        data=json.dumps({"sql": sql, "format": fmt}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError):
            body = json.loads(body).get("error", body)
        raise StoreError(body) from exc


def run_query(settings: StoreSettings, sql: str, fmt: str = "table") -> bytes:
    output_format(fmt)
    owner = None if settings.clickhouse_url else running_owner(settings.data_dir)
    if owner is not None:
        return query_worker(owner, sql, fmt)
    store = open_store(settings)
    try:
        return store.query_bytes(sql, output_format(fmt))
    finally:
        store.close()

"""`linepulse query`: read-only SQL on the store, through the worker that owns it when one is
running (with the worker's query token, LINEPULSE_QUERY_TOKEN, when it needs one)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any

from streams.settings import StoreSettings, WorkerSettings
from streams.store.clickhouse import StoreError, open_store, output_format
from streams.store.owner import running_owner
from streams.store.readonly import QueryLimits, ReadOnlyQueries, one_line

ANSWER_MARGIN_S = 15.0  # beyond the query time limit, for the worker to send the answer


def query_worker(
    owner: dict[str, Any],
    sql: str,
    fmt: str,
    timeout_s: float | None = None,
    token: str | None = None,
) -> bytes:
    """The worker's answer; every failure is a StoreError with one line. Without `token` or
    `timeout_s`, LINEPULSE_QUERY_TOKEN and LINEPULSE_QUERY_TIMEOUT_S (plus a margin) apply."""
    if token is None or timeout_s is None:
        settings = WorkerSettings()
        if token is None and settings.query_token is not None:
            token = settings.query_token.get_secret_value().strip() or None
        if timeout_s is None:
            timeout_s = settings.query_timeout_s + ANSWER_MARGIN_S
    address = f"{owner['host']}:{owner['port']}"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://{address}/query",
        data=json.dumps({"sql": sql, "format": fmt}).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            body = str(json.loads(body).get("error", body))
        raise StoreError(one_line(body or f"the worker answered {exc.code}")) from None
    except TimeoutError:
        msg = f"the worker at {address} did not answer within {timeout_s:g} s"
        raise StoreError(msg) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            msg = f"the worker at {address} did not answer within {timeout_s:g} s"
        else:
            msg = f"cannot reach the worker at {address}: {reason}"
        raise StoreError(one_line(msg)) from None


def run_query(settings: StoreSettings, sql: str, fmt: str = "table") -> bytes:
    """Through the worker that owns the embedded store, else on the store itself: read-only
    either way, with the same checks and limits."""
    output_format(fmt)
    owner = None if settings.clickhouse_url else running_owner(settings.data_dir)
    if owner is not None:
        return query_worker(owner, sql, fmt)
    if settings.clickhouse_url is None and not settings.chdb_path.is_dir():
        msg = (
            f"no LinePulse store in {settings.data_dir}: point --data-dir (LINEPULSE_DATA_DIR) "
            "at the data dir of a worker or a demo, or set LINEPULSE_CLICKHOUSE_URL"
        )
        raise StoreError(msg)
    worker = WorkerSettings()
    queries = ReadOnlyQueries(QueryLimits(worker.query_timeout_s, worker.query_max_result_mb))
    store = open_store(settings)
    try:
        return queries.run(store, sql, output_format(fmt))
    finally:
        store.close()

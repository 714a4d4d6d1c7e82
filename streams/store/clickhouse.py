"""ClickHouse access: embedded chdb by default, a ClickHouse server through clickhouse-connect.

Both take the same SQL and the same rows, so everything above this module is one code path. The
embedded engine inserts rows as Arrow columns; a server takes them as JSONEachRow (the stand-in
server of the tests passes text only, so a columnar server insert could not be tested here).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from schemas.exceptions import LinePulseError
from schemas.tables import DATABASE, TABLES
from streams.settings import StoreSettings
from streams.store.columns import arrow_table, by_columns

T = TypeVar("T")
log = logging.getLogger(__name__)
_FORMATS = {
    "csv": "CSVWithNames",
    "json": "JSONEachRow",
    "table": "PrettyCompactMonoBlock",
    "tsv": "TabSeparatedWithNames",
    "parquet": "Parquet",
}


class StoreError(LinePulseError):
    """ClickHouse refused a statement or could not be reached."""

    def __init__(self, message: str, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class Store(Protocol):
    """What LinePulse needs of ClickHouse: statements, queries, row inserts."""

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        ...

    def query_bytes(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        """The result of a query in the format `fmt`."""
        ...

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows (dicts by column name) into `table`."""
        ...

    def close(self) -> None:
        """Close the connection or the engine."""
        ...


def query_rows(store: Store, sql: str) -> list[dict[str, Any]]:
    """The rows of a query as dicts."""
    raw = store.query_bytes(sql, "JSONEachRow")
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def output_format(name: str) -> str:
    """ClickHouse's format name for one of `linepulse query`'s formats."""
    try:
        return _FORMATS[name]
    except KeyError:
        msg = f"unknown output format {name!r}; choose one of {', '.join(_FORMATS)}"
        raise StoreError(msg) from None


def _json_rows(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(row) for row in rows)


class EmbeddedStore:
    """chdb in this process, its files under the data dir (one process per data dir)."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._column_types: dict[str, dict[str, str]] = {}
        try:
            self._session = session.Session(str(path))
        except Exception as exc:
            msg = (
                f"cannot open the embedded ClickHouse at {path}: {exc}. Another LinePulse process "
                "may own it: query through that process, or use another --data-dir"
            )
            raise StoreError(msg) from exc

    def _run(self, sql: str, fmt: str = "CSV") -> bytes:
        with self._lock:
            try:
                result = self._session.query(sql, fmt)
            except Exception as exc:
                msg = f"ClickHouse refused: {exc}"
                raise StoreError(msg) from exc
        return bytes(result.bytes()) if result is not None else b""

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        self._column_types.clear()  # a migration may change a table
        self._run(sql)

    def query_bytes(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        """The result of a query in the format `fmt`."""
        return self._run(sql, fmt)

    def _types_of(self, table: str) -> dict[str, str]:
        if table not in self._column_types:
            described = self._run(f"DESCRIBE TABLE {table}", "JSONEachRow")
            columns = [orjson.loads(line) for line in described.splitlines() if line.strip()]
            self._column_types[table] = {c["name"]: c["type"] for c in columns}
        return self._column_types[table]

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows (dicts by column name) into `table`, column by column."""
        types = self._types_of(table) if rows else {}
        for columns, group in by_columns(rows, types).items():
            linepulse_rows = arrow_table(group, list(columns), types)  # noqa: F841 - read by SQL
            names = ", ".join(f"`{column}`" for column in columns)
            self._run(f"INSERT INTO {table} ({names}) SELECT {names} FROM Python(linepulse_rows)")

    def close(self) -> None:
        """Close the connection or the engine."""
        with self._lock:
            self._session.close()


class ServerStore:
    """A ClickHouse server over HTTP(S) with clickhouse-connect."""

    def __init__(self, settings: StoreSettings) -> None:
        import clickhouse_connect

        assert settings.clickhouse_url is not None
        password = settings.clickhouse_password
        with _server_errors(f"cannot reach ClickHouse at {settings.clickhouse_url}"):
            self._client = clickhouse_connect.get_client(
                dsn=settings.clickhouse_url,
                username=settings.clickhouse_user,
                password=password.get_secret_value() if password else "",
                verify=settings.clickhouse_verify,
                ca_cert=str(settings.clickhouse_ca_file) if settings.clickhouse_ca_file else None,
            )

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        with _server_errors("ClickHouse refused"):
            self._client.command(sql)

    def query_bytes(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        """The result of a query in the format `fmt`."""
        with _server_errors("ClickHouse refused"):
            return bytes(self._client.raw_query(sql, fmt=fmt))

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows (dicts by column name) into `table`."""
        if not rows:
            return
        with _server_errors(f"ClickHouse refused the insert into {table}"):
            self._client.raw_insert(table, insert_block=_json_rows(rows), fmt="JSONEachRow")

    def close(self) -> None:
        """Close the connection or the engine."""
        self._client.close()


@contextlib.contextmanager
def _server_errors(refused: str) -> Iterator[None]:
    """A server that cannot be reached is a retriable error; a refusal is not."""
    from clickhouse_connect.driver.exceptions import OperationalError

    try:
        yield
    except OperationalError as exc:
        msg = f"ClickHouse is unreachable: {exc}"
        raise StoreError(msg, retriable=True) from exc
    except Exception as exc:
        msg = f"{refused}: {exc}"
        raise StoreError(msg) from exc


def until_reachable(
    action: Callable[[], T],
    what: str,
    on_retry: Callable[[StoreError], None] | None = None,
    max_backoff_s: float = 30.0,
) -> T:
    """Run `action`; while ClickHouse cannot be reached, wait with a growing pause and retry.
    Whoever calls this waits with it (the sink's stream stops consuming: back-pressure)."""
    backoff = 0.5
    while True:
        try:
            return action()
        except StoreError as error:
            if not error.retriable:
                raise
            if on_retry is not None:
                on_retry(error)
            log.warning("%s: retrying in %.1f s: %s", what, backoff, error)
            time.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)


def open_store(settings: StoreSettings) -> Store:
    """The configured store: a ClickHouse server, else the embedded engine."""
    if settings.clickhouse_url:
        return ServerStore(settings)
    return EmbeddedStore(settings.chdb_path)


def migration_files() -> list[tuple[int, str, str]]:
    """The shipped migrations as (version, name, SQL), in order."""
    files = []
    for entry in resources.files("schemas").joinpath("migrations").iterdir():
        match = re.match(r"^(\d+)_(.+)\.sql$", entry.name)
        if match:
            files.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(files)


def sql_statements(sql: str) -> list[str]:
    """The statements of a migration file, comments left out."""
    without_comments = "\n".join(
        line for line in sql.splitlines() if not line.strip().startswith("--")
    )
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def latest_schema_version() -> int:
    """The newest migration this LinePulse ships."""
    return max(version for version, _, _ in migration_files())


def migrate(store: Store) -> list[int]:
    """Apply the migrations not yet recorded; returns the versions applied now."""
    store.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {DATABASE}.schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )
    done = {
        row["version"]
        for row in query_rows(store, f"SELECT version FROM {DATABASE}.schema_migrations")
    }
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for statement in sql_statements(sql):
            store.execute(statement)
        store.insert_rows(f"{DATABASE}.schema_migrations", [{"version": version, "name": name}])
        applied.append(version)
    return applied


_TTL = re.compile(r"TTL (.+?) \+ toIntervalDay\((\d+)\)")


def apply_retention(store: Store, settings: StoreSettings) -> list[str]:
    """Set each table's TTL to the configured days where it differs; returns the changed tables.
    (A changed TTL is applied to the stored parts by ClickHouse in the background.)"""
    tables = query_rows(
        store,
        f"SELECT name, create_table_query FROM system.tables WHERE database = '{DATABASE}'",
    )
    changed = []
    for row in tables:
        shape = TABLES.get(row["name"])
        found = _TTL.search(row["create_table_query"]) if shape and shape.retention else None
        if shape is None or shape.retention is None or found is None:
            continue
        days = settings.retention_days(shape.retention)
        if int(found.group(2)) != days:
            table = f"{DATABASE}.{row['name']}"
            store.execute(f"ALTER TABLE {table} MODIFY TTL {found.group(1)} + INTERVAL {days} DAY")
            changed.append(row["name"])
    return changed


def schema_version(store: Store) -> int:
    """The newest migration applied to the store (0 for none)."""
    try:
        rows = query_rows(store, f"SELECT max(version) AS v FROM {DATABASE}.schema_migrations")
    except StoreError:
        return 0
    return int(rows[0]["v"]) if rows else 0


def require_schema(store: Store) -> None:
    """Refuse to write to a store whose schema this version does not know."""
    found, expected = schema_version(store), latest_schema_version()
    if found < expected:
        msg = f"ClickHouse schema is at version {found}, LinePulse expects {expected}: "
        msg += "run `linepulse db migrate`"
        raise StoreError(msg)
    if found > expected:
        msg = f"ClickHouse schema is at version {found}, newer than this LinePulse ({expected}): "
        msg += "upgrade LinePulse"
        raise StoreError(msg)

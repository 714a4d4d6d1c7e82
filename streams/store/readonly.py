"""Read-only SQL: what `linepulse query` and the worker's /query endpoint run on the store.

What runs is what was checked. ClickHouse's own parser first turns the text into one canonical
statement (`formatQuerySingleLine`: exactly one statement or an error; comments gone, keywords in
upper case, quoting normalised), so no comment, string or second statement can hide anything
from the check. The canonical statement is checked here, then runs with the limits and
`readonly = 1` as its SETTINGS clause.

`readonly = 1` makes ClickHouse refuse INSERT, DDL, ALTER, OPTIMIZE, `SET`, settings changes
inside the statement (also in a subquery) and most table functions (`file`, `url`, `remote`,
`s3`, `mysql`, `executable`, ...). Tried on chdb 26.9, it lets these through, and the check here
refuses them: the scalar function `file()` (any file the process can read), `DESCRIBE file(...)`
(reads the file to infer its columns), `SELECT ... INTO OUTFILE` (the embedded engine writes the
file), chdb's `python()` table function (objects of the worker's own process), and a second
statement after `;` (chdb runs it, without the SETTINGS clause). So the check refuses: anything
that is not a query; any SETTINGS clause; INTO OUTFILE; and a call of any function named like a
table function that is not in SAFE_TABLE_FUNCTIONS (names from the engine's
`system.table_functions` and a fixed list), or like the scalar `file`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from streams.store.clickhouse import Store, StoreError, query_rows

QUERY_STARTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "EXISTS", "EXPLAIN")  # as formatted

# Table functions that only generate rows or read the store's own tables. `format` is also the
# string function format('{} {}', a, b); its table function form is refused by readonly = 1.
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "primes",
        "generate_series",
        "generateSeries",
        "generateRandom",
        "values",
        "null",
        "view",
        "merge",
        "format",
    }
)

# Refused even where the engine's list of table functions cannot be read: they reach files,
# the network, other processes or the worker's own memory. `file` is also a scalar function.
OUTSIDE_FUNCTIONS = frozenset(
    {
        "file",
        "fileCluster",
        "filesystem",
        "url",
        "urlCluster",
        "s3",
        "s3Cluster",
        "gcs",
        "oss",
        "cosn",
        "hdfs",
        "hdfsCluster",
        "azureBlobStorage",
        "azureBlobStorageCluster",
        "iceberg",
        "deltaLake",
        "hudi",
        "paimon",
        "remote",
        "remoteSecure",
        "cluster",
        "clusterAllReplicas",
        "mysql",
        "postgresql",
        "jdbc",
        "odbc",
        "sqlite",
        "mongodb",
        "redis",
        "bigquery",
        "ytsaurus",
        "input",
        "executable",
        "dictionary",
        "python",
        "arrowstream",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\n\r\f\v]+)
    | (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<quoted>`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")
    | (?P<word>[A-Za-z0-9_]+)
    | (?P<punct>[-+*/%<>=!|?^~@:.,()\[\]{}&])
    """,
    re.VERBOSE | re.DOTALL,
)
_UNQUOTE = re.compile(r"\\(.)|``|\"\"", re.DOTALL)
_ERROR_NAME = re.compile(r"\(([A-Z_]+)\)\s*$")
_IN_SCOPE = re.compile(r"\s*:\s*In scope SELECT formatQuerySingleLine\(.*", re.DOTALL)


class QueryRefused(StoreError):
    """The statement would write, change settings or reach beyond the store: it is not run."""


class QueryTimeout(StoreError):
    """The statement ran longer than the query time limit and ClickHouse stopped it."""


class Token(NamedTuple):
    """A piece of the formatted statement."""

    kind: str  # word, quoted (an identifier in quotes, unquoted here), string, punct
    text: str


@dataclass(frozen=True)
class QueryLimits:
    """What one query may take (LINEPULSE_QUERY_TIMEOUT_S, LINEPULSE_QUERY_MAX_RESULT_MB)."""

    timeout_s: float = 60.0
    max_result_mb: float = 1024.0


def one_line(text: str, limit: int = 1000) -> str:
    """A message as one line (ClickHouse's can span several), cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def sql_literal(text: str) -> str:
    """`text` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tokens(canonical: str) -> list[Token]:
    """The tokens of a statement as ClickHouse formats it. Anything a formatted statement does
    not contain (comments, `;`, `$`, `#`, text outside quotes that is not ASCII) is refused
    rather than guessed at."""
    found: list[Token] = []
    position = 0
    while position < len(canonical):
        match = _TOKEN.match(canonical, position)
        if match is None:
            char = canonical[position]
            what = "a second statement" if char == ";" else f"{char!r} outside quotes"
            msg = f"the statement cannot be checked: {what} at position {position}"
            raise QueryRefused(msg)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "punct" and canonical[position : position + 2] in ("--", "/*"):
            msg = f"the statement cannot be checked: a comment marker at position {position}"
            raise QueryRefused(msg)
        if kind == "quoted":
            found.append(
                Token(kind, _UNQUOTE.sub(lambda m: m.group(1) or m.group()[0], text[1:-1]))
            )
        elif kind != "space":
            found.append(Token(kind, text))
        position = match.end()
    return found


def refused_functions(table_functions: Iterable[str]) -> frozenset[str]:
    """Lower-case names of the functions a query may not call: every table function the engine
    knows but the safe ones, and those of OUTSIDE_FUNCTIONS."""
    safe = {name.lower() for name in SAFE_TABLE_FUNCTIONS}
    names = {name.lower() for name in (*table_functions, *OUTSIDE_FUNCTIONS)}
    return frozenset(names - safe)


def check_statement(canonical: str, refused: frozenset[str]) -> None:
    """Refuse a formatted statement that is not a query, carries SETTINGS or INTO OUTFILE, or
    calls a function of `refused`."""
    found = tokens(canonical)
    if not found:
        msg = "no SQL statement given"
        raise QueryRefused(msg)
    kind = found[0].text.upper() if found[0].kind == "word" else found[0].text
    if kind not in QUERY_STARTS and kind != "(":
        msg = (
            f"{kind} is refused: queries are read-only; only "
            f"{', '.join(QUERY_STARTS[:-1])} and {QUERY_STARTS[-1]} run"
        )
        raise QueryRefused(msg)
    for index, token in enumerate(found):
        after = found[index + 1].text if index + 1 < len(found) else ""
        qualified = index > 0 and found[index - 1].text == "."  # system.settings is a table
        if token.kind == "word" and not qualified:
            word = token.text.upper()
            if word == "SETTINGS":
                msg = (
                    "SETTINGS are refused: queries run read-only with the worker's limits "
                    "(LINEPULSE_QUERY_TIMEOUT_S, LINEPULSE_QUERY_MAX_RESULT_MB)"
                )
                raise QueryRefused(msg)
            if word == "OUTFILE":
                msg = (
                    "INTO OUTFILE is refused: write results with --output FILE or linepulse export"
                )
                raise QueryRefused(msg)
        if token.kind in ("word", "quoted") and after == "(" and token.text.lower() in refused:
            msg = (
                f"{token.text}() is refused: queries read the store only, "
                "not files, the network or other processes"
            )
            raise QueryRefused(msg)


def settings_clause(limits: QueryLimits) -> str:
    """The SETTINGS clause of every checked statement: the limits, and readonly = 1 (which also
    forbids changing any setting from inside the statement)."""
    settings = [f"max_execution_time = {limits.timeout_s:g}", "timeout_overflow_mode = 'throw'"]
    if limits.max_result_mb > 0:
        settings.append(f"max_result_bytes = {int(limits.max_result_mb * 1024 * 1024)}")
        settings.append("result_overflow_mode = 'throw'")
    settings.append("readonly = 1")
    return f" SETTINGS {', '.join(settings)}"


def with_limits(canonical: str, limits: QueryLimits) -> str:
    """The statement with the read-only, time and size limits."""
    return canonical + settings_clause(limits)


def clickhouse_message(error: StoreError) -> str:
    """ClickHouse's message of an error, on one line."""
    return one_line(_IN_SCOPE.sub("", str(error).removeprefix("ClickHouse refused: ")))


def explained(error: StoreError, limits: QueryLimits) -> StoreError:
    """ClickHouse's refusal of a checked statement, said in LinePulse's terms."""
    if error.retriable:
        return error
    message = clickhouse_message(error).replace(settings_clause(limits), "")  # not the user's
    name = _ERROR_NAME.search(message)
    code = name.group(1) if name else ""
    if code == "TIMEOUT_EXCEEDED":
        return QueryTimeout(
            f"the query ran longer than {limits.timeout_s:g} s and was stopped "
            "(LINEPULSE_QUERY_TIMEOUT_S): narrow it, e.g. to a time range"
        )
    if code == "READONLY":
        return QueryRefused(f"refused, queries are read-only: {message}")
    if code == "TOO_MANY_ROWS_OR_BYTES":
        return StoreError(
            f"the result is larger than {limits.max_result_mb:g} MB "
            "(LINEPULSE_QUERY_MAX_RESULT_MB): add a LIMIT, or export a time range"
        )
    return StoreError(f"ClickHouse refused: {message}")


class ReadOnlyQueries:
    """Runs queries read-only on a store; learns the engine's table functions on first use."""

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits
        self._refused: frozenset[str] | None = None

    def refused(self, store: Store) -> frozenset[str]:
        """Why the statement is refused, or None when it may run."""
        if self._refused is None:
            try:
                rows = query_rows(store, "SELECT name FROM system.table_functions")
            except StoreError as error:
                if error.retriable:
                    raise
                rows = []  # an engine without the table: the fixed list still holds
            self._refused = refused_functions(str(row["name"]) for row in rows)
        return self._refused

    def canonical(self, store: Store, sql: str) -> str:
        """The one statement in `sql`, as ClickHouse's parser reads and formats it."""
        if not sql.strip():
            msg = "no SQL statement given"
            raise QueryRefused(msg)
        try:
            raw = store.query_bytes(f"SELECT formatQuerySingleLine({sql_literal(sql)})", "RawBLOB")
        except StoreError as error:
            if error.retriable:
                raise
            msg = f"not one valid SQL statement: {clickhouse_message(error)}"
            raise StoreError(msg) from error
        return raw.decode()

    def run(self, store: Store, sql: str, fmt: str) -> bytes:
        """Run a query read-only, or raise why it cannot."""
        canonical = self.canonical(store, sql)
        check_statement(canonical, self.refused(store))
        try:
            return store.query_bytes(with_limits(canonical, self.limits), fmt)
        except StoreError as error:
            raise explained(error, self.limits) from error

"""The read-only check on statements as ClickHouse formats them, the SETTINGS clause every query
runs with, and the worker's query-token rules. No engine here: tests/integration/
test_query_security.py sends the same refusals through a real worker."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from streams.settings import WorkerSettings
from streams.store.clickhouse import StoreError
from streams.store.readonly import (
    OUTSIDE_FUNCTIONS,
    QueryLimits,
    QueryRefused,
    QueryTimeout,
    check_statement,
    explained,
    refused_functions,
    sql_literal,
    tokens,
    with_limits,
)
from streams.worker.query_view import (
    QueryTokenRequired,
    authorized,
    is_loopback,
    query_token,
)

ENGINE_TABLE_FUNCTIONS = ("file", "url", "numbers", "python", "someFutureLake", "format", "view")
REFUSED = refused_functions(ENGINE_TABLE_FUNCTIONS)


@pytest.mark.parametrize(
    "canonical",
    [
        "SELECT asset, oee FROM linepulse.oee_windows FINAL WHERE provisional = 0",
        "WITH t AS (SELECT 1) SELECT * FROM t",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES FROM linepulse",
        "DESCRIBE TABLE linepulse.alerts",
        "EXISTS TABLE linepulse.alerts",
        "EXPLAIN SELECT 1",
        "SELECT name, value FROM system.settings WHERE name = 'max_threads'",
        "SELECT number FROM numbers(10)",
        "SELECT format('{} {}', 'a', 'b')",
        "SELECT 'file(\\'/etc/hostname\\'); SETTINGS readonly = 0 -- /*'",
        "SELECT `a b`, `se\\`x` FROM t",
        "SELECT 1 - -1",
        "SELECT 1 FORMAT JSONEachRow",
    ],
)
def test_queries_pass(canonical):
    check_statement(canonical, REFUSED)


@pytest.mark.parametrize(
    ("canonical", "reason"),
    [
        ("INSERT INTO linepulse.alerts FORMAT Values", "INSERT is refused"),
        ("CREATE TABLE x (a UInt8) ENGINE = Memory", "CREATE is refused"),
        ("DROP TABLE linepulse.alerts", "DROP is refused"),
        ("ALTER TABLE linepulse.alerts DELETE WHERE 1", "ALTER is refused"),
        ("SET readonly = 0", "SET is refused"),
        ("SYSTEM SHUTDOWN", "SYSTEM is refused"),
        ("KILL QUERY WHERE 1 ASYNC", "KILL is refused"),
        ("USE system", "USE is refused"),
        ("OPTIMIZE TABLE linepulse.alerts FINAL", "OPTIMIZE is refused"),
        ("SELECT 1 SETTINGS readonly = 0", "SETTINGS are refused"),
        ("SELECT * FROM (SELECT 1 SETTINGS max_threads = 2)", "SETTINGS are refused"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE is refused"),
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", r"file\(\) is refused"),
        ("SELECT file('/etc/hostname')", r"file\(\) is refused"),
        ("SELECT FILE('/etc/hostname')", r"FILE\(\) is refused"),
        ("SELECT * FROM `file`('/etc/hostname')", r"file\(\) is refused"),
        ("DESCRIBE TABLE file('/etc/hostname')", r"file\(\) is refused"),
        ("SELECT * FROM url('http://127.0.0.1:1/x', 'CSV')", r"url\(\) is refused"),
        ("SELECT * FROM python(pipeline)", r"python\(\) is refused"),
        ("SELECT * FROM someFutureLake('s3://b/x')", r"someFutureLake\(\) is refused"),
        ("SELECT * FROM remote('10.0.0.1', system.one)", r"remote\(\) is refused"),
        ("SELECT 1; INSERT INTO t VALUES (1)", "a second statement"),
        ("SELECT 1 /* x */", "comment marker"),
        ("SELECT 1 -- x", "comment marker"),
        ("SELECT 'unterminated", "cannot be checked"),
        ("", "no SQL statement"),
    ],
)
def test_refusals_say_why(canonical, reason):
    with pytest.raises(QueryRefused, match=reason):
        check_statement(canonical, REFUSED)


def test_every_outside_function_is_refused_and_safe_generators_are_not():
    assert {name.lower() for name in OUTSIDE_FUNCTIONS} <= REFUSED
    assert {"file", "url", "python", "somefuturelake"} <= REFUSED
    assert not {"numbers", "format", "view"} & REFUSED


def test_quoted_identifiers_are_compared_unquoted():
    assert [t.text for t in tokens('SELECT `fi``le`(1), "x""y"')] == [
        "SELECT",
        "fi`le",
        "(",
        "1",
        ")",
        ",",
        'x"y',
    ]


def test_a_literal_holds_any_text():
    assert sql_literal("it's \\ here") == "'it\\'s \\\\ here'"
    literal = sql_literal("a'; DROP TABLE x; --")
    assert [t.kind for t in tokens(f"SELECT {literal}")] == ["word", "string"]


def test_every_query_runs_read_only_within_the_limits():
    sql = with_limits("SELECT 1", QueryLimits(timeout_s=2.5, max_result_mb=1))
    assert sql == (
        "SELECT 1 SETTINGS max_execution_time = 2.5, timeout_overflow_mode = 'throw', "
        "max_result_bytes = 1048576, result_overflow_mode = 'throw', readonly = 1"
    )
    unlimited = with_limits("SELECT 1", QueryLimits(timeout_s=60, max_result_mb=0))
    assert "max_result_bytes" not in unlimited
    assert unlimited.endswith("readonly = 1")


def test_clickhouse_refusals_become_one_clear_line():
    limits = QueryLimits(timeout_s=1)
    timeout = explained(
        StoreError(
            "ClickHouse refused: Code: 159. DB::Exception: Timeout exceeded: elapsed 1000.04 ms, "
            "maximum: 1000.000 ms. (TIMEOUT_EXCEEDED)"
        ),
        limits,
    )
    assert isinstance(timeout, QueryTimeout)
    assert "longer than 1 s" in str(timeout)
    assert "LINEPULSE_QUERY_TIMEOUT_S" in str(timeout)
    readonly = explained(
        StoreError(
            "ClickHouse refused: Code: 164. DB::Exception: default: Cannot execute\nquery "
            "in readonly mode. (READONLY)"
        ),
        limits,
    )
    assert isinstance(readonly, QueryRefused)
    assert "\n" not in str(readonly)
    unknown = explained(
        StoreError(
            "ClickHouse refused: Code: 60. DB::Exception: Unknown table expression identifier "
            f"'x.nope'. In scope {with_limits('SELECT 1 FROM x.nope', limits)}. (UNKNOWN_TABLE)"
        ),
        limits,
    )
    assert str(unknown) == (
        "ClickHouse refused: Code: 60. DB::Exception: Unknown table expression identifier "
        "'x.nope'. In scope SELECT 1 FROM x.nope. (UNKNOWN_TABLE)"
    )
    unreachable = StoreError("ClickHouse is unreachable", retriable=True)
    assert explained(unreachable, limits) is unreachable


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("10.1.2.3", False),
        ("worker.plant.local", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_a_worker_beyond_loopback_needs_a_token():
    with pytest.raises(QueryTokenRequired, match="LINEPULSE_QUERY_TOKEN"):
        query_token(WorkerSettings(web_host="0.0.0.0"))
    with pytest.raises(QueryTokenRequired):
        query_token(WorkerSettings(web_host="0.0.0.0", query_token=SecretStr("  ")))
    assert query_token(WorkerSettings(web_host="0.0.0.0", query_token=SecretStr("s3cret\n"))) == (
        "s3cret"
    )
    assert query_token(WorkerSettings(web_host="127.0.0.1")) is None


def test_only_the_bearer_token_is_authorized():
    assert authorized("Bearer s3cret", "s3cret")
    assert authorized("bearer  s3cret ", "s3cret")
    assert not authorized("", "s3cret")
    assert not authorized("Bearer wrong", "s3cret")
    assert not authorized("Basic s3cret", "s3cret")
    assert authorized("", None)

"""The embedded ClickHouse engine (chdb) behind a small part of ClickHouse's HTTP interface.

No ClickHouse server can be installed on the test machines, so the tests reach the real
ClickHouse engine through this front to exercise the server code path (clickhouse-connect, its
errors and retries) and to take "the server" away and bring it back. It serves queries in the
URL or the body, inserts with their data in the body, the `database` and `default_format`
parameters and lz4/zstd/gzip request bodies; errors come back as ClickHouse sends them.

    python -m tests.chdb_http --port 8123 --path /tmp/ch
"""

from __future__ import annotations

import argparse
import gzip
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from chdb import session

_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\b", re.IGNORECASE)


def _decompress(body: bytes, encoding: str) -> bytes:
    import cramjam

    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "lz4":
        return bytes(cramjam.lz4.decompress(body))
    if encoding == "zstd":
        return bytes(cramjam.zstd.decompress(body))
    return body


class Engine:
    def __init__(self, path: str) -> None:
        self.session = session.Session(path)
        self.lock = threading.Lock()

    def run(self, sql: str, fmt: str) -> bytes:
        with self.lock:
            result = self.session.query(sql, fmt)
        return bytes(result.bytes()) if result is not None else b""


def handler_for(engine: Engine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self._serve(b"")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            self._serve(_decompress(body, self.headers.get("Content-Encoding", "")))

        def _serve(self, body: bytes) -> None:
            url = urlparse(self.path)
            if url.path == "/ping":
                self._reply(200, b"Ok.\n")
                return
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            sql = params.get("query", "")
            if sql and body:
                sql = sql + "\n" + body.decode()  # an insert: the data follows the query
            elif body:
                sql = body.decode()
            fmt = params.get("default_format", "TabSeparated")
            if not _INSERT.match(sql):
                found = _FORMAT.search(sql)
                if found:
                    fmt, sql = found.group(1), sql[: found.start()]
            try:
                output = engine.run(sql, fmt)
            except Exception as exc:  # noqa: BLE001 - the client reads ClickHouse's error text
                code = re.search(r"Code: (\d+)", str(exc))
                self._reply(500, f"{exc}\n".encode(), code.group(1) if code else "1000")
                return
            self._reply(200, output)

        def _reply(self, status: int, payload: bytes, error_code: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-ClickHouse-Server-Display-Name", "chdb")
            self.send_header("X-ClickHouse-Timezone", "UTC")
            if error_code:
                self.send_header("X-ClickHouse-Exception-Code", error_code)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Engine(args.path)))
    print("serving", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

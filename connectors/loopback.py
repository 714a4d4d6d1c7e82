"""Loopback ports for the simulated devices, the local brokers and the tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on loopback that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP server could listen on `host`:`port` now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port_block(count: int) -> int:
    """The first of `count` consecutive TCP ports on loopback that are all free now."""
    for _ in range(100):
        first = free_port()
        if first + count <= 65536 and all(port_is_free(first + i) for i in range(count)):
            return first
    msg = f"no {count} consecutive free ports found on loopback"
    raise OSError(msg)

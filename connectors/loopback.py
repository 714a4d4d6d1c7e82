"""Loopback ports for the simulated devices, the local brokers and the tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on loopback that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

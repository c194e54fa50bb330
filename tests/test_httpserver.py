"""tests/httpserver.py's helpers: closed_port keeps its port from other sockets for as long as a test needs it."""

from __future__ import annotations

import errno
import socket
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from httpserver import closed_port


def test_a_closed_port_refuses_connections_and_stays_ours():
    port = closed_port()
    for _ in range(2):  # still refused after the first attempt: nothing took it meanwhile
        with socket.socket() as client:
            assert client.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    # another socket cannot take it (bound then released, any process could)
    with socket.socket() as other, pytest.raises(OSError) as refused:
        other.bind(("127.0.0.1", port))
    assert refused.value.errno == errno.EADDRINUSE
    assert closed_port() != port


def test_a_listener_given_a_closed_port_can_take_it():
    """The plan runner's control endpoint is served on one (http.server sets SO_REUSEADDR, as closed_port)."""
    port = closed_port()
    server = HTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    try:
        with socket.socket() as client:
            assert client.connect_ex(("127.0.0.1", port)) == 0
    finally:
        server.server_close()
    with socket.socket() as client:
        assert client.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED

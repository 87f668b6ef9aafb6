"""Relaying bytes between two sockets for fault-injection proxies in tests (a cut endpoint, a 403)."""

from __future__ import annotations

import socket
from collections.abc import Callable


def relay(src: socket.socket, dst: socket.socket, stop: Callable[[bytes], bool] | None = None) -> None:
    """Copy ``src`` to ``dst`` until either side closes or ``stop(chunk)`` is true (that chunk is not
    forwarded); then shut both sockets down."""
    try:
        while data := src.recv(65536):
            if stop is not None and stop(data):
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

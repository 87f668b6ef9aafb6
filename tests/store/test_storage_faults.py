"""An object-store endpoint that goes away in the middle of a write (a TCP proxy the test cuts)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from _tcp_proxy import relay

from jupyter_cvops._store import WorkspaceError
from jupyter_cvops._store.store import Store

#: Small timeouts and retries, so a dead endpoint fails the write in seconds (LanceDB/object_store
#: options; the lease's boto3 client reads ``timeout`` / ``connect_timeout`` too).
FAST = {"timeout": "3s", "connect_timeout": "1s", "client_max_retries": "1", "client_retry_timeout": "2s"}


class CutProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; once ``trigger`` bytes pass towards the
    server it drops every connection and stops listening (the endpoint is gone)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.trigger: bytes | None = None
        self.cut_at: float | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._socks: list[socket.socket] = []
        self._mutex = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self.cut_at is None:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut_at is not None:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            with self._mutex:
                self._socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        tail = [b""]  # the end of the previous chunk: a trigger may straddle two

        def stop(data: bytes) -> bool:
            if self.cut_at is not None:
                return True
            if inspect and self.trigger is not None and self.trigger in tail[0] + data:
                self.cut()
                return True
            tail[0] = data[-512:]
            return False

        relay(src, dst, stop)

    def cut(self) -> None:
        """Drop every connection and stop listening."""
        if self.cut_at is None:
            self.cut_at = time.monotonic()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread
        except OSError:
            pass
        self._listener.close()
        with self._mutex:
            for s in self._socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass


def test_endpoint_gone_mid_write_keeps_last_good_version(s3_bucket, monkeypatch) -> None:
    monkeypatch.setenv("CVOPS_LEASE_EXPIRY", "2")
    host, port = s3_bucket.server.endpoint.removeprefix("http://").split(":")
    proxy = CutProxy((host, int(port)))
    uri = s3_bucket.uri("ws")
    st = Store.create(uri, storage_options={**s3_bucket.storage_options, "endpoint": proxy.endpoint, **FAST})
    st.append("events", [{"event_id": f"good-{k}", "op": "good"} for k in range(3)])
    good = st.version("events")
    # cut when the next write uploads the events table's new data file: before its commit
    proxy.trigger = b"PUT /" + s3_bucket.name.encode() + b"/ws/events.lance/data/"
    t0 = time.monotonic()
    with pytest.raises(WorkspaceError) as info:
        st.append("events", [{"event_id": f"lost-{k}", "op": "lost", "details": "x" * 1000} for k in range(200)])
    failed_after = time.monotonic() - t0
    msg = str(info.value)
    assert proxy.cut_at is not None, "the proxy never saw the write"
    assert "\n" not in msg and "writing 'events' failed" in msg and f"v{good}" in msg, msg
    assert "cannot reach the object store" in msg, msg
    assert failed_after < 30, failed_after
    # the same workspace through the direct endpoint: at its last good version, nothing of the cut write
    direct = Store.open(uri, storage_options=s3_bucket.storage_options, readonly=True)
    assert direct.version("events") == good
    assert sorted(direct.read("events")["op"].unique().to_list()) == ["good"]
    # and writable again once the cut writer's lease has expired
    again = Store.open(uri, storage_options=s3_bucket.storage_options)
    again.append("events", [{"event_id": "after", "op": "after"}])
    assert again.count("events", "op = 'lost'") == 0 and again.count("events", "op = 'after'") == 1


def test_endpoint_gone_before_open(s3_bucket) -> None:
    proxy = CutProxy(("127.0.0.1", 9))
    proxy.cut()
    with pytest.raises(WorkspaceError, match="cannot reach the object store") as info:
        Store.open(s3_bucket.uri("ws"), storage_options={**s3_bucket.storage_options, "endpoint": proxy.endpoint,
                                                         **FAST})
    assert "\n" not in str(info.value)

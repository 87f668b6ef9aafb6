"""``require_files`` tells an object the credentials may not read (a real HTTP 403 from the endpoint) from
one that is gone: the error and the frame name each reason."""

from __future__ import annotations

import socket
import threading

import polars as pl
import pytest
from _tcp_proxy import relay

from jupyter_cvops.datasets._verify import MissingImagesError, require_files
from jupyter_cvops.images import _objects

_DENIED = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 0\r\n"
           b"Connection: close\r\n\r\n")


class DenyProxy:
    """Forwards 127.0.0.1:``port`` to ``target``, but answers 403 Forbidden (as S3 does for AccessDenied)
    to any request whose request line names one of ``denied`` (``/bucket/key`` paths), then closes."""

    def __init__(self, target: tuple[str, int], denied: set[str]) -> None:
        self.target = target
        self.denied = {d.encode() for d in denied}
        self.refused = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        def stop(data: bytes) -> bool:
            line = data.split(b"\r\n", 1)[0].split(b" ")
            if requests and len(line) == 3 and line[1].split(b"?", 1)[0] in self.denied:
                self.refused += 1
                src.sendall(_DENIED)  # HTTP/1.1 without pipelining: the previous answer is complete
                return True
            return False

        relay(src, dst, stop)


def test_a_denied_object_is_not_readable_rather_than_missing(s3_bucket) -> None:
    client = s3_bucket.client()
    for name in ("a.png", "b.png", "c.png"):
        client.put_object(Bucket=s3_bucket.name, Key=f"line-1/{name}", Body=b"not really a png")
    host, port = s3_bucket.server.endpoint.removeprefix("http://").split(":")
    proxy = DenyProxy((host, int(port)), {f"/{s3_bucket.name}/line-1/b.png"})
    items = pl.DataFrame({"image_id": [c * 32 for c in "abcd"],
                          "path": [s3_bucket.uri(f"line-1/{n}") for n in ("a.png", "b.png", "c.png", "gone.png")]})
    _objects.use_storage_options({**s3_bucket.storage_options, "endpoint": proxy.endpoint}, s3_bucket.name)
    try:
        with pytest.raises(MissingImagesError, match=r"2 of its 4 images cannot be read \(1 missing, 1 not readable\)"
                                                     r": image bbbbbbbbbbbb at s3://.*/line-1/b.png: not readable: "
                                                     r"access denied .*check the credentials") as err:
            require_files(items, "f" * 32)
        assert err.value.missing["image_id"].to_list() == ["b" * 32, "d" * 32]
        assert err.value.missing["reason"].to_list()[1] == "missing"
        assert err.value.missing["reason"].to_list()[0].startswith("not readable: access denied")
        assert proxy.refused >= 1
        # all there and readable: no error; and only gone objects keep the old wording
        require_files(items.head(1), "f" * 32)
        with pytest.raises(MissingImagesError, match="1 of its 2 images is missing: image dddd"):
            require_files(items[[0, 3]], "f" * 32)
    finally:
        _objects.use_storage_options(None, s3_bucket.name)
        proxy.close()

"""Benchmark: register + snapshot images that live in a bucket, beside the floor of reading them raw.

A local S3 API (moto's standalone server, in its own process, as a real endpoint would be)
holds ``--n`` (default 10,000; ``--quick``: 500) seeded tiny PNGs under one prefix. Side by
side, in one run, against the same server:

(a) floor: list the prefix (ListObjectsV2) and GET every object's body with the same number
    of threads (``--threads``, default the registration's 16) and the same boto3 settings,
    doing nothing with the bytes; best of a run before and a run after (b);
(b) ``ws.add_images("s3://bucket/imgs/")`` + ``ws.snapshot()`` in a fresh local workspace:
    the same list and GETs, plus hashing, probing, the stat cache and the LanceDB commits.
    Target: (b) <= 1.5x (a).
(c) the same prefix re-added, unchanged, from a new ``Workspace.open`` (a new session): the
    cache answers from (URI, size, ETag); object bodies read (target 0, counted on the
    package's client) and the time, beside the listing alone.

Run: ``python bench/bench_s3.py`` (``--quick`` for 500 images).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 1.5
KEY, SECRET, REGION = "bench-key", "bench-secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process; returns (process, endpoint) once it answers."""
    port = free_port()
    code = ("from moto.server import ThreadedMotoServer; import time; "
            f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start(); "
            "time.sleep(10**7)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def make_pngs(n: int, size: int = 32, seed: int = 0) -> list[bytes]:
    """``n`` distinct seeded ``size x size`` RGB PNGs (noise + a moving bar)."""
    import cv2

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        img = base.copy()
        img[i % size, :, :] = (i * 7) % 255
        img[:, (i // size) % size, 1] = (i * 13) % 255
        img[0, 0] = (i % 256, (i // 256) % 256, (i // 65536) % 256)
        ok, buf = cv2.imencode(".png", img)
        assert ok
        out.append(buf.tobytes())
    return out


def raw_client(endpoint: str, pool: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=pool, retries={"max_attempts": 4, "mode": "standard"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint, aws_access_key_id=KEY,
                                          aws_secret_access_key=SECRET, region_name=REGION, config=config)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def floor(s3: Any, bucket: str, prefix: str, threads: int) -> tuple[float, float, int]:
    """(list seconds, list + GET seconds, bytes read): the raw read of every object."""
    t0 = time.perf_counter()
    keys = list_keys(s3, bucket, prefix)
    t_list = time.perf_counter() - t0

    def get(key: str) -> int:
        return len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(threads) as pool:  # every thread busy until the last key
        total = sum(pool.map(get, keys))
    return t_list, time.perf_counter() - t0, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="500 images")
    ap.add_argument("--threads", type=int, default=None, help="parallel GETs (default: the registration's)")
    args = ap.parse_args()
    n = 500 if args.quick else args.n

    from jupyter_cvops.images import _bucket

    threads = args.threads or _bucket.DEFAULT_WORKERS
    proc, endpoint = start_server()
    work = Path(tempfile.mkdtemp(prefix="cvops-bench-s3-"))
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT": endpoint, "AWS_ENDPOINT_URL": endpoint,
           "AWS_ALLOW_HTTP": "true"}
    os.environ.update(env)
    try:
        import jupyter_cvops as cv
        from jupyter_cvops.images import _objects

        bucket, prefix = "cvops-bench", "imgs/"
        s3 = raw_client(endpoint, max(threads, 10) * 4)
        s3.create_bucket(Bucket=bucket)
        bodies = make_pngs(n)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=f"{prefix}{kv[0]:06d}.png", Body=kv[1]),
                          enumerate(bodies)))
        t_upload = time.perf_counter() - t0
        mean_kb = sum(map(len, bodies)) / n / 1024

        f1 = floor(s3, bucket, prefix, threads)
        if args.threads:
            _bucket.DEFAULT_WORKERS = threads
        ws = cv.Workspace.create(work / "ws")
        t0 = time.perf_counter()
        rep = ws.add_images(f"s3://{bucket}/{prefix}", progress=False)
        t_add = time.perf_counter() - t0
        ws.snapshot("bench")
        t_ours = time.perf_counter() - t0
        assert len(rep.added) == n and not rep.problems, rep
        f2 = floor(s3, bucket, prefix, threads)
        t_list, t_floor, nbytes = min(f1, f2, key=lambda f: f[1])

        gets: list[str] = []
        client = _objects.s3_client(bucket)
        client.meta.events.register("provide-client-params.s3.GetObject",
                                    lambda params, **_: gets.append(params["Key"]))
        again = cv.Workspace.open(work / "ws")
        t0 = time.perf_counter()
        rep2 = again.add_images(f"s3://{bucket}/{prefix}", progress=False)
        t_again = time.perf_counter() - t0
        assert len(rep2.unchanged) == n, rep2
        t0 = time.perf_counter()
        list_keys(s3, bucket, prefix)
        t_list2 = time.perf_counter() - t0

        ratio = t_ours / t_floor
        print(f"images in a bucket: {n} seeded 32x32 PNGs ({mean_kb:.1f} kB mean) on a local moto S3 server "
              f"(own process), {threads} threads, {os.cpu_count()} CPUs; upload (setup) {t_upload:.1f} s")
        print(f"  {'':58s} {'seconds':>8s} {'images/s':>9s} {'vs floor':>9s}")
        print(f"  {'(a) floor: list + raw parallel GETs (best of 2)':58s} {t_floor:8.2f} {n / t_floor:9.0f} "
              f"{1.0:9.3f}   (list alone {t_list:.2f} s, {nbytes / 1e6:.1f} MB)")
        ok = "PASS" if ratio <= TARGET else "FAIL"
        print(f"  {'(b) ws.add_images(s3://...) + ws.snapshot()':58s} {t_ours:8.2f} {n / t_ours:9.0f} "
              f"{ratio:9.3f}   target <= {TARGET}: {ok} (add_images {t_add:.2f} s)")
        ok = "PASS" if not gets and rep2.n_hashed == 0 else "FAIL"
        print(f"  {'(c) unchanged re-add, new session (ETag cache)':58s} {t_again:8.2f} {n / t_again:9.0f} "
              f"{t_again / t_floor:9.3f}   object bodies read: {len(gets)} (target 0): {ok}; "
              f"listing alone {t_list2:.2f} s")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

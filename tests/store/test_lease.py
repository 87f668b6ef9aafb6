"""The cross-machine write lease of an s3:// workspace, against a real S3 API (moto's server).

Two "machines" are two processes with different HOME folders (so different local lock and
cache files): only the lease in the bucket keeps their multi-table operations apart.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_cvops._store import LockTimeout, WorkspaceError
from jupyter_cvops._store.lease import Lease, s3_client
from jupyter_cvops._store.store import Store

REPO = Path(__file__).resolve().parents[2]

# One multi-table operation: read the step count, then commit a `meta` row and an `events`
# row numbered by it. Interleaved writers would reuse a number; a half-done operation would
# leave a `meta` row without its event.
_WRITER = r"""
import sys, time
from pathlib import Path
from jupyter_cvops._store.store import Store
uri, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
st = Store.open(uri)
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.01)
for _ in range(n):
    with st.lock:
        k = st.count("events", "op = 'step'")
        st.append("meta", [{"key": f"seq-{k}", "value": name}])
        time.sleep(0.2)  # widen the window another writer would need
        st.append("events", [{"event_id": f"{name}-{k}", "op": "step", "details": str(k)}])
print("done", name)
"""

_HOLDER = r"""
import sys, time
from jupyter_cvops._store.store import Store
st = Store.open(sys.argv[1])
st.lock.acquire()
st.append("meta", [{"key": "holder", "value": "killed"}])
print("HELD", flush=True)
time.sleep(600)
"""


def _env(s3_bucket, home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **s3_bucket.server.env(), "HOME": str(home), "PYTHONPATH": str(REPO), **extra}
    env.pop("CVOPS_LEASE_EXPIRY", None)
    env.update(extra)
    return env


def _lease_body(s3_bucket, prefix: str = "ws") -> dict | None:
    try:
        got = s3_bucket.client().get_object(Bucket=s3_bucket.name, Key=f"{prefix}/.cvops/write.lease")
    except Exception:  # noqa: BLE001 - absent
        return None
    return json.loads(got["Body"].read())


def test_two_machines_interleave_nothing(s3_bucket, tmp_path: Path) -> None:
    uri = s3_bucket.uri("ws")
    Store.create(uri)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, uri, name, "4", str(go)],
                         env=_env(s3_bucket, tmp_path / f"home-{name}"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for name in ("m1", "m2")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in ("m1", "m2")) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # both opened: start together
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    st = Store.open(uri, readonly=True)
    seq = st.read("meta", where="key LIKE 'seq-%'")
    steps = st.read("events", where="op = 'step'")
    assert sorted(seq["key"].to_list()) == sorted(f"seq-{k}" for k in range(8))  # no number used twice
    assert sorted(steps["details"].to_list(), key=int) == [str(k) for k in range(8)]
    assert sorted(seq["value"].to_list()) == ["m1"] * 4 + ["m2"] * 4  # nothing lost
    assert _lease_body(s3_bucket) is None  # released


def test_killed_holder_lease_expires(s3_bucket, tmp_path: Path, monkeypatch) -> None:
    uri = s3_bucket.uri("ws")
    Store.create(uri)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(s3_bucket, tmp_path / "home-holder", CVOPS_LEASE_EXPIRY="1.5"), text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "HELD"
        body = _lease_body(s3_bucket)
        assert body is not None and body["holder"]["pid"] == proc.pid and body["expiry_s"] == 1.5
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    st = Store.open(uri)
    t0 = time.monotonic()
    st.append("meta", [{"key": "after", "value": "me"}])
    waited = time.monotonic() - t0
    assert waited < 10, waited  # took over once the dead holder's lease ran out (1.5 s)
    keys = st.read("meta")["key"].to_list()
    assert "holder" in keys and "after" in keys
    assert _lease_body(s3_bucket) is None


def test_held_lease_clear_error_and_renewal(s3_bucket) -> None:
    uri = s3_bucket.uri("ws")
    st = Store.create(uri)
    other = Lease(uri, s3_bucket.storage_options, expiry=2.0)  # renewed every ~0.7 s: a busy CI box may stall
    with other:
        time.sleep(2.5)  # longer than its expiry: the heartbeat has renewed it
        st.lock.timeout = 0.5
        with pytest.raises(LockTimeout) as info:
            st.append("meta", [{"key": "blocked", "value": "x"}])
        msg = str(info.value)
        assert f"pid {os.getpid()}" in msg and "lease expires at" in msg and uri in msg
        assert not st.lock.held
    st.lock.timeout = 5
    st.append("meta", [{"key": "later", "value": "x"}])  # the failed attempt left no lock behind
    assert st.count("meta", "key = 'blocked'") == 0 and st.count("meta", "key = 'later'") == 1


def test_lost_lease_stops_before_next_commit(s3_bucket) -> None:
    uri = s3_bucket.uri("ws")
    st = Store.create(uri)
    st.lock.lease.expiry = 0.6  # type: ignore[union-attr]
    with pytest.raises(WorkspaceError, match="lost the write lease"):
        with st.lock:
            st.append("meta", [{"key": "first", "value": "x"}])
            # another machine overwrites the lease (as if ours had expired): our renewal fails
            s3_bucket.put("ws/.cvops/write.lease", b'{"holder": {"host": "other"}}')
            deadline = time.monotonic() + 10  # the next heartbeat (or, were it late, the expiry) ends the hold
            while st.lock.lease.held and time.monotonic() < deadline:  # type: ignore[union-attr]
                time.sleep(0.05)
            st.append("meta", [{"key": "second", "value": "x"}])
    assert st.count("meta", "key = 'first'") == 1 and st.count("meta", "key = 'second'") == 0


def test_missing_bucket_and_wrong_credentials(s3_bucket, monkeypatch) -> None:
    for call in (Store.create, Store.open):
        with pytest.raises(WorkspaceError, match=r"^bucket 'no-such-bucket-cvops' does not exist") as info:
            call("s3://no-such-bucket-cvops/ws")
        assert "\n" not in str(info.value)
    Store.create(s3_bucket.uri("ws"))
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # the server checks keys from now on
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    wrong = {**s3_bucket.storage_options, "aws_access_key_id": "AKIANOTAKEY000000000", "aws_secret_access_key": "x"}
    for call, key in ((Store.create, "ws2"), (Store.open, "ws")):
        with pytest.raises(WorkspaceError, match="refused the credentials") as info:
            call(s3_bucket.uri(key), storage_options=wrong)
        assert "InvalidAccessKeyId" in str(info.value) and "\n" not in str(info.value)


def test_boto3_missing_names_the_extra(s3_bucket, monkeypatch) -> None:
    for name in ("boto3", "botocore", "botocore.config", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(WorkspaceError, match=r"pip install jupyter-cvops\[s3\]"):
        s3_client({"endpoint": "http://127.0.0.1:1"})
    with pytest.raises(WorkspaceError, match=r"s3:// workspace .*pip install jupyter-cvops\[s3\]"):
        Store.create(s3_bucket.uri("ws"), storage_options={**s3_bucket.storage_options, "connect_timeout": "7s"})


def test_a_remote_scheme_without_a_lease_warns_once_and_s3_local_do_not(
        s3_bucket, tmp_path: Path, monkeypatch) -> None:
    import warnings

    from jupyter_cvops._store import NoLeaseWarning
    from jupyter_cvops._store import lease as lease_mod

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where a remote workspace keeps its local lock file
    monkeypatch.setattr(lease_mod, "_WARNED", set())
    with pytest.warns(NoLeaseWarning, match="one machine at a time"):
        st = Store("gs://team-bucket/ws", _db=None)  # the lock is made before anything is reached
    assert st.lock.lease is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Store("gs://team-bucket/ws", _db=None)  # once per workspace and process
        Store.create(str(tmp_path / "local-ws"))
        Store.create(s3_bucket.uri("leased-ws"), storage_options=s3_bucket.storage_options)
    assert Store("gs://team-bucket/ws", _db=None, readonly=True).readonly  # reading needs no lease

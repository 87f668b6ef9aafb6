"""A small monitored workspace for the CLI's model and monitoring commands, built once per session through
the real verbs: the shadow tests' coloured images and tiny seeded models (``clf``: production answers the
dominant channel, candidate flips ``b`` to ``c``), labelled training images in a dataset version, served
predictions on three days (the third much brighter: drift) and a second line logged with another
preprocessing (skew); plus a local webhook that records what it is sent."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shadow"))
from shadow_world import CLASSES, make_images, make_world  # noqa: E402

from jupyter_cvops import Predictor, Preprocess, Workspace  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_inprocess import run_cli  # noqa: E402

DAYS = [datetime(2026, 11, d, 9, tzinfo=timezone.utc) for d in (2, 3, 4)]


@dataclass
class CliWorld:
    root: Path
    ws: Workspace
    versions: dict[str, str]
    served: pl.DataFrame
    train_ids: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return self.ws.uri

    def copy(self, where: Path) -> str:
        """A copy of the workspace (for commands that move aliases)."""
        shutil.copytree(self.root / "ws", where / "ws")
        return str(where / "ws")


def _brighter(paths: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    out = []
    for p in paths:
        px = np.asarray(Image.open(p)).astype(np.int16) + 90
        q = folder / p.name
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(q)
        out.append(q)
    return out


def build_cli_world(root: Path) -> CliWorld:
    w = make_world(root, n=30)
    ws: Workspace = w["ws"]
    train = make_images(root / "train", n=30, seed=11)
    ws.add_images([str(p) for p in train], source="train", captured_at=datetime(2026, 10, 1, tzinfo=timezone.utc),
                  progress=False)
    ws.taxonomy.ensure(CLASSES, author="ana", message="colours")
    imgs = ws.images().filter(pl.col("source") == "train").sort("path")
    rows = []
    for i, iid in enumerate(imgs["image_id"]):
        truth = CLASSES[i % 3]
        rows.append({"image_id": iid, "annotator": "ana", "class_name": truth, "kind": "image"})
        rows.append({"image_id": iid, "annotator": "eve", "kind": "image",
                     "class_name": CLASSES[(i + 1) % 3] if i % 7 == 0 else truth})
    ws.add_annotations(pl.DataFrame(rows))
    ws.snapshot(name="train")
    served = [str(p) for p in w["paths"]]
    bright = [str(p) for p in _brighter(make_images(root / "day3", n=15, seed=12), root / "bright")]
    frames = []
    with Predictor(ws, "clf@production", source="line-1") as pred:
        frames.append(pred(served[:15], time=DAYS[0]))
        frames.append(pred(served[15:], time=DAYS[1]))
        frames.append(pred(bright, time=DAYS[2]))
    other = Preprocess(16, crop=16, mean=(0.45, 0.45, 0.45), std=(0.25, 0.25, 0.25))
    line2 = pl.DataFrame({"path": served[:6], "predicted_class": ["a"] * 6, "score": [0.9] * 6,
                          "time": [DAYS[1]] * 6})
    ws.log_predictions(line2, model="clf@production", preprocess=other, source="line-2")
    versions = {k: w[k].version for k in ("prod", "same", "flip", "other_pre")}
    return CliWorld(root, ws, versions, pl.concat(frames), imgs["image_id"].to_list())


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> CliWorld:
    return build_cli_world(tmp_path_factory.mktemp("cliworld"))


@dataclass
class Cvops:
    """``cvops`` run in-process: exit code, stdout, stderr (JSON parsed on demand)."""

    def __call__(self, *args: str) -> tuple[int, str, str]:
        p = run_cli(*args)
        return p.returncode, p.stdout, p.stderr

    def json(self, *args: str, code: int = 0) -> Any:
        got, out, err = self(*args, "--json")
        assert got == code, err
        return json.loads(out)


@pytest.fixture
def cvops() -> Cvops:
    return Cvops()


class Hook:
    """A webhook on 127.0.0.1 (a real ``http.server`` in a thread) that records each JSON body."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                n = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(n)))
                hook.headers.append(dict(self.headers))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()

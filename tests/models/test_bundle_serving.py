"""The README's serving example without the web framework: a bundle loaded in another process,
predictions logged back to the workspace with the bundle's version and preprocessing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from jupyter_cvops import Preprocess, Workspace

from tiny_nets import tiny


def test_a_bundle_served_elsewhere_logs_back(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    pre = Preprocess(16, crop=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    mv = ws.register_model("clf", tiny(0), preprocess=pre, classes=["a", "b", "c"])
    ws.set_alias("clf", "production", mv.version)
    mv.export_bundle(tmp_path / "bundle")
    img = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, size=(20, 20, 3), dtype=np.uint8)).save(img)
    script = textwrap.dedent(f"""
        import time, numpy as np, polars as pl, torch
        import jupyter_cvops as cv

        bundle = cv.load_bundle({str(tmp_path / "bundle")!r})
        model, pre, classes = bundle.load(), bundle.preprocess, bundle.classes
        ws = cv.Workspace.open({str(tmp_path / "ws")!r})
        with ws.prediction_log("clf", pre, version=bundle.version, alias="production", source="api") as log:
            data = open({str(img)!r}, "rb").read()
            t0 = time.perf_counter()
            with torch.inference_mode():
                scores = torch.softmax(model(torch.from_numpy(pre.batch([data]))), dim=1)[0].numpy()
            k = int(np.argmax(scores))
            log.log_frame(pl.DataFrame({{"bytes": [data], "predicted_class": [classes[k]],
                                        "score": [float(scores[k])], "scores": [scores.tolist()],
                                        "latency_ms": [(time.perf_counter() - t0) * 1e3]}}))
        print(classes[k])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    logged = ws.predictions()
    assert logged.height == 1 and logged["model_version"][0] == mv.version
    assert logged["preprocess_fingerprint"][0] == pre.fingerprint and logged["source"][0] == "api"
    with torch.no_grad():
        expected = torch.softmax(tiny(0)(torch.from_numpy(pre.batch([str(img)]))), dim=1)[0]
    assert logged["predicted_class"][0] == ["a", "b", "c"][int(expected.argmax())] == out.stdout.strip()

"""The demo's defect classifier: a tiny fully convolutional torch model trained in seconds on CPU (public:
the example notebook 04 trains it in its own run; importing this module imports torch).

The network scores every position of the preprocessed image for each class; an image's
score for a defect class is its strongest evidence anywhere (the spatial maximum of that
class's logit over the "ok" logit), so a small scratch on a large frame is not averaged away.
It is trained on crops of the preprocessed training images: around the defect box the
annotators drew (the majority's class) and anywhere on parts they called ok. Crops teach
*where* the defect is with a few hundred images; the same weights then run on whole frames.

Everything is seeded (model init through ``run.seed``, crop positions and batch order through
their own generators), so the same workspace trains the same weights, to the bit, on one
machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import torch
from torch import nn

from ._render import CLASSES

if TYPE_CHECKING:
    from ..datasets.versions import DatasetVersion
    from ..preprocess import Preprocess

#: Normalisation of the demo model's input (per RGB channel, after scaling to 0-1).
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class TrainConfig:
    """How the demo model trains (stored as the run's params).

    Parameters
    ----------
    side
        The model's input: images are resized so that their shorter side is ``side`` pixels.
    crop
        Side of the training crops (pixels of the preprocessed image).
    epochs, lr, batch_size
        Adam with a one-cycle schedule over ``epochs`` passes of crops.
    width
        Channels of the first convolution (the network has about ``45 * width**2`` weights).
    negatives
        Random crops taken from each image the annotators called ok, per epoch.
    seed
        Seeds torch (model init), the crop positions and the batch order.
    threads
        Torch threads while training (restored after). Parallel reductions split their work by
        thread count, so a fixed count trains the same weights on machines with more or fewer cores.

    Examples
    --------
    >>> TrainConfig.for_image_size(160).side, TrainConfig.for_image_size(96).side
    (64, 38)
    """

    side: int = 64
    crop: int = 24
    epochs: int = 12
    lr: float = 3e-3
    batch_size: int = 64
    width: int = 12
    negatives: int = 3
    seed: int = 0
    threads: int = 2

    @classmethod
    def for_image_size(cls, image_size: int, **overrides: Any) -> TrainConfig:
        """The default config for demo frames of ``image_size`` pixels: a 2.5x downscale (at most 64 px).

        A non-integer downscale is where antialiasing matters, so the planted serving skew
        (a resize without it) changes what the model sees.

        Examples
        --------
        >>> TrainConfig.for_image_size(64).crop
        12
        """
        side = int(min(64, max(32, round(image_size / 2.5))))
        crop = max(12, round(side * 3 / 8))
        return cls(**({"side": side, "crop": crop} | overrides))

    def params(self) -> dict[str, Any]:
        """JSON-able parameters (for ``ws.run(..., params=)``).

        Examples
        --------
        >>> TrainConfig().params()["epochs"]
        12
        """
        return {"model": "DefectNet", **asdict(self)}


def training_preprocess(side: int) -> Preprocess:
    """The model's preprocessing: PIL bilinear resize (antialiased) to ``side``, RGB, 0-1, normalised.

    Examples
    --------
    >>> training_preprocess(64).to_spec()["library"]
    'pil'
    """
    from ..preprocess import Preprocess

    return Preprocess(side, resize="bilinear", library="pil", mean=MEAN, std=STD, name="defect-clf")


def skewed_preprocess(side: int) -> Preprocess:
    """The planted serving skew: the same spec, but OpenCV's bilinear resize, which does not antialias.

    Examples
    --------
    >>> pre = skewed_preprocess(64)
    >>> pre.library, pre.antialias, pre.fingerprint != training_preprocess(64).fingerprint
    ('opencv', False, True)
    """
    from ..preprocess import Preprocess

    return Preprocess(side, resize="bilinear", library="opencv", mean=MEAN, std=STD, name="line-2 serving")


class DefectNet(nn.Module):
    """Four 3x3 convolutions (two max-pools) and a 1x1 head; image logits from per-position evidence.

    ``forward`` returns ``(N, 4)`` logits in :data:`CLASSES` order: 0 for "ok", and for each
    defect class the spatial maximum of its logit minus the "ok" logit.

    Examples
    --------
    >>> net = DefectNet(width=4).eval()
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 4])
    """

    def __init__(self, width: int = 12, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        w = width

        def block(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]

        self.features = nn.Sequential(*block(3, w), *block(w, w), nn.MaxPool2d(2), *block(w, 2 * w),
                                      nn.MaxPool2d(2), *block(2 * w, 2 * w))
        self.head = nn.Conv2d(2 * w, n_classes, 1)

    def evidence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-position logits, ``(N, 4, H/4, W/4)``."""
        out: torch.Tensor = self.head(self.features(x))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.evidence(x)
        defects = (m[:, 1:] - m[:, :1]).amax(dim=(2, 3))
        return torch.cat([torch.zeros_like(defects[:, :1]), defects], dim=1)


@dataclass
class TrainingData:
    """The preprocessed images of a dataset version with their majority class and defect box centre.

    Attributes
    ----------
    frame
        ``image_id, path, split, truth, cx, cy`` (box centre in preprocessed pixels; null for ok).
    x
        ``(N, 3, side, side)`` float32, the output of ``pre.batch`` over ``frame["path"]``.
    y
        ``(N,)`` class indices in :data:`CLASSES` order.
    """

    frame: pl.DataFrame
    x: torch.Tensor
    y: torch.Tensor

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of one split."""
        mask = torch.from_numpy((self.frame["split"] == name).to_numpy())
        return self.x[mask], self.y[mask]


def training_data(version: DatasetVersion, pre: Preprocess) -> TrainingData:
    """Label each image of ``version`` with its annotators' majority (``ws.evaluate``'s ground truth),
    average the boxes of the annotators who gave that class, and preprocess every image with ``pre``.

    Images whose annotators tie are left out (as ``ws.evaluate`` leaves them out).

    Examples
    --------
    >>> data = training_data(ws.version("demo-train"), training_preprocess(64))   # doctest: +SKIP
    >>> data.x.shape[1:]                                                           # doctest: +SKIP
    torch.Size([3, 64, 64])
    """
    from ..models.evaluate import ground_truth

    labels = version.labels()
    truth = ground_truth(labels).filter(pl.col("truth").is_not_null()).select("image_id", "truth")
    boxes = (labels.filter(pl.col("kind") == "box").join(truth, on="image_id")
             .filter(pl.col("class_name") == pl.col("truth"))
             .group_by("image_id").agg(cx=(pl.col("x0") + pl.col("x1")).mean() / 2,
                                       cy=(pl.col("y0") + pl.col("y1")).mean() / 2))
    items = version.items().select("image_id", "path", "split", "width", "height")
    frame = (items.join(truth, on="image_id").join(boxes, on="image_id", how="left").sort("image_id"))
    x = torch.from_numpy(pre.batch(frame["path"].to_list()))
    scale = pl.lit(float(x.shape[-1])) / pl.min_horizontal("width", "height")
    frame = frame.with_columns(pl.col("cx") * scale, pl.col("cy") * scale).drop("width", "height")
    y = torch.tensor([CLASSES.index(c) for c in frame["truth"].to_list()], dtype=torch.long)
    return TrainingData(frame, x, y)


def _crops(data: TrainingData, config: TrainConfig, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of crops from the training split: one around each defect box, ``negatives`` per ok image."""
    f = data.frame
    size = data.x.shape[-1]
    c = config.crop
    xs: list[torch.Tensor] = []
    ys: list[int] = []
    train = np.flatnonzero((f["split"] == "train").to_numpy())
    cx, cy = f["cx"].to_numpy(), f["cy"].to_numpy()
    y = data.y.numpy()
    for i in train:
        if y[i] == 0:
            for x0, y0 in rng.integers(0, size - c + 1, size=(config.negatives, 2)):
                xs.append(data.x[i, :, y0:y0 + c, x0:x0 + c])
                ys.append(0)
        elif not np.isnan(cx[i]):
            dx, dy = rng.integers(-3, 4, size=2)
            x0 = int(np.clip(round(cx[i] - c / 2) + dx, 0, size - c))
            y0 = int(np.clip(round(cy[i] - c / 2) + dy, 0, size - c))
            xs.append(data.x[i, :, y0:y0 + c, x0:x0 + c])
            ys.append(int(y[i]))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.long)


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of ``x`` whose arg-max class is ``y`` (eval mode, no gradients; NaN for no images).

    Examples
    --------
    >>> accuracy(DefectNet(width=4), torch.zeros(0, 3, 32, 32), torch.zeros(0, dtype=torch.long))
    nan
    """
    if len(y) == 0:
        return float("nan")
    was = net.training
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[k:k + 256]).argmax(1) for k in range(0, len(x), 256)])
    net.train(was)
    return float((pred == y).float().mean())


def train_defect_net(data: TrainingData, config: TrainConfig, log: Any = None) -> tuple[DefectNet, list[dict[str, float]]]:
    """Train a :class:`DefectNet` on ``data``; call ``log(metrics, step)`` after every epoch.

    Returns the network (eval mode) and the per-epoch metrics: ``loss`` (crops, training
    split), ``val_accuracy`` (whole images), ``epoch_s``; the last epoch adds
    ``train_accuracy`` (whole images).

    Examples
    --------
    >>> net, history = train_defect_net(data, TrainConfig(epochs=2), log=run.log_metrics)   # doctest: +SKIP
    >>> history[-1]["val_accuracy"]                                              # doctest: +SKIP
    """
    before = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(data, config, log)
    finally:
        torch.set_num_threads(before)


def _train(data: TrainingData, config: TrainConfig, log: Any) -> tuple[DefectNet, list[dict[str, float]]]:
    rng = np.random.default_rng([config.seed, 7])
    order = torch.Generator().manual_seed(config.seed)
    net = DefectNet(config.width)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    x_train, y_train = data.split("train")
    x_val, y_val = data.split("val")
    history: list[dict[str, float]] = []
    sched: torch.optim.lr_scheduler.OneCycleLR | None = None
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        xc, yc = _crops(data, config, rng)
        if sched is None:
            per_epoch = -(-len(yc) // config.batch_size) + 1
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * per_epoch,
                                                        pct_start=0.2)
        net.train()
        perm = torch.randperm(len(yc), generator=order)
        flips = torch.rand(len(yc), generator=order) < 0.5
        total = 0.0
        for k in range(0, len(perm), config.batch_size):
            b = perm[k:k + config.batch_size]
            xb = torch.where(flips[b, None, None, None], xc[b].flip(3), xc[b])
            loss = nn.functional.cross_entropy(net(xb), yc[b])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        metrics = {"loss": total / max(1, len(yc)), "val_accuracy": accuracy(net, x_val, y_val)}
        if epoch == config.epochs - 1:
            metrics["train_accuracy"] = accuracy(net, x_train, y_train)
        metrics["epoch_s"] = time.perf_counter() - t0
        history.append(metrics)
        if log is not None:
            log({k: v for k, v in metrics.items() if not np.isnan(v)}, step=epoch)
    return net.eval(), history


def predict(net: Any, pre: Preprocess, paths: Sequence[str], classes: Sequence[str] = CLASSES,
            batch_size: int = 64) -> pl.DataFrame:
    """Run a loaded model on ``paths`` through ``pre`` (as a server outside the workspace would):
    ``path, predicted_class, score, scores, latency_ms`` (the batch's time per image).

    Examples
    --------
    >>> predict(net, skewed_preprocess(64), paths).columns   # doctest: +SKIP
    ['path', 'predicted_class', 'score', 'scores', 'latency_ms']
    """
    rows: list[dict[str, Any]] = []
    for k in range(0, len(paths), batch_size):
        part = list(paths[k:k + batch_size])
        t0 = time.perf_counter()
        with torch.inference_mode():
            probs = torch.softmax(net(torch.from_numpy(pre.batch(part))).float(), dim=1).numpy()
        ms = (time.perf_counter() - t0) * 1000 / len(part)
        for path, p in zip(part, probs):
            j = int(np.argmax(p))
            rows.append({"path": path, "predicted_class": classes[j], "score": float(p[j]),
                         "scores": [float(v) for v in p], "latency_ms": ms})
    schema: dict[str, Any] = {"path": pl.String, "predicted_class": pl.String, "score": pl.Float64,
              "scores": pl.List(pl.Float32), "latency_ms": pl.Float64}
    return pl.DataFrame(rows, schema=schema)

"""Procedural drawing of the demo inspection scene: a part on a conveyor belt, seen by a camera.

Everything here is pure: an image is a function of a seeded ``numpy`` generator and
the scene conditions. The physical order is kept: the scene (belt, part, defect)
is lit (optionally by the changed lighting), seen through the camera geometry
(optionally tilted), and only then gets optics blur and sensor noise.

The scene is drawn on a canvas with a margin around the field of view, so that a
tilted camera sees more belt rather than black corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Image-level classes of the demo, in taxonomy order.
CLASSES: tuple[str, ...] = ("ok", "scratch", "dent", "stain")
#: Part shapes the line produces.
SHAPES: tuple[str, ...] = ("plate", "washer", "hexnut", "bracket")

# Defect strength ranges (fraction of the full effect) by visibility.
_STRENGTH = {"faint": (0.20, 0.35), "clear": (0.70, 1.00)}
# Stain tints (BGR multipliers): machine oil (brown), coolant (green-grey), rust (orange).
_STAIN_TINTS = np.array(
    [[0.45, 0.62, 0.80], [0.70, 0.82, 0.62], [0.35, 0.55, 0.90]], dtype=np.float32
)


@dataclass(frozen=True)
class Lighting:
    """A lighting condition: ``out = gain * scene + offset * (1 + gradient * (x - 0.5))``.

    ``offset`` is ambient light added by a new lamp (gray levels), ``gain`` scales
    the scene's contrast and ``gradient`` makes the added light stronger on the
    side the lamp stands (x in [0, 1] across the frame).

    Examples
    --------
    >>> Lighting().is_identity
    True
    """

    gain: float = 1.0
    offset: float = 0.0
    gradient: float = 0.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def is_identity(self) -> bool:
        """True when the lighting leaves the scene unchanged."""
        return self.gain == 1.0 and self.offset == 0.0 and self.tint == (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Tilt:
    """A camera knocked off axis: in-plane rotation (degrees) plus a slight keystone.

    ``keystone`` is the perspective term (fraction of the frame by which the far
    edge shrinks). ``jitter_deg`` is per-frame vibration around the rotation.

    Examples
    --------
    >>> Tilt(rotation_deg=7.0).rotation_deg
    7.0
    """

    rotation_deg: float = 0.0
    keystone: float = 0.0
    jitter_deg: float = 0.0


@dataclass
class Assets:
    """Per-seed textures shared by every image (computed once).

    Examples
    --------
    >>> a = make_assets(np.random.default_rng(0), 64)
    >>> a.canvas, a.margin
    (90, 13)
    """

    size: int
    margin: int
    canvas: int
    belt: np.ndarray  # (canvas, 3 * canvas) float32 gray levels, periodic slats along x
    brushed: np.ndarray  # (2 * canvas, 2 * canvas) float32, zero-mean brushed-metal grain
    xs: np.ndarray  # (canvas, canvas) float32 x coordinate
    ys: np.ndarray  # (canvas, canvas) float32 y coordinate
    slat_period: float
    noise: np.ndarray  # (3 * size, 3 * size, 3) float32 standard normal, cropped per frame


def make_assets(rng: np.random.Generator, size: int) -> Assets:
    """Belt and metal textures for images of ``size`` x ``size`` pixels.

    Examples
    --------
    >>> a = make_assets(np.random.default_rng(0), 160)
    >>> a.belt.shape, a.belt.dtype
    ((224, 672), dtype('float32'))
    """
    s = size / 160.0
    margin = int(math.ceil(0.2 * size))
    canvas = size + 2 * margin
    h, w = canvas, 3 * canvas
    grain = rng.standard_normal((h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8 * s) * 9.0
    blotch = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 6 * s) * 40.0
    period = 16.0 * s
    x = np.arange(w, dtype=np.float32)
    # Distance (pixels) to the slat's groove and lip; widths have a floor so that small
    # images still resolve the slats (they give the scene its dominant edge orientation).
    d = np.mod(x, period)
    wg, wl = max(0.09 * period, 1.1), max(0.1 * period, 1.2)
    groove = np.exp(-(((d - 0.12 * period) / wg) ** 2))
    lip = np.exp(-(((d - 0.12 * period - 1.6 * wg) / wl) ** 2))
    profile = (-58.0 * groove + 26.0 * lip).astype(np.float32)
    belt = 72.0 + profile[None, :] + grain + blotch
    brushed = rng.standard_normal((2 * canvas, 2 * canvas)).astype(np.float32)
    klen = max(3, int(round(15 * s)) | 1)
    kernel = np.full((1, klen), 1.0 / klen, dtype=np.float32)
    brushed = cv2.filter2D(brushed, -1, kernel) * 6.0 * math.sqrt(klen) / 3.0
    ys, xs = np.mgrid[0:canvas, 0:canvas].astype(np.float32)
    noise = rng.standard_normal((3 * size, 3 * size, 3), dtype=np.float32)
    return Assets(size, margin, canvas, belt.astype(np.float32), brushed.astype(np.float32),
                  xs, ys, period, noise)


def _part_mask(rng: np.random.Generator, a: Assets, shape: str) -> tuple[np.ndarray, float]:
    """Anti-aliased uint8 mask of one part on the canvas, and its half-extent in pixels."""
    c = a.canvas
    mask = np.zeros((c, c), np.uint8)
    jit = 0.07 * a.size
    cx = c / 2 + rng.uniform(-jit, jit)
    cy = c / 2 + rng.uniform(-jit, jit)
    r = rng.uniform(0.27, 0.34) * a.size
    ang = rng.uniform(0, 2 * math.pi)
    sh = 4  # sub-pixel bits for the drawing functions
    f = float(1 << sh)

    def poly(pts: np.ndarray) -> np.ndarray:
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        p = pts @ rot.T + (cx, cy)
        q: np.ndarray = np.round(p * f).astype(np.int32)
        return q

    def hole(radius: float, dx: float = 0.0, dy: float = 0.0) -> None:
        hx = cx + dx * math.cos(ang) - dy * math.sin(ang)
        hy = cy + dx * math.sin(ang) + dy * math.cos(ang)
        cv2.circle(mask, (round(hx * f), round(hy * f)), round(radius * f), 0, -1, cv2.LINE_AA, sh)

    if shape == "plate":
        w, h = r, r * rng.uniform(0.55, 0.8)
        pts = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], dtype=np.float64)
        cv2.fillPoly(mask, [poly(pts)], 255, cv2.LINE_AA, sh)
        hole(0.09 * r, -0.72 * w, 0.0)
        hole(0.09 * r, 0.72 * w, 0.0)
    elif shape == "washer":
        cv2.circle(mask, (round(cx * f), round(cy * f)), round(r * f), 255, -1, cv2.LINE_AA, sh)
        hole(0.34 * r)
    elif shape == "hexnut":
        t = np.arange(6) * math.pi / 3
        pts = np.stack([np.cos(t), np.sin(t)], axis=1) * r
        cv2.fillPoly(mask, [poly(pts)], 255, cv2.LINE_AA, sh)
        hole(0.36 * r)
    else:  # bracket: an L
        arm = 0.42 * r
        pts = np.array(
            [[-r, -r], [r, -r], [r, -r + 2 * arm], [-r + 2 * arm, -r + 2 * arm], [-r + 2 * arm, r], [-r, r]],
            dtype=np.float64,
        ) * 0.95
        cv2.fillPoly(mask, [poly(pts)], 255, cv2.LINE_AA, sh)
    return mask, r


def _metal(rng: np.random.Generator, a: Assets, alpha: np.ndarray,
           view: tuple[slice, slice]) -> np.ndarray:
    """Gray levels of a machined metal part over ``view``: base, gradient, specular band, grain, bevel."""
    s = a.size / 160.0
    base = rng.uniform(135.0, 175.0)
    th = rng.uniform(0, 2 * math.pi)
    u = (a.xs[view] - a.canvas / 2) * math.cos(th) + (a.ys[view] - a.canvas / 2) * math.sin(th)
    val = base + u * (28.0 / a.size)
    spec_pos = rng.uniform(-0.25, 0.25) * a.size
    val += rng.uniform(25.0, 45.0) * np.exp(-(((u - spec_pos) / (0.09 * a.size)) ** 2))
    ox, oy = rng.integers(0, a.canvas, size=2)
    val += a.brushed[oy:oy + a.canvas, ox:ox + a.canvas][view]
    inner = cv2.GaussianBlur(alpha, (0, 0), 1.6 * s)[view]
    al = alpha[view]
    val -= 70.0 * np.clip(al - inner, 0.0, 1.0)  # darker rim at the part's edge
    return val.astype(np.float32)


@dataclass
class Defect:
    """A rendered defect: additive gray change, colour alpha, and its canvas bounding box."""

    delta: np.ndarray | None  # additive gray levels (canvas)
    stain_alpha: np.ndarray | None  # 0..1 (canvas)
    tint: np.ndarray | None  # BGR multipliers
    box: tuple[float, float, float, float]  # canvas xyxy
    strength: float


def _pick_centre(rng: np.random.Generator, mask: np.ndarray, radius: float) -> tuple[float, float]:
    """A point on the part at least ``radius`` pixels inside its outline (or its best point)."""
    k = max(1, int(radius))
    inner = cv2.erode((mask > 200).astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    idx = np.flatnonzero(inner)
    if idx.size == 0:
        idx = np.flatnonzero(mask > 200)
    i = int(idx[rng.integers(idx.size)])
    c = mask.shape[1]
    return float(i % c) + rng.uniform(-0.5, 0.5), float(i // c) + rng.uniform(-0.5, 0.5)


def _box_of(effect: np.ndarray, frac: float = 0.2) -> tuple[float, float, float, float]:
    m = effect >= frac * float(effect.max())
    ys = np.flatnonzero(m.any(axis=1))
    xs = np.flatnonzero(m.any(axis=0))
    return float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)


def _defect(rng: np.random.Generator, a: Assets, cls: str, visibility: str,
            mask: np.ndarray, alpha: np.ndarray, r: float) -> Defect:
    s = a.size / 160.0
    strength = rng.uniform(*_STRENGTH[visibility])
    c = a.canvas
    if cls == "scratch":
        length = rng.uniform(0.35, 0.6) * r * 2
        cx, cy = _pick_centre(rng, mask, 0.25 * length)
        th = rng.uniform(0, math.pi)
        dx, dy = 0.5 * length * math.cos(th), 0.5 * length * math.sin(th)
        f = 16.0
        p0 = (round((cx - dx) * f), round((cy - dy) * f))
        p1 = (round((cx + dx) * f), round((cy + dy) * f))
        lit = np.zeros((c, c), np.uint8)
        cv2.line(lit, p0, p1, 255, max(1, round(s)), cv2.LINE_AA, 4)
        nx, ny = -math.sin(th) * 1.2 * s * f, math.cos(th) * 1.2 * s * f
        shade = np.zeros((c, c), np.uint8)
        cv2.line(shade, (round(p0[0] + nx), round(p0[1] + ny)), (round(p1[0] + nx), round(p1[1] + ny)),
                 255, max(1, round(s)), cv2.LINE_AA, 4)
        lit_f = lit.astype(np.float32) / 255.0 * alpha
        shade_f = shade.astype(np.float32) / 255.0 * alpha
        delta = strength * (85.0 * lit_f - 55.0 * shade_f)
        box = _box_of(np.maximum(lit_f, shade_f))
        return Defect(delta, None, None, box, strength)
    if cls == "dent":
        ax = rng.uniform(0.07, 0.12) * a.size
        ay = ax * rng.uniform(0.5, 0.9)
        cx, cy = _pick_centre(rng, mask, 0.6 * ax)
        th = rng.uniform(0, math.pi)
        win = _window(cx, cy, 2.2 * ax, c)
        X, Y = a.xs[win] - cx, a.ys[win] - cy
        u = (X * math.cos(th) + Y * math.sin(th)) / ax
        v = (-X * math.sin(th) + Y * math.cos(th)) / ay
        g = np.exp(-(u * u + v * v) * 2.0)
        # Light comes from the upper left: the near wall of the hollow is dark, the far one bright.
        lx, ly = -0.7071, -0.7071
        du = (X * lx + Y * ly) / ax
        delta = np.zeros((c, c), np.float32)
        delta[win] = strength * (150.0 * du * g - 15.0 * g) * alpha[win]
        effect = np.zeros((c, c), np.float32)
        effect[win] = g * alpha[win]
        return Defect(delta, None, None, _box_of(effect, 0.12), strength)
    # stain: a soft irregular blob (a few overlapping gaussians)
    rad = rng.uniform(0.07, 0.12) * a.size
    cx, cy = _pick_centre(rng, mask, 0.5 * rad)
    win = _window(cx, cy, 2.6 * rad, c)
    xs, ys = a.xs[win], a.ys[win]
    blob = np.zeros(xs.shape, np.float32)
    for _ in range(3):
        bx = cx + rng.normal(0, 0.35 * rad)
        by = cy + rng.normal(0, 0.35 * rad)
        br = rad * rng.uniform(0.5, 0.9)
        blob = np.maximum(blob, np.exp(-(((xs - bx) ** 2 + (ys - by) ** 2) / (br * br)) * 1.5))
    blob *= alpha[win]
    stain_alpha = np.zeros((c, c), np.float32)
    stain_alpha[win] = np.clip(blob * 1.2, 0.0, 1.0) * strength * 0.85
    effect = np.zeros((c, c), np.float32)
    effect[win] = blob
    tint = _STAIN_TINTS[rng.integers(len(_STAIN_TINTS))]
    return Defect(None, stain_alpha, tint, _box_of(effect, 0.15), strength)


def _window(cx: float, cy: float, half: float, c: int) -> tuple[slice, slice]:
    """Rows/columns of the canvas within ``half`` pixels of (cx, cy)."""
    x0, x1 = max(0, int(cx - half)), min(c, int(cx + half) + 2)
    y0, y1 = max(0, int(cy - half)), min(c, int(cy + half) + 2)
    return slice(y0, y1), slice(x0, x1)


def _camera(a: Assets, tilt: Tilt | None, rng: np.random.Generator) -> np.ndarray:
    """3x3 map from canvas pixels to image pixels."""
    m = float(a.margin)
    crop = np.array([[1.0, 0.0, -m], [0.0, 1.0, -m], [0.0, 0.0, 1.0]])
    if tilt is None or (tilt.rotation_deg == 0.0 and tilt.keystone == 0.0):
        return crop
    c = a.canvas / 2.0
    to_c = np.array([[1.0, 0.0, -c], [0.0, 1.0, -c], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, c], [0.0, 1.0, c], [0.0, 0.0, 1.0]])
    th = math.radians(tilt.rotation_deg + rng.normal(0.0, tilt.jitter_deg))
    rot = np.array([[math.cos(th), -math.sin(th), 0.0], [math.sin(th), math.cos(th), 0.0], [0, 0, 1.0]])
    k = tilt.keystone / a.size  # the top of the frame is farther from the lens
    persp = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -k, 1.0]])
    hom: np.ndarray = crop @ back @ persp @ rot @ to_c
    return hom


def _map_box(h: np.ndarray, box: tuple[float, float, float, float], size: int
             ) -> tuple[float, float, float, float] | None:
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1.0], [x1, y0, 1.0], [x1, y1, 1.0], [x0, y1, 1.0]]) @ h.T
    pts = pts[:, :2] / pts[:, 2:3]
    bx0, by0 = max(0.0, float(pts[:, 0].min())), max(0.0, float(pts[:, 1].min()))
    bx1, by1 = min(float(size), float(pts[:, 0].max())), min(float(size), float(pts[:, 1].max()))
    if bx1 - bx0 < 1.0 or by1 - by0 < 1.0:
        return None
    return round(bx0, 1), round(by0, 1), round(bx1, 1), round(by1, 1)


@dataclass
class Rendered:
    """One rendered frame and what is true about it.

    Examples
    --------
    >>> a = make_assets(np.random.default_rng(0), 96)
    >>> out = render(np.random.default_rng(1), a, "dent", "clear")
    >>> out.image.shape, out.box is not None
    ((96, 96, 3), True)
    """

    image: np.ndarray  # uint8 BGR (size, size, 3)
    shape: str
    box: tuple[float, float, float, float] | None
    strength: float
    part_box: tuple[float, float, float, float]


def render(
    rng: np.random.Generator,
    assets: Assets,
    cls: str,
    visibility: str | None,
    *,
    lighting: Lighting | None = None,
    tilt: Tilt | None = None,
) -> Rendered:
    """Draw one frame: belt, part (one of :data:`SHAPES`), defect of class ``cls``.

    Parameters
    ----------
    rng
        The frame's own generator (the frame is a pure function of its state).
    assets
        Shared textures from :func:`make_assets`.
    cls
        One of :data:`CLASSES`; ``"ok"`` draws no defect.
    visibility
        ``"faint"`` or ``"clear"`` for defects, ignored for ``"ok"``.
    lighting, tilt
        Changed conditions of the line; ``None`` is the normal set-up.

    Returns
    -------
    Rendered
        The uint8 BGR image and the defect's box in image pixels (xyxy), None for ``ok``.

    Examples
    --------
    >>> a = make_assets(np.random.default_rng(0), 96)
    >>> render(np.random.default_rng(2), a, "ok", None).box is None
    True
    """
    a = assets
    s = a.size / 160.0
    c = a.canvas
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    off = int(rng.integers(0, a.belt.shape[1] - c))
    belt = a.belt[:, off:off + c]
    mask, r = _part_mask(rng, a, shape)
    alpha = mask.astype(np.float32) / 255.0
    h = _camera(a, tilt, rng)
    warp = not (h[2, 0] == 0.0 and h[2, 1] == 0.0 and h[0, 1] == 0.0)
    # A camera on axis sees the centre of the canvas: shade only that (same result, less work).
    m = a.margin
    view = (slice(None), slice(None)) if warp else (slice(m, m + a.size), slice(m, m + a.size))
    metal = _metal(rng, a, alpha, view)
    # The defect draws from its own stream, so the same state with cls="ok" is the same scene
    # without the defect.
    defect_rng = rng.spawn(1)[0]
    defect = None
    if cls != "ok":
        defect = _defect(defect_rng, a, cls, visibility or "clear", mask, alpha, r)
        if defect.delta is not None:
            metal += defect.delta[view]
    # Drop shadow of the part on the belt (light from the upper left).
    sh_off = np.array([[1, 0, 4.0 * s], [0, 1, 5.0 * s]], dtype=np.float32)
    shadow = cv2.warpAffine(alpha, sh_off, (c, c))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.0 * s)[view]
    al = alpha[view]
    gray = belt[view] * (1.0 - 0.55 * shadow) * (1.0 - al) + metal * al
    img = np.empty(gray.shape + (3,), np.float32)
    img[..., 0] = gray * (1.0 + 0.05 * al)  # metal slightly cool against the warm belt
    img[..., 1] = gray
    img[..., 2] = gray * (1.0 - 0.03 * al) + 3.0 * (1.0 - al)
    if defect is not None and defect.stain_alpha is not None and defect.tint is not None:
        sa = defect.stain_alpha[view][..., None]
        img *= 1.0 - sa * (1.0 - defect.tint[None, None, :])
    # Exposure varies a little frame to frame (auto-exposure hunting).
    img *= rng.uniform(0.97, 1.03)
    img += rng.normal(0.0, 2.5)
    if lighting is not None and not lighting.is_identity:
        add = lighting.offset * (1.0 + lighting.gradient * (a.xs[view] / c - 0.5))
        img *= lighting.gain
        img += add[..., None]
        img *= np.asarray(lighting.tint, np.float32)[None, None, :]
    out: np.ndarray = cv2.warpPerspective(img, h, (a.size, a.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT) if warp else img
    # cv2's stubs type the result as integer-or-float; it is float32, like its input
    out = cast("NDArray[np.float32]", cv2.GaussianBlur(out, (0, 0), 0.55 * s))
    # Sensor noise: a random window of a per-seed noise field (cheaper than fresh draws).
    nx, ny = rng.integers(0, 2 * a.size, size=2)
    out += a.noise[ny:ny + a.size, nx:nx + a.size] * 2.2
    image = np.clip(out, 0, 255)
    image = np.rint(image, out=image).astype(np.uint8)
    box = None if defect is None else _map_box(h, defect.box, a.size)
    part_box = _map_box(h, _box_of(alpha, 0.5), a.size) or (0.0, 0.0, float(a.size), float(a.size))
    return Rendered(image, shape, box, 0.0 if defect is None else float(defect.strength), part_box)

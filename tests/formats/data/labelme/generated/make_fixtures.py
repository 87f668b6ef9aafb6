"""Write this folder's LabelMe files with labelme's own code (run once; the outputs are committed).

Run with a Python that has ``labelme`` installed (6.3.1 was used; it needs PyQt5 but no display):

    QT_QPA_PLATFORM=offscreen python make_fixtures.py

The shapes go through the same code as the labelme GUI's "Save": ``labelme._shape.Shape``
objects, ``labelme.app._shape_to_dict`` and ``labelme._label_file.write_label_file``, with
``imagePath`` relative to the JSON's folder as the GUI writes it.  Every file is read
back with ``labelme.LabelFile`` to check that labelme accepts it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image
from PyQt5.QtCore import QPointF

import labelme
from labelme._label_file import read_image_file, write_label_file
from labelme._shape import Shape
from labelme.app import _shape_to_dict

HERE = Path(__file__).resolve().parent


def image(path: Path, w: int, h: int) -> None:
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=-1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(arr).save(path)


def shape(label: str, shape_type: str, points: list[tuple[float, float]], **kw: object) -> dict:
    s = Shape(label=label, shape_type=shape_type, flags=kw.pop("flags", {}), **kw)  # type: ignore[arg-type]
    for x, y in points:
        s.add_point(QPointF(x, y))
    s.close()
    return _shape_to_dict(s)


def save(label_path: Path, image_path: Path, shapes: list[dict], flags: dict[str, bool], *, embed: bool) -> None:
    w, h = PIL.Image.open(image_path).size
    write_label_file(
        filename=str(label_path),
        shapes=shapes,
        image_path=os.path.relpath(image_path, label_path.parent),
        image_data=read_image_file(str(image_path)) if embed else None,
        image_height=h,
        image_width=w,
        flags=flags,
    )
    back = labelme.LabelFile(str(label_path))
    assert len(back.shapes) == len(shapes), label_path


def main() -> None:
    image(HERE / "shapes.png", 64, 48)
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:5, 2:7] = True
    shapes = [
        shape("dent", "rectangle", [(40.0, 30.0), (10.5, 5.0)]),  # drawn from bottom-right to top-left
        shape("scratch", "polygon", [(2.0, 3.0), (20.0, 4.5), (18.0, 20.0), (3.0, 17.0)],
              group_id=7, description="long one", flags={"occluded": True, "truncated": False}),
        shape("hole", "circle", [(50.0, 20.0), (50.0, 26.0)]),
        shape("hole", "circle", [(2.0, 2.0), (2.0, 12.0)]),  # its enclosing box runs past the image
        shape("dent", "oriented_rectangle", [(30.0, 10.0), (40.0, 20.0), (35.0, 25.0), (25.0, 15.0)]),
        shape("edge", "line", [(1.0, 40.0), (60.0, 41.0)]),
        shape("edge", "linestrip", [(1.0, 44.0), (30.0, 46.0), (60.0, 44.0)]),
        shape("spot", "point", [(12.0, 30.0)]),
        shape("spot", "points", [(14.0, 31.0), (16.0, 33.0)]),
        shape("stain", "mask", [(44.0, 36.0), (51.0, 41.0)], mask=mask),
    ]
    save(HERE / "shapes.json", HERE / "shapes.png", shapes, {"__ignore__": False, "defect": True, "ok": False},
         embed=False)

    # the GUI with an output folder apart from the images: imagePath climbs out of the JSON's folder
    image(HERE / "images" / "plain.png", 40, 30)
    boxes = [shape("dent", "rectangle", [(1.0, 1.0), (11.0, 9.0)]),
             shape("dent", "rectangle", [(20.0, 10.0), (39.0, 29.0)], group_id=1)]
    save(HERE / "labels" / "plain.json", HERE / "images" / "plain.png", boxes, {}, embed=True)


if __name__ == "__main__":
    main()

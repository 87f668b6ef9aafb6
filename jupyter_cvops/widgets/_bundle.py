"""A class attribute that reads a built widget bundle of ``jupyter_cvops/static`` late."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent.parent / "static"


class _Bundle:
    """Class attribute that reads a built file of ``jupyter_cvops/static`` when a widget is made.

    anywidget reads ``_esm``/``_css`` at construction; reading late keeps ``import`` working
    in a source checkout whose bundle is not built yet, with a clear error at use.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        path = STATIC / self.name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"widget bundle {path} is missing: run `npm run build` in the source checkout "
                "(installed packages ship it)"
            ) from None

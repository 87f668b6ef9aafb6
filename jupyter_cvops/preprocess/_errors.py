"""The two errors of :mod:`jupyter_cvops.preprocess`: a spec that cannot be built, an input that cannot be read."""

from __future__ import annotations


class PreprocessError(ValueError):
    """A preprocessing spec is invalid, or a ``Preprocess`` cannot do what was asked.

    Examples
    --------
    >>> issubclass(PreprocessError, ValueError)
    True
    """


class ImageDecodeError(PreprocessError):
    """One input image cannot be read or decoded; ``str(exc)`` is the one-line reason.

    Examples
    --------
    >>> str(ImageDecodeError("cannot decode image: truncated"))
    'cannot decode image: truncated'
    """

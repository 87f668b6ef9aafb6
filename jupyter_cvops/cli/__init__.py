"""``cvops``: the command-line mirror of the Python API (``cvops --help`` lists the commands)."""

from ._app import main

__all__ = ["main"]

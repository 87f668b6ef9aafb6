"""Notebook integration: the ``%cvops`` magics and the kernel/environment facts they record."""

from __future__ import annotations

from ._magics import register

__all__ = ["register"]

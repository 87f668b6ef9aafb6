"""Notebook widgets (anywidget): each one displays and collects; the store and the
pure modules compute. A user-facing facade (what ``cv.review(...)`` returns) holds
the workspace and drives one anywidget class that only syncs traits and messages.

Examples
--------
>>> import jupyter_cvops as cv                 # doctest: +SKIP
>>> session = cv.review(ws)                    # doctest: +SKIP
"""

from __future__ import annotations

from .agreement_view import AgreementView, agreement_view
from .drift_view import DriftView, drift_view
from .lineage_view import LineageView, lineage_view
from .review import ReviewSession, ReviewWidget, review
from .shadow import ShadowView, ShadowWidget, shadow_view

__all__ = ["AgreementView", "DriftView", "LineageView", "ReviewSession", "ReviewWidget", "ShadowView", "ShadowWidget",
           "agreement_view", "drift_view", "lineage_view", "review", "shadow_view"]

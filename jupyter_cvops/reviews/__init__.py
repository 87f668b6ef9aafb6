"""Label review: queues of disputed items, recorded decisions, agreement drill-down."""

from __future__ import annotations

from .decisions import (
    DECISIONS, FLAG_REASONS, review_queue, decide, review_history,
)

__all__ = [
    "DECISIONS", "FLAG_REASONS", "decide", "review_history", "review_queue",
]

"""What a run used: notebook, kernel and environment facts (kept in :mod:`jupyter_cvops.runs`).

Re-exported here for callers of the first release (``cvops snapshot`` in the CLI).
"""

from __future__ import annotations

from ..runs._environment import KEY_PACKAGES, environment
from ..runs._provenance import kernel_info

__all__ = ["KEY_PACKAGES", "environment", "kernel_info"]

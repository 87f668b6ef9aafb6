"""Configuration of the jupyter-cvops server extension."""

from __future__ import annotations

from traitlets import Int, List, Unicode
from traitlets.config import Configurable


class CvopsServerConfig(Configurable):
    """Settings of the ``/cvops/api`` endpoints.

    Examples
    --------
    In ``jupyter_server_config.py``::

        c.CvopsServerConfig.roots = ["/data/workspaces", "projects"]
        c.CvopsServerConfig.max_jobs = 1
    """

    roots = List(
        Unicode(),
        default_value=[],
        help=(
            "Folders under which workspaces may be opened through /cvops/api. "
            "Relative entries are taken relative to ServerApp.root_dir. "
            "Empty (the default) means [ServerApp.root_dir]."
        ),
    ).tag(config=True)

    max_jobs = Int(
        2,
        min=1,
        help=(
            "Recipe re-runs (POST /cvops/api/recipes/retrain) that run at once, each in its own process "
            "and kernel; up to 8 more wait in a queue, further ones are refused."
        ),
    ).tag(config=True)

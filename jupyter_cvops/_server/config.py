"""Configuration of the jupyter-cvops server extension."""

from __future__ import annotations

from traitlets import List, Unicode
from traitlets.config import Configurable


class CvopsServerConfig(Configurable):
    """Settings of the ``/cvops/api`` endpoints.

    Examples
    --------
    In ``jupyter_server_config.py``::

        c.CvopsServerConfig.roots = ["/data/workspaces", "projects"]
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

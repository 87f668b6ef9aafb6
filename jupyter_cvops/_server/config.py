"""Configuration of the jupyter-cvops server extension."""

from __future__ import annotations

from traitlets import Dict, Int, List, Unicode
from traitlets.config import Configurable


class CvopsServerConfig(Configurable):
    """Settings of the ``/cvops/api`` endpoints.

    Examples
    --------
    In ``jupyter_server_config.py``::

        c.CvopsServerConfig.roots = ["/data/workspaces", "projects", "s3://team-bucket/cvops"]
        c.CvopsServerConfig.max_jobs = 1
    """

    roots = List(
        Unicode(),
        default_value=[],
        help=(
            "Folders under which workspaces may be opened through /cvops/api. "
            "Relative entries are taken relative to ServerApp.root_dir. "
            "URI entries (s3://bucket/prefix) serve the workspaces in object storage under them. "
            "Empty, or URIs only, means [ServerApp.root_dir] for folders."
        ),
    ).tag(config=True)

    storage_options = Dict(
        value_trait=Unicode(),
        default_value={},
        help=(
            "LanceDB storage options (endpoint, region, keys, allow_http, ...) for workspaces under URI roots; "
            "empty: the server's environment (AWS_*)."
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

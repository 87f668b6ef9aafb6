"""jupyter_server extension of jupyter-cvops: workspace endpoints under ``/cvops/api`` (reads, rollback, recipe export,
recipe re-run jobs)."""

from __future__ import annotations

from typing import Any

from .config import CvopsServerConfig
from .handlers import setup_handlers
from .paths import resolve_roots

__all__ = ["CvopsServerConfig", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_cvops._server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the handlers; roots come from ``CvopsServerConfig.roots`` or ``root_dir``."""
    config = CvopsServerConfig(parent=serverapp)
    folders = [r for r in config.roots if "://" not in r]
    uri_roots = [r for r in config.roots if "://" in r]
    roots = resolve_roots(folders or [serverapp.root_dir], serverapp.root_dir)
    setup_handlers(serverapp.web_app, roots, serverapp.root_dir, max_jobs=config.max_jobs,
                   uri_roots=uri_roots, storage_options=dict(config.storage_options))
    serverapp.log.info("jupyter_cvops: /cvops/api serving workspaces under %s",
                       ", ".join([*map(str, roots), *uri_roots]))

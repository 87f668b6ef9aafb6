"""jupyter-cvops: versioned data operations for computer vision, inside JupyterLab.

Examples
--------
>>> import jupyter_cvops as cv                                   # doctest: +SKIP
>>> ws = cv.Workspace.create("inspection-ws")                    # doctest: +SKIP
>>> ws.add_images("images/**/*.png", source="line-1")            # doctest: +SKIP
>>> ws.import_annotations("export/annotations.xml", format="cvat")  # doctest: +SKIP
>>> v = ws.snapshot(name="first", message="baseline")            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # imported lazily by __getattr__ at run time
    from ._store import WorkspaceError
    from .workspace import Workspace

__all__ = ["ArtifactIntegrityError", "AuditReport", "ModelAdapter", "ModelError", "ModelVersion", "Predictor",
           "Preprocess", "PromotionRefused", "Recipe",
           "RecipeError", "Run", "ShadowReport", "Workspace", "WorkspaceError", "__version__", "agreement_view", "drift_view",
           "export_recipe", "lineage_view", "load_bundle", "load_ipython_extension", "retrain", "review",
           "shadow_view"]


_LAZY = {
    "Workspace": (".workspace", "Workspace"),
    "WorkspaceError": ("._store", "WorkspaceError"),
    "Preprocess": (".preprocess", "Preprocess"),
    "Run": (".runs", "Run"),
    "AuditReport": (".audit", "AuditReport"),
    "Predictor": (".predictions", "Predictor"),
    "ShadowReport": (".shadow", "ShadowReport"),
    "ModelVersion": (".models", "ModelVersion"),
    "ModelAdapter": (".models", "ModelAdapter"),
    "ModelError": (".models", "ModelError"),
    "ArtifactIntegrityError": (".models", "ArtifactIntegrityError"),
    "PromotionRefused": (".models", "PromotionRefused"),
    "load_bundle": (".models", "load_bundle"),
    "Recipe": (".recipes", "Recipe"),
    "RecipeError": (".recipes", "RecipeError"),
    "export_recipe": (".recipes", "export_recipe"),
    "retrain": (".recipes", "retrain"),
    "review": (".widgets", "review"),
    "agreement_view": (".widgets", "agreement_view"),
    "drift_view": (".widgets", "drift_view"),
    "lineage_view": (".widgets", "lineage_view"),
    "shadow_view": (".widgets", "shadow_view"),
}


def __getattr__(name: str) -> Any:
    # Lazy: `import jupyter_cvops` (done by Jupyter at server start) stays cheap.
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(module, __name__), attr)
    raise AttributeError(f"module 'jupyter_cvops' has no attribute {name!r}")


def __dir__() -> list[str]:
    # List the lazy names too (tab completion) without importing them.
    return sorted({*globals(), *_LAZY})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_cvops``: register the ``%cvops`` magics."""
    from .notebook._magics import register

    register(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-cvops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_cvops._server"}]

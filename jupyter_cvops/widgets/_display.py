"""How a widget facade displays: its widget's MIME bundle, with the facade's own ``repr`` as the text."""

from __future__ import annotations

from typing import Any


def bundle_with_repr(widget: Any, facade: object, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``widget``'s MIME bundle (ipywidgets' view) whose ``text/plain`` is ``repr(facade)``: a notebook shows
    the widget, and a headless run (nbclient, a terminal) prints the facade's one-line summary.

    Examples
    --------
    >>> import ipywidgets
    >>> class Facade:
    ...     def __repr__(self) -> str:
    ...         return "<Facade 3 images>"
    >>> data, meta = bundle_with_repr(ipywidgets.HTML("x"), Facade())
    >>> data["text/plain"]
    '<Facade 3 images>'
    """
    bundle = widget._repr_mimebundle_(**kwargs)
    if bundle is None:
        return None
    data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
    return {**data, "text/plain": repr(facade)}, meta

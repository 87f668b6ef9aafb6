"""How a :class:`~jupyter_cvops.taxonomy.Taxonomy` shows itself: plain text and an HTML table."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ._ops import safe_color, short
from ._records import _TaxonomyBase

if TYPE_CHECKING:
    from ._ops import Classes


class _DisplayMixin(_TaxonomyBase):
    """``repr`` and ``_repr_html_`` of :class:`~jupyter_cvops.taxonomy.Taxonomy`."""

    # -- display ----------------------------------------------------------------------
    def _display_state(self) -> tuple[int, Classes]:
        v = self.version
        return v, self._state(v)

    def __repr__(self) -> str:
        v, state = self._display_state()
        active = [r for r in state.values() if r.active]
        plural = "" if len(active) == 1 else "es"
        lines = [f"Taxonomy v{v}: {len(active)} active class{plural}, {len(state) - len(active)} retired"]
        width = max((len(r.name) for r in active), default=0)
        for r in active:
            parent = f" (under {state[r.parent].name})" if r.parent in state else ""
            color = safe_color(r.color)
            lines.append(f"  {r.id}  {color}  {r.name:<{width}}{parent}  {short(r.definition, 60)}".rstrip())
        if self._staged:
            lines.append(f"staged ({len(self._staged)}), commit with .commit(message):")
            lines += [f"  + {op}" for op in self._staged]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        v, state = self._display_state()
        esc = html.escape
        active = [r for r in state.values() if r.active]
        retired = [r for r in state.values() if not r.active]
        cell = "padding:2px 8px;text-align:left;vertical-align:top"
        rows = []
        for r in active:
            color = safe_color(r.color)  # already checked on read; CSS gets nothing else
            swatch = (
                f'<span style="display:inline-block;width:0.9em;height:0.9em;border-radius:2px;'
                f'vertical-align:middle;background:{color}" title="{color}"></span>'
            )
            parent = esc(state[r.parent].name) if r.parent in state else ""
            rows.append(
                f'<tr><td style="{cell}">{swatch}</td><td style="{cell}"><code>{esc(r.id)}</code></td>'
                f'<td style="{cell}"><b>{esc(r.name)}</b></td><td style="{cell}">{parent}</td>'
                f'<td style="{cell}">{esc(r.definition)}</td></tr>'
            )
        head = "".join(f'<th style="{cell}">{h}</th>' for h in ("", "id", "name", "parent", "definition"))
        out = [
            '<div class="cvops-taxonomy">',
            f"<b>Taxonomy v{v}</b>: {len(active)} active class{'' if len(active) == 1 else 'es'}"
            + (f", {len(retired)} retired" if retired else ""),
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        ]
        if retired:
            notes = ", ".join(f"{esc(r.name)} <small>({esc(r.status)})</small>" for r in retired)
            out.append(f"<div><small>retired: {notes}</small></div>")
        if self._staged:
            items = "".join(f"<li><code>{esc(str(op))}</code></li>" for op in self._staged)
            out.append(f"<div><b>staged ({len(self._staged)})</b>, not committed:<ul>{items}</ul></div>")
        out.append("</div>")
        return "".join(out)

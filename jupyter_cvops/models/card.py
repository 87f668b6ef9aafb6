"""Model cards: what a model version is, in Markdown (stored with it) and in HTML (for the notebook).

Both are rendered from the same facts (:class:`CardFacts`): name and version, who registered
it and when, the data (run, dataset version, taxonomy version), the classes in output order,
the preprocessing (fingerprint and a sentence), the metrics, and the team's own notes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CardFacts:
    """The facts a model card shows.

    Examples
    --------
    >>> f = CardFacts("defect-clf", "3fa2c1d0e9ab" * 2, classes=("dent", "scuff"))
    >>> f.title
    'defect-clf · version 3fa2c1d0e9ab'
    """

    name: str
    version: str
    created_at: datetime | None = None
    author: str | None = None
    framework: str | None = None
    task: str | None = None
    run_id: str | None = None
    dataset_version: str | None = None
    taxonomy_version: int | None = None
    classes: Sequence[str] = ()
    preprocess_fingerprint: str | None = None
    preprocess_description: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    notes: str | None = None
    aliases: Sequence[str] = ()

    @property
    def title(self) -> str:
        """``name · version <12 characters>``."""
        return f"{self.name} · version {self.version[:12]}"

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs of the facts that are known, in card order."""
        when = self.created_at.strftime("%Y-%m-%d %H:%M UTC") if self.created_at else "?"
        out = [("version", self.version), ("registered", f"{when} by {self.author or '?'}")]
        if self.aliases:
            out.append(("aliases now", ", ".join(self.aliases)))
        out.append(("format", f"{self.framework or '?'} ({self.task or 'classification'})"))
        out.append(("run", self.run_id or "none recorded"))
        out.append(("dataset version", self.dataset_version or "none recorded"))
        out.append(("taxonomy version", "none recorded" if self.taxonomy_version is None
                    else str(self.taxonomy_version)))
        pre = "none recorded"
        if self.preprocess_fingerprint:
            pre = f"{self.preprocess_fingerprint} — {self.preprocess_description or ''}".rstrip(" —")
        out.append(("preprocessing", pre))
        return out


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return v if isinstance(v, str) else json.dumps(v, default=str)


def markdown(facts: CardFacts) -> str:
    """The card in Markdown.

    Examples
    --------
    >>> md = markdown(CardFacts("clf", "a" * 32, classes=("dent",), metrics={"val_accuracy": 0.94}))
    >>> md.splitlines()[0], "| val_accuracy | 0.94 |" in md
    ('# clf · version aaaaaaaaaaaa', True)
    """
    lines = [f"# {facts.title}", ""]
    lines += [f"- **{label}**: `{value}`" if label in ("version", "run", "dataset version") and "none" not in value
              else f"- **{label}**: {value}" for label, value in facts.rows()]
    lines += ["", f"## Classes ({len(facts.classes)}, in output order)", ""]
    lines += [f"{i}. {c}" for i, c in enumerate(facts.classes)] or ["none recorded"]
    lines += ["", "## Metrics", ""]
    if facts.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_value(v)} |" for k, v in sorted(facts.metrics.items())]
    else:
        lines.append("none recorded")
    if facts.notes:
        lines += ["", "## Notes", "", facts.notes.strip()]
    return "\n".join(lines) + "\n"


def to_html(facts: CardFacts) -> str:
    """The card as a small HTML block (escaped; notes kept as preformatted text).

    Examples
    --------
    >>> "<h3>clf · version" in to_html(CardFacts("clf", "a" * 32))
    True
    """
    e = html.escape
    parts = [f"<div class='cvops-model-card'><h3>{e(facts.title)}</h3><table>"]
    parts += [f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts.rows()]
    parts.append(f"<tr><th style='text-align:left'>classes</th><td>{e(', '.join(facts.classes)) or '-'}</td></tr>")
    parts.append("</table>")
    if facts.metrics:
        parts.append("<table><tr><th>metric</th><th>value</th></tr>")
        parts += [f"<tr><td>{e(k)}</td><td>{e(_value(v))}</td></tr>" for k, v in sorted(facts.metrics.items())]
        parts.append("</table>")
    if facts.notes:
        parts.append(f"<pre style='white-space:pre-wrap'>{e(facts.notes.strip())}</pre>")
    parts.append("</div>")
    return "".join(parts)

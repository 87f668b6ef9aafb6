"""The "Agreement" part of example_notebooks/02_review_and_agreement.ipynb, to append after Part 1.

:data:`CELLS` holds the cells in order as ``(cell_type, source)``; :func:`add_to` appends them to
the notebook (once). They reuse Part 1's ``shutil``, ``pl``, ``cv``, ``build_demo`` and ``SEED`` and
build their own workspace, so Part 1's ``parameters`` cell keeps controlling Part 1 only.

Examples
--------
$ python example_notebooks/_agreement_cells.py      # appends to 02_review_and_agreement.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

CELLS: list[tuple[str, str]] = [
    ("markdown", (
        "## Part 2 · Agreement\n"
        "\n"
        "### 5. The agreement report of a full demo line\n"
        "The label-drift detector compares weeks, so it needs a few hundred labels per week; Part 1's\n"
        "workspace is kept small for reviewing. This part builds the whole demo line (1,200 training\n"
        "images labelled over eight weeks, small images) in a workspace of its own.\n"
        "\n"
        "`ws.agreement()` is the full report under the current taxonomy: Krippendorff's α, Fleiss' κ and\n"
        "the mean pairwise Cohen's κ (with bootstrap intervals), kappa for every annotator pair,\n"
        "agreement per class, class confusions, the Dawid-Skene consensus, agreement per week and the\n"
        "label-drift alerts."
    )),
    ("code", (
        "AGREEMENT_WORKSPACE = \"_work/02-review/agreement-ws\"  # rebuilt on every run\n"
        "AGREEMENT_N_TRAIN = 1200  # eight weeks of labels: enough for the drift detector\n"
        "AGREEMENT_IMAGE_SIZE = 96\n"
        "\n"
        "shutil.rmtree(AGREEMENT_WORKSPACE, ignore_errors=True)\n"
        "build_demo(AGREEMENT_WORKSPACE, seed=SEED, n_train=AGREEMENT_N_TRAIN, n_production=0,\n"
        "           image_size=AGREEMENT_IMAGE_SIZE, progress=False)\n"
        "line = cv.Workspace.open(AGREEMENT_WORKSPACE)\n"
        "agreement = line.agreement()\n"
        "agreement.overall.select(\"metric\", \"value\", \"ci_low\", \"ci_high\", \"n_items\", \"n_labels\")"
    )),
    ("markdown", (
        "### 6. Label-drift alerts\n"
        "An alert names the annotator, the class their agreement with the others dropped on, what they\n"
        "said instead, the week it changed and the nearest taxonomy version change. The demo planted one\n"
        "change: from week 5 chloe calls faint dents \"scratch\", right after \"dent\" was reworded in\n"
        "taxonomy v2. The detector finds it, and nothing else."
    )),
    ("code", (
        "agreement.alerts.select(\"annotator\", \"class_name\", \"confused_with\", \"window_start\",\n"
        "                        \"agreement_before\", \"agreement_after\", \"p_value\", \"taxonomy_version\")"
    )),
    ("markdown", (
        "### 7. The agreement view: click a cell to see its images\n"
        "Top: Cohen's κ for every annotator pair (the diagonal: each annotator against the consensus)\n"
        "and the class × class confusion, pooled over all pairs or for one pair (pick it above the\n"
        "figure). Below: agreement per week with the drift alert (red triangle) and the taxonomy change\n"
        "(dotted line), and each annotator's share of the alert's class.\n"
        "\n"
        "| click | shows the images |\n"
        "|---|---|\n"
        "| a kappa cell A × B | A and B both labelled and disagree on (and switches the confusion to A × B) |\n"
        "| a kappa diagonal cell | where that annotator differs from the consensus |\n"
        "| a confusion cell X × Y | pooled: two annotators said X and Y; for a pair: A said X and B said Y |\n"
        "| a point of the weekly trend | the disputed images first labelled that week |\n"
        "| the red triangle | from the alert's week on, the others said the class and the annotator did not |\n"
        "\n"
        "The thumbnails show every annotator's label; the labels that put an image in the cell are in\n"
        "bold. *Open in review* (or a click on a thumbnail) opens the review widget of Part 1 on exactly\n"
        "these images, below the grid. The images behind a cell are computed in Python from the same\n"
        "labels the report counted, and `view.selected` holds their ids."
    )),
    ("code", (
        "view = cv.agreement_view(line)\n"
        "view"
    )),
    ("markdown", (
        "### 8. The drill-down from Python\n"
        "`view.select_pair(...)`, `view.select_confusion(...)`, `view.select_window(...)` and\n"
        "`view.select_alert(...)` do what the clicks do, and the view above follows. Here: the images\n"
        "behind the drift alert. `view.open_review()` does what *Open in review* does and returns the\n"
        "review session (`.decisions` as in Part 1)."
    )),
    ("code", (
        "view.select_alert(0)\n"
        "print(f\"{len(view.selected)} images: {view.gallery.title}\")\n"
        "view.selection.select(\n"
        "    pl.col(\"path\").str.split(\"/\").list.last().alias(\"file\"),\n"
        "    pl.col(\"labels\").list.eval(\n"
        "        pl.element().struct.field(\"annotator\") + \": \" + pl.element().struct.field(\"class_name\")\n"
        "    ).list.join(\" · \").alias(\"labels\"),\n"
        "    \"first_label_at\",\n"
        ").head(8)"
    )),
]


def add_to(path: str | Path) -> int:
    """Append :data:`CELLS` to the notebook at ``path`` (unless it has them); returns its cell count.

    Examples
    --------
    >>> add_to("example_notebooks/02_review_and_agreement.ipynb")   # doctest: +SKIP
    18
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell

    nb = nbformat.read(path, as_version=4)
    if not any("## Part 2 · Agreement" in c.source for c in nb.cells):
        make = {"code": new_code_cell, "markdown": new_markdown_cell}
        nb.cells.extend(make[kind](source) for kind, source in CELLS)
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return len(nb.cells)


if __name__ == "__main__":
    default = Path(__file__).with_name("02_review_and_agreement.ipynb")
    print(add_to(sys.argv[1] if len(sys.argv) > 1 else default))

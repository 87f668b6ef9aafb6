"""ws.drift's reference: a mistyped version name is an error that suggests the close name,
not a one-image reference ("needs >= 10 reference images ... got 1")."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from jupyter_cvops import Workspace, WorkspaceError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("refnames")
    rng = np.random.default_rng(0)
    (root / "imgs").mkdir()
    for i in range(4):
        cv2.imwrite(str(root / "imgs" / f"{i}.png"), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    w = Workspace.create(root / "ws")
    w.add_images(root / "imgs", progress=False)
    w.snapshot(name="demo-train")
    w.snapshot(name="baseline")  # same content: an alias of demo-train
    return w


def test_typo_in_a_version_name_suggests_the_name(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match=r"^no dataset version or image 'demo-trian'; "
                                             r"did you mean 'demo-train'\?$"):
        ws.drift("demo-trian", progress=False)


def test_typo_in_an_alias_suggests_the_alias(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match=r"image 'baselin'; did you mean 'baseline'\?"):
        ws.drift("baselin", progress=False)


def test_unknown_name_without_a_close_match(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match=r"^no dataset version or image 'zzzz'$"):
        ws.drift("zzzz", progress=False)


def test_version_lookup_suggests_too(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match=r"'demo-trian'; did you mean 'demo-train'\? Known: "):
        ws.version("demo-trian")


def test_a_registered_image_id_is_still_a_reference(ws: Workspace) -> None:
    image_id = ws.images()["image_id"][0]
    with pytest.raises(WorkspaceError, match=r"needs >= 10 reference images .*got 1 "):
        ws.drift(image_id, progress=False)
    assert ws.version("demo-train").items().height == 4  # the names themselves resolve


def test_window_length_names_the_accepted_forms(ws: Workspace) -> None:
    with pytest.raises(ValueError, match=r"^by must be a valid polars duration such as '1d', '12h', '1w' .*"
                                         r"got '1day'; did you mean '1d'\?$"):
        ws.drift("demo-train", by="1day", progress=False)

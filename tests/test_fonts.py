"""Names in any script: the pictures draw their letters, and the tables line them up."""

import os
import warnings
from dataclasses import replace

import numpy as np
import pytest
from conftest import needs_data
from PIL import Image

from lookalike import facemap, fonts, montage
from lookalike.faces import CHIP_SIZE
from lookalike.index import Index
from lookalike.text import embed

KOREAN = "아이유"
NO_FONT_HAS = "\ue000" * 3  # private use: a font's missing-glyph box at best


def needs_font_for(text: str) -> None:
    if fonts.font_for(text) is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install fonts-noto-cjk (.ci/run does)")
        pytest.skip(f"no installed font has {text!r} (apt-get install fonts-noto-cjk)")


def test_the_chosen_font_has_real_glyphs():
    needs_font_for(KOREAN)
    font = fonts.pil_font(KOREAN, 13)
    glyph, box = font.getmask("아"), font.getmask("\ue000")
    assert glyph.getbbox() and (glyph.size != box.size or bytes(glyph) != bytes(box))
    assert fonts.font_for("Zoë Ström") == fonts.installed()[0]  # DejaVu Sans, always there


def test_a_file_that_is_no_font_has_no_letters(tmp_path):
    (tmp_path / "broken.ttf").write_bytes(b"not a font")
    assert fonts._charset(tmp_path / "broken.ttf") == frozenset()


def caption(text: str) -> np.ndarray:
    """The first caption line under the query's face in a montage."""
    image = montage.render([[montage.Tile(None, [text], montage.QUERY_FRAME)]], "names")
    x, y = montage.chip_origin(0, 0)
    top = y + CHIP_SIZE + montage.FRAME
    return np.asarray(image)[top : top + montage.LINE, x - montage.FRAME : x + montage.TILE_W]


def test_montage_writes_a_korean_name_without_warnings(capsys):
    needs_font_for(KOREAN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = caption(KOREAN)
    assert not caught and capsys.readouterr().err == ""
    assert (drawn < 128).any()
    assert not np.array_equal(drawn, caption(NO_FONT_HAS))  # not missing-glyph boxes


def test_a_right_to_left_name_keeps_the_rank_on_the_left():
    rank = caption("4.")
    ink = np.flatnonzero((rank < 128).any(axis=(0, 2)))
    left = slice(0, ink.max() + 2)  # "4." and a little room after it
    assert np.array_equal(caption(f"4. {embed('مريم')}")[:, left], rank[:, left])
    assert embed("아이유") == "아이유"


def test_letters_no_font_has_get_one_line_on_stderr(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tile = montage.Tile(None, [NO_FONT_HAS, NO_FONT_HAS + "x"], montage.QUERY_FRAME)
        montage.render([[tile]], "t")
    err = capsys.readouterr().err
    assert not caught and err.count("\n") == 1 and "no installed font" in err


def draw_map(idx_path, tmp_path, name: str) -> np.ndarray:
    with Index.open(idx_path) as idx:
        space = facemap.face_space(idx)
    space = replace(space, names=[name, *space.names[1:]])
    out = tmp_path / f"{len(list(tmp_path.iterdir()))}.png"
    facemap.draw(facemap.build(space, "pca"), out)
    with Image.open(out) as im:
        return np.asarray(im.convert("RGB"))


@needs_data
def test_map_writes_a_korean_name_without_warnings(tmp_path, celebs_index, capsys):
    needs_font_for(KOREAN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        korean = draw_map(celebs_index, tmp_path, KOREAN)
        assert not caught and capsys.readouterr().err == ""
        boxes = draw_map(celebs_index, tmp_path, NO_FONT_HAS)
    assert not caught  # matplotlib's "Glyph ... missing" warnings are not let through
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no installed font" in err
    assert korean.shape != boxes.shape or not np.array_equal(korean, boxes)

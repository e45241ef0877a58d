"""match/distance --save: the picture holds the right faces in the right places."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CELEBS, EXAMPLES, needs_data
from PIL import Image

from lookalike import api, montage
from lookalike.cli import main
from lookalike.faces import CHIP_SIZE
from lookalike.index import Index

pytestmark = needs_data

QUERY = (
    CELEBS
    / "queries"
    / "jerry_seinfeld"
    / ("httpafilesbiographycomimageuploadcfillcssrgbdprgfacehqwMTIwNjANjMMDINzIxNjcjpg.jpg")
)


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def chip_at(image: np.ndarray, row: int, col: int) -> np.ndarray:
    x, y = montage.chip_origin(row, col)
    return image[y : y + CHIP_SIZE, x : x + CHIP_SIZE]


def frame_at(image: np.ndarray, row: int, col: int) -> tuple[int, ...]:
    x, y = montage.chip_origin(row, col)
    return tuple(image[y - montage.FRAME // 2, x + CHIP_SIZE // 2])


def stored_chip(index_path, face_id: int) -> np.ndarray:
    with Index.open(index_path) as idx:
        return np.asarray(montage.decode_chip(idx.chip(face_id)))


def assert_not_blank(image: np.ndarray) -> None:
    assert image.std() > 30
    assert (image.reshape(-1, 3) != montage.BACKGROUND).any(axis=1).mean() > 0.3


def test_match_montage_puts_the_query_then_each_stored_match_chip(tmp_path, celebs_index):
    out = tmp_path / "matches.png"
    result = run("match", QUERY, "--index", celebs_index, "--top", "4", "--json", "--save", out)
    matches = json.loads(result.stdout)["matches"]
    image = pixels(out)
    assert image.shape == (
        montage.TITLE_H + montage.PAD + montage.ROW_H,
        montage.chip_origin(0, 5)[0] - montage.FRAME,
        3,
    )
    assert_not_blank(image)
    query_chip = api.encode(QUERY)[0].chip
    assert np.array_equal(chip_at(image, 0, 0), query_chip)
    for col, m in enumerate(matches, start=1):
        assert np.array_equal(chip_at(image, 0, col), stored_chip(celebs_index, m["face_id"]))
        want = montage.SAME_FRAME if m["same_person"] else montage.OTHER_FRAME
        assert frame_at(image, 0, col) == want
    assert matches[0]["name"] == "jerry_seinfeld" and matches[0]["same_person"]
    assert frame_at(image, 0, 0) == montage.QUERY_FRAME


def test_montage_needs_no_original_photos(tmp_path, celebs_index):
    """The chips come from the index: a gallery that moved away still shows its faces."""
    with Index.open(celebs_index) as idx:
        q = api.make_query(idx, "madonna", api.index_settings(idx))
        matches = api.match_query(idx, q, top=2)
        own = [np.asarray(montage.decode_chip(idx.chip(f))) for f in idx.person_face_ids("madonna")]
        idx.db.execute("UPDATE photos SET path = '/gone/' || path")  # not committed
        image = np.asarray(montage.match_montage(idx, q, matches))
    assert any(np.array_equal(chip_at(image, 0, 0), chip) for chip in own)
    assert np.array_equal(chip_at(image, 0, 1), stored_chip(celebs_index, matches[0].face_id))


def test_open_without_a_display_still_saves(tmp_path, celebs_index, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "m.png"
    result = run(
        "match", "elton_john", "--index", celebs_index, "--top", "2", "--save", out, "--open"
    )
    assert "not opened" in result.stderr
    assert pixels(out).shape[1] == montage.chip_origin(0, 3)[0] - montage.FRAME


def test_distance_montage_shows_both_faces(tmp_path):
    out = tmp_path / "pair.png"
    a, b = EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg"
    run("distance", a, b, "--save", out)
    image = pixels(out)
    assert_not_blank(image)
    assert np.array_equal(chip_at(image, 0, 0), api.encode(a)[0].chip)
    assert np.array_equal(chip_at(image, 0, 1), api.encode(b)[0].chip)
    assert frame_at(image, 0, 0) == frame_at(image, 0, 1) == montage.SAME_FRAME


@pytest.mark.parametrize("name", ["pair.jpg", "pair"])
def test_save_follows_the_file_name(tmp_path, name):
    image = Image.new("RGB", (20, 10), (255, 0, 0))
    with Image.open(montage.save(image, tmp_path / name)) as back:
        assert back.format == ("JPEG" if name.endswith(".jpg") else "PNG")
        assert back.size == (20, 10)


def test_sprite_is_row_major():
    tiles = [Image.new("RGB", (4, 4), (i * 40, 0, 0)) for i in range(5)]
    sheet, cols = montage.sprite(tiles, 4)
    assert cols == 3 and sheet.size == (12, 8)
    px = np.asarray(sheet)
    assert px[5, 1, 0] == 3 * 40 and px[1, 9, 0] == 2 * 40


def test_a_long_verdict_or_name_wraps_rather_than_being_cut():
    """ "probably the same pe..." read as nothing (issue 35): it takes a second line."""
    tile = montage.Tile(
        None,
        ["1. Juan_Valencia_Osorio_the_Second", "0.459  91%", "probably the same person"],
        (0, 0, 0),
    )
    lines = [text for text, _, _ in montage._caption(tile)]
    assert len(lines) <= montage.CAPTION_LINES
    assert " ".join(lines[-2:]) == "probably the same person"
    assert all("..." not in line for line in lines[1:])

"""Pictures of the built-in gallery: its faces cut from the LFW photos when they are here,
else a card per match and one line saying how to make the faces appear."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, EXAMPLES, LFW
from PIL import Image

from lookalike import config, montage
from lookalike.cli import LFW_HINT, main
from lookalike.faces import CHIP_SIZE, Settings, cut_chip, embed, parts_of
from lookalike.gallery import builtin_gallery
from lookalike.images import load_photo
from lookalike.index import Index

pytestmark = pytest.mark.skipif(
    not (LFW / "images").is_dir(), reason=f"no LFW photos at {LFW}/images"
)
BIDEN = EXAMPLES / "biden.jpg"


def lookalike(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def match_picture(out, *args, env=None):
    """``match biden.jpg --gallery lfw --top 3 --json --save out``: its result, matches and
    picture."""
    result = lookalike(
        "match", BIDEN, "--gallery", "lfw", "--top", 3, "--json", "--save", out, *args, env=env
    )
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        return result, json.loads(result.stdout)["matches"], np.asarray(im.convert("RGB"))


def tile(image: np.ndarray, col: int) -> np.ndarray:
    x, y = montage.chip_origin(0, col)
    return image[y : y + CHIP_SIZE, x : x + CHIP_SIZE]


def card_share(chip: np.ndarray) -> float:
    return float((chip.reshape(-1, 3) == montage.CARD).all(axis=1).mean())


def test_a_face_cut_from_its_lfw_photo_is_the_one_the_gallery_encoded():
    """Aligned as the index's chips: re-encoded, it gives the stored embedding back (float16
    apart); as JPEG, as the montage gets it, within 0.06."""
    g = builtin_gallery(Settings(), LFW)
    for i in g.person_face_ids("Joseph_Biden")[:2] + g.person_face_ids("Madonna")[:1]:
        chip = cut_chip(load_photo(g.photo_path(i)), g.boxes[i].tolist(), g.settings())
        dlib = parts_of(g.X[i], g.settings().networks)["dlib"]  # the chip is dlib's
        assert np.linalg.norm(embed([chip], g.settings()) - dlib) < 0.005
        shown = np.asarray(montage.decode_chip(g.chip(i)))
        assert np.linalg.norm(embed([shown], g.settings()) - dlib) < 0.06


def test_with_the_lfw_folder_each_match_shows_its_face(tmp_path):
    result, matches, image = match_picture(tmp_path / "m.png", "--lfw", LFW)
    assert matches[0]["name"] == "Joseph_Biden"
    g = builtin_gallery(Settings(), LFW)
    for col, m in enumerate(matches, start=1):
        assert m["photo"] == str(LFW / "images" / m["name"] / (m["photo"].rsplit("/", 1)[1]))
        face = tile(image, col)
        assert np.array_equal(face, np.asarray(montage.decode_chip(g.chip(m["face_id"]))))
        assert face.std() > 30 and card_share(face) < 0.01
    assert LFW_HINT not in result.stderr
    assert f"remembered the LFW folder {LFW} for pictures" in result.stderr


def test_without_it_each_match_is_a_card_and_stderr_says_how(tmp_path):
    result, matches, image = match_picture(tmp_path / "m.png")
    assert matches[0]["photo"].startswith("Joseph_Biden/Joseph_Biden_")
    for col in range(1, len(matches) + 1):
        card = tile(image, col)
        assert card_share(card) > 0.5  # a card, not a face
        note = card[montage.CARD_NOTE_Y : montage.CARD_NOTE_Y + 12]
        assert note.std() > 10  # "photo not installed" is written there
    hints = [line for line in result.stderr.splitlines() if "LFW photos" in line]
    assert hints == [LFW_HINT]


def test_a_damaged_or_missing_lfw_photo_is_a_card_not_an_error(tmp_path):
    """An LFW folder with the best match's photo damaged (not a JPEG any more: a truncated
    one would load in part once face_recognition, imported by other tests, has set Pillow's
    LOAD_TRUNCATED_IMAGES) and the others missing."""
    lfw = tmp_path / "lfw"
    photo = lfw / "images" / "Joseph_Biden" / "Joseph_Biden_0005.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 damaged in transfer")
    _, matches, image = match_picture(tmp_path / "m.png", "--lfw", lfw)
    assert matches[0]["photo"] == str(photo)
    assert all(card_share(tile(image, col)) > 0.5 for col in range(1, len(matches) + 1))


def test_the_lfw_folder_is_remembered(tmp_path):
    first = lookalike("match", BIDEN, "--gallery", "lfw", "--json", "--lfw", LFW / "images")
    assert first.exit_code == 0, first.output
    assert "remembered the LFW folder" in first.stderr
    assert config.load() == {"lfw": str(LFW)}  # the folder holding images/
    again, matches, image = match_picture(tmp_path / "m.png")
    assert "remembered" not in again.stderr and LFW_HINT not in again.stderr
    assert matches[0]["photo"].startswith(str(LFW / "images"))
    assert card_share(tile(image, 1)) < 0.01


def test_the_environment_variable_names_it_too(monkeypatch):
    monkeypatch.setenv("LOOKALIKE_LFW", str(LFW))
    result = lookalike("match", BIDEN, "--gallery", "lfw", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matches"][0]["photo"].startswith(str(LFW / "images"))
    assert config.load() == {"lfw": str(LFW)}


@pytest.mark.parametrize("how", ["option", "env"])
def test_a_folder_without_lfw_is_one_error_line(tmp_path, how):
    args = ["--lfw", DATA / "examples"] if how == "option" else []
    env = {"LOOKALIKE_LFW": str(DATA / "examples")} if how == "env" else None
    result = lookalike("match", BIDEN, "--gallery", "lfw", *args, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {DATA / 'examples'} does not hold LFW: no images/ folder in it "
        "(the LFW folder holds images/<Name>/<Name>_0001.jpg)"
    ]
    assert not config.path().exists()


def test_info_says_where_lfw_is(tmp_path, monkeypatch):
    Index.open(tmp_path / "i.db", create=True).close()
    unset = lookalike("info", "--index", tmp_path / "i.db")
    assert unset.exit_code == 0, unset.output
    assert "lfw:       not set" in unset.stdout
    config.remember("lfw", str(LFW))
    shown = lookalike("info", "--index", tmp_path / "i.db", "--json")
    assert json.loads(shown.stdout)["lfw"] == str(LFW)
    text = lookalike("info", "--index", tmp_path / "i.db").stdout
    assert f"lfw:       {LFW} (" in text

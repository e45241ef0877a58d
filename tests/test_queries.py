"""What a user meets around a query: who is in the index, names given loosely, a face that
is hard to find, and one wording for each mistake."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CELEBS, EXAMPLES, needs_data
from PIL import Image
from test_cli import run

from lookalike import api
from lookalike.cli import main

pytestmark = needs_data


def test_people_lists_each_person_with_faces_and_photos(celebs_index):
    data = json.loads(run("people", "--index", celebs_index, "--json").stdout)
    people = {p["name"]: p for p in data["people"]}
    assert sorted(people) == sorted(p.name for p in (CELEBS / "gallery").iterdir())
    for person in people.values():
        photos = len(list((CELEBS / "gallery" / person["name"]).iterdir()))
        assert 0 < person["faces"] <= person["photos"] == photos
    assert data["gallery"]["kind"] == "index" and data["gallery"]["people"] == 5
    table = run("people", "--index", celebs_index).stdout.splitlines()
    assert table[0].split() == ["name", "faces", "photos"] and len(table) == 6


def test_people_of_the_built_in_gallery():
    data = json.loads(run("people", "--gallery", "lfw", "--json").stdout)
    assert len(data["people"]) == 5749 and data["gallery"]["kind"] == "builtin"
    biden = next(p for p in data["people"] if p["name"] == "Joseph_Biden")
    assert biden["faces"] == biden["photos"] > 1


def test_a_name_is_found_whatever_its_case_and_spaces(celebs_index):
    result = run("match", "Jerry Seinfeld", "--index", celebs_index, "--json")
    data = json.loads(result.stdout)
    assert data["query"]["person"] == "jerry_seinfeld" and data["query"]["photo"] is None
    assert all(m["name"] != "jerry_seinfeld" for m in data["matches"])


def test_an_unknown_name_suggests_the_nearest(celebs_index):
    result = run("match", "madona", "--index", celebs_index, ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: madona: no such file or indexed person (did you mean madonna?)"
    )


def test_a_missing_photo_is_worded_as_distance_words_it(tmp_path, celebs_index):
    missing = tmp_path / "nosuch.jpg"
    by_match = run("match", missing, "--index", celebs_index, ok=False)
    by_distance = run("distance", missing, EXAMPLES / "obama.jpg", ok=False)
    assert by_match.exit_code == by_distance.exit_code == 1
    assert by_match.stderr == by_distance.stderr == f"Error: {missing}: no such file\n"


def small_face_photo(path) -> None:
    """obama.jpg shrunk to a 50 px face on a wide canvas: below the default detector's
    80 px, and too small for its fallback's 640 px copy."""
    src = Image.open(EXAMPLES / "obama.jpg").convert("RGB")
    scale = 50 / 258  # the face is 258 px wide in obama.jpg
    canvas = Image.new("RGB", (1400, 1000), (120, 130, 140))
    canvas.paste(src.resize((round(src.width * scale), round(src.height * scale))), (600, 400))
    canvas.save(path, quality=95)


def test_a_face_the_index_cannot_see_is_looked_for_harder(tmp_path, celebs_index):
    photo = tmp_path / "far.jpg"
    small_face_photo(photo)
    result = run("match", photo, "--index", celebs_index, "--json")
    assert "found upsampled (encoded as the index's faces are)" in result.stderr
    assert json.loads(result.stdout)["query"]["found_by"] == "upsampled"
    face, _, how = api.encode_largest(photo)
    near = api.encode_largest(EXAMPLES / "obama.jpg")[0]
    assert how == "upsampled" and np.linalg.norm(face.embedding - near.embedding) < 0.4


def test_no_face_at_all_says_what_to_try(tmp_path, celebs_index):
    grey = tmp_path / "grey.png"
    Image.new("RGB", (300, 300), (128, 128, 128)).save(grey)
    result = run("match", grey, "--index", celebs_index, ok=False)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "even upsampled and with the CNN detector: try a photo" in result.stderr


def test_the_built_in_gallery_refuses_other_settings_without_naming_a_package_file():
    result = run("match", EXAMPLES / "biden.jpg", "--gallery", "lfw", "--jitters", "2", ok=False)
    assert result.exit_code == 1
    assert "built-in LFW gallery was made with other settings: jitters=2" in result.stderr
    assert "--index" not in result.stderr and ".npz" not in result.stderr


def test_save_writes_the_picture_and_the_table_is_printed(tmp_path, celebs_index):
    out = tmp_path / "m.png"  # a folder that does not exist is refused: test_first_minutes
    result = run("match", EXAMPLES / "obama.jpg", "--index", celebs_index, "--save", out)
    assert out.is_file() and result.stdout.startswith("rank")


@pytest.mark.parametrize("quality", ["default", "best"])
def test_a_photo_of_the_gallery_is_said_to_be_that_photo(quality):
    photo = CELEBS.parent / "lfw" / "images" / "Joseph_Biden" / "Joseph_Biden_0005.jpg"
    args = ("match", photo, "--gallery", "lfw", "--quality", quality, "--json")
    first = json.loads(run(*args).stdout)["matches"][0]
    assert first["resemblance"] == "the same photo" and first["same_person"]
    assert first["photo"].endswith("Joseph_Biden_0005.jpg")
    assert first["distance"] >= 0 and first["calibrated"] >= 0


def test_every_commands_help_has_an_example():
    for name in main.commands:
        assert f"lookalike {name} " in run(name, "--help").stdout, name
    top = run("--help").stdout
    assert "built-in" in top and "LOOKALIKE_INDEX" in top and "--index" in top

"""The built-in LFW gallery: packaged, made with the encoder's settings, and used by `match`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, needs_data

from lookalike.cli import main
from lookalike.faces import QUALITY, Settings
from lookalike.gallery import PACKAGED, BuiltinGallery, packaged
from lookalike.lfw import _found_by_cnn, holds_centre


@pytest.fixture
def no_index_of_ones_own(tmp_path, monkeypatch):
    """No --index, no $LOOKALIKE_INDEX, and no index at the default place."""
    monkeypatch.delenv("LOOKALIKE_INDEX")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))


def match(*args):
    return CliRunner().invoke(main, ["match", *map(str, args)])


def test_the_packaged_gallery_loads_with_the_settings_the_encoder_uses():
    g = BuiltinGallery()
    assert g.settings() == Settings()
    assert len(g.names) == 5749 and len(g.X) >= 13_000
    assert g.X.shape[1] == 256 and np.isfinite(g.X).all()  # dlib's and SFace's vectors
    assert g.path.stat().st_size < 8_000_000  # embeddings only, no pixels


@pytest.mark.parametrize("preset", list(PACKAGED))
def test_every_gallery_face_holds_its_photos_centre(preset):
    """LFW centres the person named: a face beside them is someone else (250x250 photos)."""
    g = BuiltinGallery(packaged(Settings(**QUALITY[preset])))
    assert all(holds_centre(box, 250, 250) for box in g.boxes.tolist())
    assert holds_centre([84, 179, 163, 100], 250, 250)
    assert not holds_centre([8, 249, 112, 158], 250, 250)  # Hugo Chavez beside Elena de Chavez


@pytest.mark.parametrize("preset", list(PACKAGED))
def test_a_gallery_stores_its_cohorts_typical_nearness_of_every_face(preset):
    """Measured once when the gallery is built (1.7 s), not at every command."""
    g = BuiltinGallery(packaged(Settings(**QUALITY[preset])))
    assert g.cohort().typical == g.typical == pytest.approx(np.median(g.cohort().nearness(g.X)))
    fewer = g.cohort(without=g.names[:100])
    assert fewer.typical == np.median(fewer.nearness(fewer.X)) != g.typical


@needs_data
def test_a_photo_where_only_someone_beside_is_found_gets_its_centred_face_from_the_cnn():
    photo = EXAMPLES.parent / "lfw" / "images" / "Elena_de_Chavez" / "Elena_de_Chavez_0001.jpg"
    found = _found_by_cnn(photo, Settings())
    assert found.count == 2 and holds_centre(found.box, 250, 250)


@needs_data
def test_match_without_an_index_uses_the_gallery_and_says_so(no_index_of_ones_own):
    result = match(EXAMPLES / "biden.jpg", "--json")
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["matches"][0]
    assert best["name"] == "Joseph_Biden" and best["same_person"]
    assert best["photo"].startswith("Joseph_Biden/Joseph_Biden_") and best["photo"].endswith(".jpg")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "built-in LFW gallery" in result.stderr


@needs_data
def test_gallery_lfw_is_used_when_asked_even_with_an_index(tmp_path):
    result = match(
        EXAMPLES / "biden.jpg", "--gallery", "lfw", "--index", tmp_path / "none.db", "--top", "3"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[1].split()[1] == "Joseph_Biden" and len(lines) == 4


def test_other_settings_than_the_gallerys_are_refused():
    result = match(EXAMPLES / "biden.jpg", "--gallery", "lfw", "--quality", "cli")
    assert result.exit_code == 1
    assert "other settings" in result.stderr and "upsample=1" in result.stderr


@needs_data
def test_quality_best_matches_against_the_gallery_made_with_it(no_index_of_ones_own):
    result = match(EXAMPLES / "biden.jpg", "--quality", "best", "--json")
    assert result.exit_code == 0, result.output
    assert "--quality best" in result.stderr
    best = json.loads(result.stdout)["matches"][0]
    # among 5,749 people the open-set line is strict (docs/open-set.md): the right person,
    # called the same or a very close lookalike
    assert best["name"] == "Joseph_Biden" and best["calibrated"] < 0.45
    assert best["resemblance"] in ("probably the same person", "very close lookalike")


def test_an_index_of_ones_own_is_used_when_there_is_one(tmp_path):
    result = match(EXAMPLES / "biden.jpg", "--index", tmp_path / "none.db")
    assert result.exit_code == 1 and "no index" in result.stderr

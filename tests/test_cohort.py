"""Calibrated verdicts: the cohort maths on synthetic faces, and the packaged cohorts."""

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, needs_data

from lookalike import api, cohort
from lookalike.cli import main
from lookalike.cohort import Cohort, best_threshold, offset_for
from lookalike.faces import QUALITY, Settings
from lookalike.gallery import BuiltinGallery, cohort_for, packaged
from lookalike.index import Index
from lookalike.models.dlibnets import dlib_info


def on_a_line(positions: list[float]) -> np.ndarray:
    """Faces along the first axis: L2 distances are differences of positions."""
    X = np.zeros((len(positions), 128), np.float32)
    X[:, 0] = positions
    return X


def test_nearness_skips_the_nearest_person_and_takes_each_persons_nearest_face():
    # person 0 at 0 (the face's own person, skipped), then people at 1, 2, ... 12; person 3
    # also has a face far away, which does not count: their nearest face does
    positions = [0.0, *range(1, 13), 40.0]
    person = np.array([0, *range(1, 13), 3])
    c = Cohort.of(on_a_line(positions), person)
    near = c.nearness(on_a_line([0.0]))
    assert near == pytest.approx([np.mean(np.arange(cohort.SKIP, cohort.SKIP + cohort.NEAREST))])


def test_a_crowded_pair_is_pushed_apart_a_lonely_one_drawn_together_an_ordinary_one_kept():
    rng = np.random.default_rng(1)
    c = Cohort.of(rng.normal(size=(600, 128)).astype(np.float32) * 0.06, np.arange(600) // 3)
    assert 0 < c.typical == np.median(c.nearness(c.X))  # every face, not a sample
    d = np.full(3, 0.5)
    near = c.typical + np.array([-0.1, 0.1, 0])  # crowded, lonely, ordinary
    assert c.calibrate(d, near, near) == pytest.approx([0.6, 0.4, 0.5])
    shifted = Cohort.of(c.X, np.arange(600) // 3, offset=0.02)
    assert shifted.calibrate(d, near, near) == pytest.approx([0.62, 0.42, 0.52])


def test_the_offset_puts_the_line_where_the_pairs_are_best_told_apart():
    c = Cohort.of(on_a_line([0.0, 1.0, 2.0]), np.array([0, 1, 2]))
    d = np.array([0.30, 0.40, 0.50, 0.62, 0.70, 0.80])
    same = np.array([True, True, True, False, False, False])
    near = np.full(6, c.typical)  # ordinary faces: calibrated as they are
    assert best_threshold(d, same) == pytest.approx(0.56)
    offset = offset_for(c, d, near, near, same, line=0.6)
    assert offset == pytest.approx(0.04)
    calibrated = Cohort.of(c.X, np.array([0, 1, 2]), offset).calibrate(d, near, near)
    assert best_threshold(calibrated, same) == pytest.approx(0.6)


def test_nearness_is_the_same_in_one_batch_or_many():
    rng = np.random.default_rng(2)
    c = Cohort.of(rng.normal(size=(300, 128)).astype(np.float32), np.arange(300) % 40)
    E = rng.normal(size=(600, 128)).astype(np.float32)
    assert np.allclose(c.nearness(E), np.concatenate([c.nearness(e) for e in E[:, None]]))


@pytest.mark.parametrize("quality", ["default", "best"])
def test_each_packaged_gallery_is_the_cohort_of_its_own_settings(quality):
    settings = Settings(**QUALITY[quality])
    gallery = BuiltinGallery(packaged(settings))
    assert gallery.settings() == settings and len(gallery.names) == 5749
    c = cohort_for(settings)
    assert len(c.starts) == 5749 and len(c.X) == len(gallery.X)
    assert 0.4 < c.typical < 0.8 and abs(c.offset) < 0.05  # 0.6 was near the best line


def test_an_index_made_with_best_before_its_fallback_changed_is_still_calibrated():
    """best's fallback was the CNN alone until 2026-12-03: its packaged gallery, 23 faces
    apart, still calibrates those indexes."""
    before = replace(Settings(**QUALITY["best"]), fallback="cnn", small_faces=0)
    assert len(cohort_for(before).X) == 13233
    assert cohort_for(replace(before, mirror=False)) is None


def test_an_index_made_with_best_before_is_still_best(tmp_path):
    """Asking it for --quality best means its own settings (it is not refused), and info
    names the preset with what was different."""
    before = replace(Settings(**QUALITY["best"]), fallback="cnn", small_faces=0)
    with Index.open(tmp_path / "old.db", create=True) as idx, idx.writer():
        idx.set_settings(before, dlib_info())
    with Index.open(tmp_path / "old.db") as idx:
        assert api.index_settings(idx, QUALITY["best"]) == before
        with pytest.raises(ValueError, match="other settings"):
            api.index_settings(idx, QUALITY["default"])
    result = CliRunner().invoke(main, ["info", "--index", str(tmp_path / "old.db")])
    assert "--quality best as it was (fallback=cnn, small_faces=0)" in result.output


def test_settings_without_a_packaged_gallery_have_no_cohort():
    assert cohort_for(Settings(**QUALITY["cli"])) is None
    assert cohort_for(Settings(jitters=5)) is None


@needs_data
def test_distance_and_match_give_calibrated_verdicts():
    def run(*args):
        result = CliRunner().invoke(main, [*map(str, args), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    same = run("distance", EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg")
    assert same["same_person"] and same["calibrated"] < same["tolerance"]
    other = run("distance", EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg", "--quality", "best")
    assert not other["same_person"] and other["calibrated"] > other["tolerance"]
    cosine = run("distance", EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg", "--metric", "cosine")
    assert cosine["calibrated"] is None
    best = run("match", EXAMPLES / "biden.jpg", "--gallery", "lfw")["matches"][0]
    assert best["name"] == "Joseph_Biden" and best["same_person"] and best["calibrated"] < 0.6


@needs_data
def test_without_a_cohort_the_verdict_is_taken_from_the_plain_distance():
    photos = [str(EXAMPLES / "obama.jpg"), str(EXAMPLES / "obama2.jpg")]
    result = CliRunner().invoke(main, ["distance", *photos, "--quality", "cli"])
    assert result.exit_code == 0, result.output
    assert "calibrated" not in result.stdout and "same person" in result.stdout

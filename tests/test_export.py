"""lookalike export: every format holds exactly the index's faces and embeddings."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import needs_data
from PIL import Image

from lookalike import export, montage
from lookalike.cli import main
from lookalike.index import DIM, Index

FUSED = 2 * DIM  # the index's vectors: dlib's and SFace's

pytestmark = needs_data


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def truth(celebs_index) -> export.Records:
    with Index.open(celebs_index) as idx:
        return export.records(idx)


def test_records_are_the_index(truth, celebs_index):
    with Index.open(celebs_index) as idx:
        g = idx.gallery()
        info = idx.describe_faces(g.face_ids)
    assert np.array_equal(truth.X, g.X) and truth.X.dtype == np.float32
    assert truth.X.shape == (len(info), FUSED)
    for i, fid in enumerate(truth.face_ids):
        assert truth.names[i] == info[int(fid)]["name"]
        assert truth.photos[i] == info[int(fid)]["path"]
        assert truth.boxes[i].tolist() == info[int(fid)]["box"]
    assert None in truth.names  # celebs5 has bystanders


def test_npz(tmp_path, truth, celebs_index):
    out = tmp_path / "faces.npz"
    run("export", out, "--index", celebs_index)
    with np.load(out) as z:  # no pickle needed
        assert np.array_equal(z["embeddings"], truth.X) and z["embeddings"].dtype == np.float32
        assert z["names"].tolist() == [n or "" for n in truth.names]
        assert z["photos"].tolist() == truth.photos
        assert np.array_equal(z["boxes"], truth.boxes)
        assert np.array_equal(z["face_ids"], truth.face_ids)


def test_csv(tmp_path, truth, celebs_index):
    out = tmp_path / "faces.csv"
    run("export", "--format", "csv", out, "--index", celebs_index)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][:7] == ["face_id", "name", "photo", "top", "right", "bottom", "left"]
    assert len(rows[0]) == 7 + FUSED and len(rows) == len(truth) + 1
    X = np.array([r[7:] for r in rows[1:]], dtype=np.float32)
    assert np.array_equal(X, truth.X)
    assert [r[1] for r in rows[1:]] == [n or "" for n in truth.names]
    assert [[int(v) for v in r[3:7]] for r in rows[1:]] == truth.boxes.tolist()


def test_json(tmp_path, truth, celebs_index):
    out = tmp_path / "faces.json"
    run("export", out, "--index", celebs_index)
    items = json.loads(out.read_text(encoding="utf-8"))
    assert len(items) == len(truth)
    assert np.array_equal(np.array([i["embedding"] for i in items], np.float32), truth.X)
    assert [i["name"] for i in items] == truth.names
    assert [i["photo"] for i in items] == truth.photos
    edges = ("top", "right", "bottom", "left")
    assert [[i["box"][e] for e in edges] for i in items] == truth.boxes.tolist()
    assert [i["face_id"] for i in items] == truth.face_ids.tolist()


def test_projector_folder(tmp_path, truth, celebs_index):
    out = tmp_path / "projector"
    printed = run(
        "export",
        "--format",
        "projector",
        out,
        "--index",
        celebs_index,
        "--base-url",
        "http://localhost:8000/p/",
    ).stdout.split()
    assert sorted(printed) == sorted(
        str(out / n) for n in ("vectors.tsv", "metadata.tsv", "sprite.jpg", "projector_config.json")
    )

    vectors = [line.split("\t") for line in (out / "vectors.tsv").read_text().splitlines()]
    assert len(vectors) == len(truth) and {len(v) for v in vectors} == {FUSED}
    assert np.array_equal(np.array(vectors, np.float32), truth.X)

    meta = [line.split("\t") for line in (out / "metadata.tsv").read_text().splitlines()]
    assert meta[0] == ["name", "photo", "face_id"] and len(meta) == len(truth) + 1
    assert [m[0] for m in meta[1:]] == [n or "(unnamed)" for n in truth.names]
    assert [int(m[2]) for m in meta[1:]] == truth.face_ids.tolist()

    config = json.loads((out / "projector_config.json").read_text())["embeddings"][0]
    assert config["tensorShape"] == [len(truth), FUSED]
    assert config["tensorPath"] == "http://localhost:8000/p/vectors.tsv"
    assert config["metadataPath"].endswith("/metadata.tsv")
    side, _ = config["sprite"]["singleImageDim"]
    with Image.open(out / "sprite.jpg") as sheet:
        cols = sheet.width // side
        assert cols * cols >= len(truth) and sheet.width <= export.SPRITE_MAX
        cells = np.asarray(sheet.convert("RGB")).astype(int)
    with Index.open(celebs_index) as idx:
        for i in (0, len(truth) // 2, len(truth) - 1):  # the right chip in the right cell
            want = np.asarray(montage.thumbnails(idx, [truth.face_ids[i]], side)[0]).astype(int)
            y, x = (i // cols) * side, (i % cols) * side
            got = cells[y : y + side, x : x + side]
            assert np.abs(got - want).mean() < 6
            other = np.asarray(montage.thumbnails(idx, [truth.face_ids[i - 1]], side)[0])
            assert np.abs(got - other.astype(int)).mean() > np.abs(got - want).mean() + 10


def test_format_from_the_file_name():
    assert [export.format_for(n) for n in ("a.npz", "b.CSV", "c.json", "dir", "d.tsv")] == [
        "npz",
        "csv",
        "json",
        "projector",
        "projector",
    ]

"""Every command's --json, against the shapes docs/json.md documents: boxes with named
edges, faces numbered from 1, a photo always called ``photo``."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner
from conftest import EXAMPLES, needs_data

from lookalike.cli import main
from lookalike.index import Index

pytestmark = needs_data

BOX = {"top", "right", "bottom", "left"}
COUNTS = {"photos", "faces", "people"}


def run_json(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_box(box) -> None:
    assert set(box) == BOX and all(isinstance(v, int) for v in box.values())
    assert box["top"] < box["bottom"] and box["left"] < box["right"]


def assert_gallery(g: dict, kind: str) -> None:
    assert {"kind", "name", "path"} | COUNTS <= set(g) and g["kind"] == kind


def assert_match_report(data: dict, kind: str, faces: int = 1) -> None:
    assert set(data) == {"query", "gallery", "metric", "tolerance", "calibrated", "matches"}
    q = data["query"]
    assert set(q) == {"photo", "person", "faces_found", "found_by", "faces"}
    assert [f["face"] for f in q["faces"]] == list(range(1, faces + 1))
    assert_gallery(data["gallery"], kind)
    for m in data["matches"]:
        assert set(m) == {
            "face",
            "rank",
            "name",
            "photo",
            "box",
            "distance",
            "calibrated",
            "similarity",
            "resemblance",
            "same_person",
            "face_id",
        }
        assert 1 <= m["face"] <= faces and m["rank"] >= 1 and m["distance"] >= 0
        assert_box(m["box"])
        assert isinstance(m["same_person"], bool) and m["resemblance"]


def test_index_info_people_and_export(tmp_path):
    folder = tmp_path / "people" / "obama"
    folder.mkdir(parents=True)
    for photo in ("obama.jpg", "obama2.jpg"):
        shutil.copy(EXAMPLES / photo, folder)
    db = tmp_path / "i.db"
    report = run_json("index", folder.parent, "--index", db)
    assert set(report) >= {"index", "folders"} | COUNTS and report["index"] == str(db)
    (summary,) = report["folders"]
    assert summary["folder"] == str(folder.parent) and summary["faces"] == 2
    assert summary["without_face"] == [] and summary["unreadable"] == []

    info = run_json("info", "--index", db)
    assert info["index"] == str(db) and {"settings", "lfw"} | COUNTS <= set(info)

    people = run_json("people", "--index", db)
    assert_gallery(people["gallery"], "index")
    with Index.open(db) as idx:
        shown_by = idx.person_face_ids("obama")
    (obama,) = people["people"]
    assert obama.pop("face") in shown_by
    assert obama == {"name": "obama", "faces": 2, "photos": 2}

    out = tmp_path / "faces.json"
    CliRunner().invoke(main, ["export", str(out), "--index", str(db)])
    for face in json.loads(out.read_text()):
        assert set(face) == {"face_id", "name", "photo", "box", "embedding"}
        assert_box(face["box"])

    match = run_json("match", EXAMPLES / "two_people.jpg", "--index", db, "--all-faces")
    assert_match_report(match, "index", faces=2)
    assert match["query"]["photo"] == str(EXAMPLES / "two_people.jpg")
    for face in match["query"]["faces"]:
        assert_box(face["box"])
    by_name = run_json("match", "obama", "--index", db)
    assert by_name["query"]["person"] == "obama" and by_name["query"]["faces"][0]["box"] is None


def test_match_on_the_built_in_gallery():
    data = run_json("match", EXAMPLES / "biden.jpg", "--gallery", "lfw", "--top", "3")
    assert_match_report(data, "builtin")
    assert data["gallery"]["people"] == 5749 and data["calibrated"] is True
    assert [m["rank"] for m in data["matches"]] == [1, 2, 3]


def test_distance():
    data = run_json("distance", EXAMPLES / "obama.jpg", EXAMPLES / "two_people.jpg")
    assert set(data) == {
        "metric",
        "tolerance",
        "distance",
        "calibrated",
        "similarity",
        "same_person",
        "faces",
    }
    a, b = data["faces"]
    assert set(a) == {"photo", "face", "box", "faces_found", "found_by"}
    assert (a["face"], a["faces_found"], b["faces_found"]) == (1, 1, 2)
    assert a["photo"] == str(EXAMPLES / "obama.jpg")
    assert_box(a["box"])
    assert_box(b["box"])

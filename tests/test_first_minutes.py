"""What a new user trips on (issue 35): one line for a mistyped option, no empty index, no
folders made by a typo, counts that add up, and what there is when there is no index."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import CELEBS, EXAMPLES, needs_data

from lookalike.cli import main


def lookalike(*args, env=None):
    """The real entry point, as a shell runs it (click's own runner shows usage its way)."""
    return subprocess.run(
        [sys.executable, "-m", "lookalike", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("match", "--topp", "3"), "No such option '--topp'"),
        (("matc", "x.jpg"), "No such command 'matc'"),
        (("match",), "Missing argument 'QUERY'"),
        (("match", "x.jpg", "--top", "0"), "Invalid value for '--top'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, says):
    result = lookalike(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert says in result.stderr and "--help)" in result.stderr
    assert result.stdout == ""


def test_an_empty_folder_makes_no_index(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "notes.txt").write_text("no photo here")
    db = tmp_path / "index.db"
    result = CliRunner().invoke(
        main, ["index", str(tmp_path / "photos"), "--index", str(db), "--verbose"]
    )
    assert result.exit_code == 1
    assert "no photos in it" in result.stderr
    assert result.stderr.rstrip().endswith(f"nothing indexed, no index made at {db}")
    assert list(tmp_path.glob("index.db*")) == []


@needs_data
def test_save_into_a_folder_that_does_not_exist_is_refused_before_any_work(tmp_path):
    out = tmp_path / "no" / "such" / "pair.png"
    photos = [EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg"]
    result = lookalike("distance", *photos, "--save", out)
    assert result.returncode == 2 and result.stdout == ""
    assert f"{out.parent}: no such folder" in result.stderr
    assert not (tmp_path / "no").exists()


@needs_data
def test_the_totals_say_which_faces_nobody_is_credited_with(tmp_path):
    """A bystander in one of madonna's photos: the faces add up."""
    folder = tmp_path / "photos" / "madonna"
    folder.mkdir(parents=True)
    for photo in sorted((CELEBS / "gallery" / "madonna").iterdir()):
        (folder / photo.name).write_bytes(photo.read_bytes())
    group = EXAMPLES / "two_people.jpg"
    (folder / group.name).write_bytes(group.read_bytes())
    db = tmp_path / "i.db"
    result = CliRunner().invoke(
        main, ["index", str(tmp_path / "photos"), "--index", str(db), "--verbose"]
    )
    counts = json.loads(CliRunner().invoke(main, ["info", "--index", str(db), "--json"]).stdout)
    unnamed = counts["faces"] - counts["credited_faces"]
    assert unnamed >= 1
    words = f"{counts['credited_faces']} of 1 people, {unnamed} unnamed: `lookalike cluster`"
    assert words in result.stderr
    # --verbose: which face of the photo with two is madonna's
    assert f"  2 faces: {folder / group.name}: face " in result.stderr
    assert "credited to madonna" in result.stderr


def test_info_without_an_index_says_what_answers_meanwhile(tmp_path, monkeypatch):
    monkeypatch.delenv("LOOKALIKE_INDEX")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["info"])
    assert result.exit_code == 0
    assert result.stdout.startswith("index:     none yet (`lookalike index DIR` makes one at")
    assert "built-in LFW gallery meanwhile (13,233 faces of 5,749 people)" in result.stdout
    data = json.loads(CliRunner().invoke(main, ["info", "--json"]).stdout)
    assert data["index"] is None and data["gallery"]["kind"] == "builtin"
    named = CliRunner().invoke(main, ["info", "--index", str(tmp_path / "nope.db")])
    assert named.exit_code == 1 and "no index at" in named.stderr  # asked for by name


def test_map_without_an_index_maps_the_built_in_gallery(tmp_path, monkeypatch):
    monkeypatch.delenv("LOOKALIKE_INDEX")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    out = tmp_path / "map.png"
    result = CliRunner().invoke(main, ["map", "--out", str(out), "--per-person"])
    assert result.exit_code == 0, result.output
    assert "mapping the built-in LFW gallery" in result.stderr and out.stat().st_size > 10_000


@needs_data
def test_a_map_says_nothing_of_fonts(celebs_index, tmp_path):
    """The Noto fonts have no bold: matplotlib's "findfont: Failed to find font weight bold"
    once per font is no news to a user."""
    query = next((CELEBS / "queries" / "madonna").iterdir())
    args = ("map", "--index", celebs_index, "--out", tmp_path / "m.png", "--highlight", query)
    result = lookalike(*args)
    assert result.returncode == 0, result.stderr
    assert "findfont" not in result.stderr


@needs_data
def test_people_name_lists_the_faces_credited_and_how_to_take_one_away(celebs_index):
    result = CliRunner().invoke(main, ["people", "Madonna", "--index", str(celebs_index)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["face", "by"] and len(lines) > 10
    assert all(" folder " in line for line in lines[1:])
    assert 'lookalike name --face ID "Who it is"' in result.stderr
    data = json.loads(
        CliRunner()
        .invoke(main, ["people", "madonna", "--index", str(celebs_index), "--json"])
        .stdout
    )
    assert data["name"] == "madonna" and len(data["faces"]) == len(lines) - 1
    wrong = CliRunner().invoke(main, ["people", "madona", "--index", str(celebs_index)])
    assert wrong.exit_code == 1 and "did you mean madonna?" in wrong.stderr

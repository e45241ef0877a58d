"""Bad inputs, through the real CLI: what the summary says, what the index holds, the exit code.

One folder holds every odd file a folder from the web or a phone can hold, made here from
real photos (see robustness_kit); it is indexed once, and each test reads that run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import robustness_kit as kit
from conftest import EXAMPLES, needs_data
from PIL import Image, ImageOps
from robustness_kit import assert_one_line_error, lookalike

pytestmark = needs_data

#: file -> (status in the index, faces, words of the reason shown for it)
BAD = {
    "zero.jpg": ("error", "empty file"),
    "page.jpg": ("error", "not an image"),
    "truncated.jpg": ("error", "truncated"),
    "bomb.png": ("error", "too many pixels"),
    "loop.jpg": ("error", "symbolic links"),
    "tiny.png": ("noface", None),
    "no_face.jpg": ("noface", None),
}
ONE_FACE = [
    "upright.jpg",
    "png_named.jpg",
    "jpeg_named.png",
    "anim.gif",
    "exif_broken.png",
    "mode_rgba.png",
    "mode_la.png",
    "mode_p.png",
    "mode_l.jpg",
    "mode_i16.png",
    "mode_cmyk.jpg",
    *(f"orientation_{n}.jpg" for n in kit.STORED_AS),
]
NON_UTF8 = "caf\\xe9.jpg"  # how b"caf\xe9.jpg" is stored and shown


def make_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "zero.jpg").touch()
    (folder / "page.jpg").write_text("<!doctype html><html><body>404 Not Found</body></html>")
    (folder / "notes.txt").write_text("not a photo, and not named like one")
    kit.save_truncated(folder / "truncated.jpg")
    kit.save_bomb(folder / "bomb.png")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    (folder / "again").symlink_to(".", target_is_directory=True)
    Image.new("RGB", (1, 1), "white").save(folder / "tiny.png")
    kit.save_no_face(folder / "no_face.jpg")
    kit.face().save(folder / "upright.jpg", quality=95)
    kit.save_swapped_formats(folder)
    kit.save_animated_gif(folder / "anim.gif")
    kit.save_broken_exif(folder / "exif_broken.png")
    kit.save_modes(folder)
    for n in kit.STORED_AS:
        kit.save_oriented(folder / f"orientation_{n}.jpg", n)
    kit.non_utf8_name(folder)
    kit.save_crowd(folder / "crowd.jpg")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """The odd folder, indexed once with --json --verbose; its summary and what the index holds."""
    base = tmp_path_factory.mktemp("corpus")
    folder, index = base / "photos", base / "index.db"
    make_corpus(folder)
    result = lookalike("index", folder, "--index", index, "--jobs", "2", "--json", "--verbose")
    summary = json.loads(result.stdout)["folders"][0] if result.returncode == 0 else None
    by_name = {Path(p).name: row for p, row in kit.rows(index).items()} if index.exists() else {}
    return {"folder": folder, "index": index, "result": result, "summary": summary, "rows": by_name}


def test_index_keeps_going_and_exits_0(corpus):
    result = corpus["result"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    s = corpus["summary"]
    assert s["photos"] == len(BAD) + len(ONE_FACE) + 2  # + non-UTF-8 name + crowd
    assert s["other_files"] == 1  # notes.txt, skipped silently but counted
    assert not s["interrupted"]


def test_summary_names_every_skipped_file_with_its_reason(corpus):
    s, stderr = corpus["summary"], corpus["result"].stderr
    unreadable = {Path(u["photo"]).name: u["reason"] for u in s["unreadable"]}
    no_face = {Path(p).name for p in s["without_face"]}
    assert unreadable.keys() == {n for n, (st, _) in BAD.items() if st == "error"}
    assert no_face == {n for n, (st, _) in BAD.items() if st == "noface"}
    for name, reason in unreadable.items():
        assert BAD[name][1] in reason, (name, reason)
        assert f"unreadable: {corpus['folder'] / name}: {reason}" in stderr  # --verbose
    for name in no_face:
        assert f"no face: {corpus['folder'] / name}" in stderr
    assert "notes.txt" not in stderr


def test_index_holds_each_file_with_its_status(corpus):
    held = corpus["rows"]
    assert "notes.txt" not in held and "again" not in " ".join(held)
    for name, (status, reason) in BAD.items():
        assert held[name]["status"] == status and held[name]["faces"] == [], name
        if reason:
            assert reason in held[name]["error"]
    for name in [*ONE_FACE, NON_UTF8]:
        assert held[name]["status"] == "ok", (name, held[name]["error"])
        assert len(held[name]["faces"]) == 1, name
    data = kit.info(corpus["index"])
    assert data["photos"] == len(held)
    assert data["unreadable_photos"] == sum(st == "error" for st, _ in BAD.values())
    assert data["photos_without_face"] == sum(st == "noface" for st, _ in BAD.values())
    problems = {Path(p["photo"]).name: p for p in data["problems"]}
    assert problems.keys() == BAD.keys()


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


@pytest.mark.parametrize("name", [n for n in ONE_FACE if n != "upright.jpg"] + [NON_UTF8])
def test_every_format_and_mode_finds_the_same_face(corpus, name):
    upright = corpus["rows"]["upright.jpg"]["faces"][0]
    found = corpus["rows"][name]["faces"][0]
    assert distance(found["embedding"], upright["embedding"]) < 0.25, name
    # boxes are in the upright photo's pixels, whatever the file stored
    assert np.abs(np.subtract(found["box"], upright["box"])).max() <= 12, name


@pytest.mark.parametrize("orientation", sorted(kit.STORED_AS))
def test_exif_orientation_is_applied(corpus, orientation):
    """A sideways or mirrored camera file is found and matches the upright photo closely."""
    upright = corpus["rows"]["upright.jpg"]["faces"][0]
    found = corpus["rows"][f"orientation_{orientation}.jpg"]["faces"][0]
    assert distance(found["embedding"], upright["embedding"]) < 0.1
    with Image.open(corpus["folder"] / f"orientation_{orientation}.jpg") as img:
        assert img.getexif()[kit.ORIENTATION] == orientation  # the file really is sideways


def test_broken_exif_really_breaks_exif_transpose(corpus):
    with Image.open(corpus["folder"] / "exif_broken.png") as img, pytest.raises(ValueError):
        ImageOps.exif_transpose(img)
    assert corpus["rows"]["exif_broken.png"]["status"] == "ok"


def test_many_faces_are_all_indexed_one_credited(corpus):
    faces = corpus["rows"]["crowd.jpg"]["faces"]
    assert len(faces) >= 10
    assert sum(f["credited"] for f in faces) == 1  # the rest are unnamed bystanders
    result = lookalike(
        "match", corpus["folder"] / "crowd.jpg", "--index", corpus["index"], "--json"
    )
    assert result.returncode == 0, result.stderr
    assert f"{len(faces)} faces; matching the largest" in result.stderr


def test_non_utf8_file_name_is_shown_escaped_and_can_be_queried(corpus):
    path = os.path.join(os.fsencode(corpus["folder"]), b"caf\xe9.jpg")
    result = lookalike("match", path, "--index", corpus["index"], "--json", "--faces", "-k", "10")
    assert result.returncode == 0, result.stderr
    matches = json.loads(result.stdout)["matches"]
    found = {Path(m["photo"]).name: m for m in matches}  # ties at 0: lossless
    assert found[NON_UTF8]["distance"] < 1e-6 and found[NON_UTF8]["name"] == "caf\\xe9"


def test_second_run_encodes_nothing(corpus):
    result = lookalike("index", corpus["folder"], "--index", corpus["index"], "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)["folders"][0]
    assert s["encoded"] == 0 and s["removed"] == 0
    assert s["photos"] == corpus["summary"]["photos"]


@pytest.mark.parametrize("name", [*BAD, "missing.jpg"])
def test_match_and_distance_on_a_bad_file_say_one_line(corpus, name):
    path = corpus["folder"] / name
    reason = BAD.get(name, (None, "no such"))[1] or "no face"
    assert_one_line_error(lookalike("match", path, "--index", corpus["index"]), reason, name)
    assert_one_line_error(lookalike("distance", path, EXAMPLES / "obama.jpg"), reason, name)


def test_distance_names_which_photo_is_bad(corpus):
    result = lookalike("distance", EXAMPLES / "obama.jpg", corpus["folder"] / "truncated.jpg")
    assert_one_line_error(result, "truncated.jpg", "truncated")
    assert "obama.jpg" not in result.stderr


def test_match_on_a_folder_says_one_line(corpus):
    assert_one_line_error(
        lookalike("match", corpus["folder"], "--index", corpus["index"]), "directory"
    )


# -- the decompression-bomb guard and big photos ---------------------------------------------
def peak_rss_mb(*args: str | os.PathLike) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``lookalike`` from a fresh Python and return its peak RSS (workers included)."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *kit.CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    *stderr, peak_kb = result.stderr.strip().splitlines()
    result.stderr = "\n".join(stderr)
    return result, int(peak_kb) / 1024


def test_bomb_is_refused_before_decoding(tmp_path):
    kit.save_bomb(tmp_path / "bomb.png")
    result, peak = peak_rss_mb("distance", tmp_path / "bomb.png", EXAMPLES / "obama.jpg")
    assert_one_line_error(result, "too many pixels", "--max-pixels")
    assert peak < 300  # decoding 50000x50000 RGB would need 7.5 GB


def test_max_pixels_moves_the_limit_both_ways(tmp_path):
    kit.save_huge(tmp_path / "huge.jpg")  # 48 Mpx
    result = lookalike(
        "distance", tmp_path / "huge.jpg", EXAMPLES / "obama.jpg", "--max-pixels", "40000000"
    )
    assert_one_line_error(result, "8000x6000", "40,000,000", "--max-pixels")
    kit.save_bomb(tmp_path / "big.png", 16_000, 16_000)  # above Pillow's own fixed guard
    default = lookalike("distance", tmp_path / "big.png", EXAMPLES / "obama.jpg")
    assert_one_line_error(default, "too many pixels")
    raised = lookalike(
        "distance", tmp_path / "big.png", EXAMPLES / "obama.jpg", "--max-pixels", "300000000"
    )
    assert_one_line_error(raised, "truncated")  # past the guard: decoding starts, data ends


def test_huge_photo_is_indexed_in_bounded_memory(tmp_path, corpus):
    folder = tmp_path / "huge"
    folder.mkdir()
    kit.save_huge(folder / "huge.jpg")
    index = tmp_path / "index.db"
    result, peak = peak_rss_mb("index", folder, "--index", index, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["folders"][0]["faces"] == 1
    assert peak < 1024, f"peak RSS {peak:.0f} MB"
    (face,) = next(iter(kit.rows(index).values()))["faces"]
    top, right, bottom, left = face["box"]  # in the 8000x6000 photo's own pixels
    x, y = kit.HUGE_FACE_AT
    assert x <= left < right <= x + 2730 and y <= top < bottom <= y + 3411
    upright = corpus["rows"]["upright.jpg"]["faces"][0]
    assert distance(face["embedding"], upright["embedding"]) < 0.25


# -- folders ---------------------------------------------------------------------------------
def test_empty_folder(tmp_path):
    """No photo, no index (issue 35: an empty index only answered "no one" later)."""
    (tmp_path / "empty").mkdir()
    result = lookalike("index", tmp_path / "empty", "--index", tmp_path / "i.db", "--json")
    assert result.returncode == 1 and result.stdout == ""
    assert "0 photos" in result.stderr and "Error: no photos found" in result.stderr
    assert not (tmp_path / "i.db").exists()


def test_missing_folder(tmp_path):
    result = lookalike("index", tmp_path / "nowhere", "--index", tmp_path / "i.db")
    assert_one_line_error(result, "no such folder", str(tmp_path / "nowhere"))
    assert result.stdout == ""


def test_unreadable_file_and_folder(tmp_path):
    """chmod 000 on a photo, then on a folder: each reported with its reason, nothing lost."""
    try:
        as_user = kit.permission_respecting()
    except OSError as e:
        pytest.skip(f"running as root and {e}: root reads a chmod 000 file")
    folder, index = tmp_path / "photos", tmp_path / "index.db"
    (folder / "locked").mkdir(parents=True)
    for path in ("readable.jpg", "secret.jpg", "locked/inside.jpg"):
        kit.face().save(folder / path)
    (folder / "secret.jpg").chmod(0)
    first = lookalike("index", folder, "--index", index, "--json", "-v", **as_user)
    (folder / "locked").chmod(0)
    try:
        second = lookalike("index", folder, "--index", index, "--json", "-v", **as_user)
        match = lookalike("match", folder / "secret.jpg", "--index", index, **as_user)
    finally:
        (folder / "locked").chmod(0o755)
    for result in (first, second):
        assert result.returncode == 0, result.stderr
    s1, s2 = (json.loads(r.stdout)["folders"][0] for r in (first, second))
    assert s1["faces"] == 2 and s1["unreadable"] == [
        {"photo": str(folder / "secret.jpg"), "reason": "Permission denied"}
    ]
    assert s2["unreadable"] == [{"photo": f"{folder / 'locked'}/", "reason": "Permission denied"}]
    assert f"unreadable: {folder / 'locked'}/: Permission denied" in second.stderr
    assert s2["removed"] == 0  # a folder that cannot be listed is not a folder that is gone
    held = {p.removeprefix(f"{folder}/"): r["status"] for p, r in kit.rows(index).items()}
    assert held == {"readable.jpg": "ok", "secret.jpg": "error", "locked/inside.jpg": "ok"}
    assert_one_line_error(match, "secret.jpg", "ermission denied")


def test_moved_folder_is_reused_and_leaves_no_stale_entries(tmp_path):
    index, old, new = tmp_path / "index.db", tmp_path / "old", tmp_path / "new"
    old.mkdir()
    for name in ("obama.jpg", "biden.jpg", "obama2.jpg"):
        (old / name).write_bytes((EXAMPLES / name).read_bytes())
    assert lookalike("index", old, "--index", index).returncode == 0
    old.rename(new)
    moved = lookalike("index", new, "--index", index, "--json")
    assert moved.returncode == 0, moved.stderr
    s = json.loads(moved.stdout)["folders"][0]
    assert (s["encoded"], s["reused"], s["removed"]) == (0, 3, 3)
    assert {Path(p).parent for p in kit.rows(index)} == {new}
    assert kit.info(index)["people"] == 3
    shutil.copytree(new, old)  # a copy is not a move: both stay
    copied = json.loads(lookalike("index", old, "--index", index, "--json").stdout)["folders"][0]
    assert (copied["encoded"], copied["reused"], copied["removed"]) == (0, 3, 0)
    assert kit.info(index)["photos"] == 6

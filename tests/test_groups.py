"""Unnamed faces, end to end on real photos: `index --unnamed`, `cluster`, `name`, `match`.

The athletes' 120 photos are indexed once a session, named (a folder per athlete: the
truth, the face each photo credits to its athlete) and then, from a copy of that index,
``--unnamed``: the same photos, so the same faces, by id, with no name; nothing is encoded
twice.  Tests that write copy the index first.
"""

import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CELEBS, DATA, needs_data

from lookalike import api, groups
from lookalike.cli import main
from lookalike.index import Index, IndexFileError

pytestmark = needs_data
PHOTOS = DATA / "photos"


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="session")
def athletes(tmp_path_factory) -> tuple[Path, Path]:
    """``(named, unnamed)``: the athletes' photos indexed by folder, and the same index made
    ``--unnamed`` (by re-indexing a copy: names change, nothing is encoded again)."""
    if not PHOTOS.is_dir():
        pytest.skip(f"no photos at {PHOTOS}")
    folder = tmp_path_factory.mktemp("athletes")
    named, unnamed = folder / "named.db", folder / "unnamed.db"
    api.index(PHOTOS, named, jobs=2)
    shutil.copy(named, unnamed)
    summary = api.index(PHOTOS, unnamed, unnamed=True)
    assert summary.encoded == 0 and summary.unchanged == summary.photos
    return named, unnamed


@pytest.fixture
def unnamed_copy(athletes, tmp_path) -> Path:
    path = tmp_path / "unnamed.db"
    shutil.copy(athletes[1], path)
    return path


@pytest.fixture
def named_copy(athletes, tmp_path) -> Path:
    path = tmp_path / "named.db"
    shutil.copy(athletes[0], path)
    return path


def credited(index_path: Path) -> dict[str, list[int]]:
    """Each person's credited face ids."""
    with Index.open(index_path) as idx:
        return {name: idx.person_face_ids(name) for name, _, _ in idx.people()}


def cluster_json(index_path: Path, *args) -> dict:
    return json.loads(run("cluster", "--index", index_path, "--json", *args).stdout)


def group_of(report: dict) -> dict[int, int]:
    return {f["face_id"]: g["group"] for g in report["groups"] for f in g["faces"]}


def test_an_unnamed_index_names_no_one(athletes):
    with Index.open(athletes[1]) as idx:
        assert idx.people() == [] and idx.counts()["people"] == 0
        assert (idx.gallery().person == -1).all()


def athletes_by_group(athletes, index_path: Path, *args) -> tuple[dict, dict]:
    """Cluster the unnamed copy; ``(athlete -> Counter of the groups of their credited
    faces, group -> the athletes with a credited face in it)``."""
    truth = credited(athletes[0])
    assert sorted(truth) == sorted(os.listdir(PHOTOS))
    groups_of = group_of(cluster_json(index_path, "--min-size", "1", *args))
    counts = {a: Counter(groups_of[f] for f in faces) for a, faces in truth.items()}
    owners: dict[int, set[str]] = {}
    for athlete, count in counts.items():
        for group in count:
            owners.setdefault(group, set()).add(athlete)
    return counts, owners


def share_in_one_group(counts: Counter) -> float:
    return counts.most_common(1)[0][1] / sum(counts.values())


def test_no_group_holds_two_athletes(athletes, unnamed_copy):
    _, owners = athletes_by_group(athletes, unnamed_copy)
    assert all(len(a) == 1 for a in owners.values()), owners


@pytest.mark.xfail(
    strict=True,
    reason="measured with the method chosen on LFW for the fused vectors (average linkage, "
    "calibrated 0.54): Messi 23 of 23 in one group, Federer 21/21, Serena Williams 20/22, "
    "Kohli 18/22, but Sharapova 13/19 (68%), as with dlib's vectors alone: six of her "
    "tennis shots (caps, shadows, grimaces) join her portraits only at 0.62, where LFW's "
    "pairwise precision is 68% (docs/clustering.md)",
)
def test_each_athlete_falls_mostly_in_one_group(athletes, unnamed_copy):
    counts, _ = athletes_by_group(athletes, unnamed_copy)
    assert all(share_in_one_group(c) >= 0.8 for c in counts.values()), counts


def test_a_looser_line_puts_each_athlete_in_one_group_still_alone(athletes, unnamed_copy):
    """--threshold 0.62, found on these photos (so no measure of accuracy): the option works,
    and the looser line still merges no two athletes here."""
    counts, owners = athletes_by_group(athletes, unnamed_copy, "--threshold", "0.62")
    assert all(share_in_one_group(c) >= 0.8 for c in counts.values()), counts
    assert all(len(a) == 1 for a in owners.values()), owners


def test_cluster_json(unnamed_copy):
    report = cluster_json(unnamed_copy)
    assert set(report) == {
        "index",
        "method",
        "faces",
        "groups_found",
        "min_size",
        "not_shown",
        "groups",
    }
    assert report["min_size"] == 2 and report["groups"]
    assert report["groups_found"] == len(report["groups"]) + report["not_shown"]
    for g in report["groups"]:
        assert set(g) == {"group", "size", "new", "faces"}
        assert g["size"] == len(g["faces"]) >= 2 and g["new"] is True
        for f in g["faces"]:
            assert set(f) == {"face_id", "photo", "box"}
            assert set(f["box"]) == {"top", "right", "bottom", "left"}
            assert Path(f["photo"]).is_file()
    sizes = [g["size"] for g in report["groups"]]
    assert sizes == sorted(sizes, reverse=True)


def test_a_rerun_keeps_every_id(unnamed_copy):
    first = cluster_json(unnamed_copy, "--min-size", "1")
    again = cluster_json(unnamed_copy, "--min-size", "1")
    assert group_of(again) == group_of(first)
    assert not any(g["new"] for g in again["groups"])


def test_name_a_group_then_match_ranks_it_under_that_name(athletes, unnamed_copy):
    messi = credited(athletes[0])["lionel_messi"]
    groups_of = group_of(cluster_json(unnamed_copy))
    group = Counter(groups_of[f] for f in messi if f in groups_of).most_common(1)[0][0]
    named = json.loads(run("name", group, "Lionel Messi", "--index", unnamed_copy, "--json").stdout)
    assert set(named) == {"index", "name", "group", "faces", "face_ids", "merged"}
    assert named["name"] == "Lionel Messi" and named["group"] == group
    assert named["merged"] is False and named["faces"] == len(named["face_ids"])
    photo = next((PHOTOS / "lionel_messi").glob("Lionel_Messi_2018*"))
    report = json.loads(run("match", photo, "--index", unnamed_copy, "--json").stdout)
    assert report["matches"][0]["name"] == "Lionel Messi"
    people = json.loads(run("people", "--index", unnamed_copy, "--json").stdout)["people"]
    assert [(p["name"], p["faces"]) for p in people] == [("Lionel Messi", named["faces"])]
    # the group is named: it is no longer among the unnamed groups
    assert group not in {g["group"] for g in cluster_json(unnamed_copy)["groups"]}


def test_a_name_the_index_has_merges_only_when_asked(unnamed_copy):
    """Naming a group with a name already used merged two people silently (issue 35): away
    from a terminal it is refused without --merge, and says so."""
    report = cluster_json(unnamed_copy)
    a, b = report["groups"][0], report["groups"][1]
    run("name", a["group"], "Roger Federer", "--index", unnamed_copy)
    refused = run("name", b["group"], "roger federer", "--index", unnamed_copy, ok=False)
    assert refused.exit_code == 1
    assert f"Roger Federer is already in the index ({a['size']} faces): --merge" in refused.stderr
    merged = json.loads(
        run(
            "name", b["group"], "roger federer", "--merge", "--index", unnamed_copy, "--json"
        ).stdout
    )
    assert merged["merged"] is True and merged["name"] == "Roger Federer"
    people = json.loads(run("people", "--index", unnamed_copy, "--json").stdout)["people"]
    assert [(p["name"], p["faces"]) for p in people] == [("Roger Federer", a["size"] + b["size"])]


def test_the_last_naming_is_taken_back_and_the_group_keeps_its_id(unnamed_copy):
    report = cluster_json(unnamed_copy)
    group = report["groups"][0]
    run("name", group["group"], "Somebody", "--index", unnamed_copy)
    again = run("name", group["group"], "Else", "--index", unnamed_copy, ok=False)
    assert f"group {group['group']} was named Somebody" in again.stderr
    undone = json.loads(run("name", "--undo", "--index", unnamed_copy, "--json").stdout)
    assert sorted(undone["undone"]) == sorted(f["face_id"] for f in group["faces"])
    with Index.open(unnamed_copy) as idx:
        assert idx.people() == []
    back = {g["group"]: g["size"] for g in cluster_json(unnamed_copy)["groups"]}
    assert back[group["group"]] == group["size"]  # the same id, the same faces
    assert "nothing to undo" in run("name", "--undo", "--index", unnamed_copy).stdout


def test_name_a_single_face(unnamed_copy):
    group = cluster_json(unnamed_copy)["groups"][0]
    face = group["faces"][0]["face_id"]
    result = run("name", "--face", face, "Someone", "--index", unnamed_copy)
    assert "is now Someone" in result.stdout
    with Index.open(unnamed_copy) as idx:
        assert idx.person_face_ids("Someone") == [face]
        assert face not in groups.stored_groups(idx)[group["group"]]


def test_a_name_given_by_mistake_is_taken_back(unnamed_copy):
    face = cluster_json(unnamed_copy)["groups"][0]["faces"][0]["face_id"]
    run("name", "--face", face, "Someone", "--index", unnamed_copy)
    taken = run("name", "--face", face, "--forget", "--index", unnamed_copy, "--json").stdout
    assert json.loads(taken) == {"index": str(unnamed_copy), "forgotten": [face]}
    with Index.open(unnamed_copy) as idx:
        assert idx.people() == []
    again = json.loads(
        run("name", "--face", face, "--forget", "--index", unnamed_copy, "--json").stdout
    )
    assert again["forgotten"] == []


def test_naming_mistakes_are_one_line(unnamed_copy):
    cluster_json(unnamed_copy)
    for args, message in [
        (("name", "999", "X"), "no group 999"),
        (("name", "--face", "999999", "X"), "no face 999999"),
        (("name", "1"), "give a group and a name"),
        (("name", "--face", "1", "1", "X"), "give only the name"),
        (("name", "--forget"), "--forget takes faces and no name"),
    ]:
        result = run(*args, "--index", unnamed_copy, ok=False)
        assert result.exit_code != 0 and message in result.output, result.output


def test_rename_a_person_then_undo(named_copy):
    before = credited(named_copy)
    with Index.open(named_copy) as idx:
        naming = groups.rename_person(idx, "Lionel  MESSI", "Leo Messi")
        assert (naming.name, naming.merged) == ("Leo Messi", False)
        assert sorted(naming.face_ids) == sorted(before["lionel_messi"])
        assert "lionel_messi" not in {name for name, _, _ in idx.people()}
        assert all(hand for *_, hand in idx.faces_named("Leo Messi"))
        assert groups.undo(idx) and "Leo Messi" not in {name for name, _, _ in idx.people()}
    assert credited(named_copy) == before


def test_rename_to_the_same_name_spelt_otherwise(named_copy):
    faces = credited(named_copy)["lionel_messi"]
    with Index.open(named_copy) as idx:
        naming = groups.rename_person(idx, "lionel_messi", "Lionel_Messi")
    assert (naming.name, naming.merged, sorted(naming.face_ids)) == ("Lionel_Messi", False, faces)
    after = credited(named_copy)
    assert "lionel_messi" not in after and sorted(after["Lionel_Messi"]) == faces


def test_rename_to_a_name_the_index_has_merges_only_when_asked(named_copy):
    before = credited(named_copy)
    with Index.open(named_copy) as idx:
        with pytest.raises(ValueError, match="roger_federer is already in the index"):
            groups.rename_person(idx, "lionel_messi", "Roger Federer")
        naming = groups.rename_person(idx, "lionel_messi", "Roger Federer", merge=True)
        assert (naming.name, naming.merged) == ("roger_federer", True)
        assert len(idx.person_face_ids("roger_federer")) == len(
            before["roger_federer"] + before["lionel_messi"]
        )
        groups.undo(idx)
    assert credited(named_copy) == before


def test_rename_mistakes(named_copy):
    with Index.open(named_copy) as idx:
        with pytest.raises(ValueError, match="no such person .*did you mean lionel_messi"):
            groups.rename_person(idx, "lionel mesi", "Leo")
        with pytest.raises(ValueError, match="a name cannot be empty"):
            groups.rename_person(idx, "lionel_messi", " ")
        assert groups.undo(idx) == []  # nothing was changed


def test_rename_on_the_command_line(named_copy):
    n = len(credited(named_copy)["lionel_messi"])
    said = run("name", "--person", "Lionel Messi", "Leo", "--index", named_copy).stdout
    assert said.strip() == f"lionel_messi ({n} faces) is now Leo, a new person"
    refused = run("name", "--person", "leo", "Roger Federer", "--index", named_copy, ok=False)
    assert refused.exit_code == 1 and "roger_federer is already in the index" in refused.stderr
    report = json.loads(
        run(
            "name", "--person", "leo", "roger federer", "--merge", "--index", named_copy, "--json"
        ).stdout
    )
    assert report["renamed"] == "Leo" and report["name"] == "roger_federer"
    assert report["merged"] is True and report["faces"] == n
    run("name", "--undo", "--index", named_copy)
    assert "Leo" in credited(named_copy)


def test_take_faces_away_from_their_folder_then_undo(named_copy):
    before = credited(named_copy)
    face = before["lionel_messi"][0]
    with Index.open(named_copy) as idx:
        bystanders = int((idx.gallery().person < 0).sum())
        assert groups.take_away(idx, [face]) == [face]
        assert face not in idx.person_face_ids("lionel_messi")
        assert idx.describe_faces([face])[face]["name"] is None
        assert face not in [f for f, *_ in idx.faces_of_person("lionel_messi")]  # not credited
        assert groups.cluster_index(idx).faces == bystanders + 1  # unnamed: grouped
        assert groups.undo(idx) == [face]
    assert credited(named_copy) == before


def test_take_away_a_name_given_by_hand(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        group = groups.cluster_index(idx).groups[0]
        groups.name_group(idx, group.id, "Somebody")
        groups.take_away(idx, group.face_ids)
        assert idx.people() == []
        assert not set(group.face_ids) & {f for g in groups.listed(idx) for f in g.face_ids}
        groups.undo(idx)
        assert idx.person_face_ids("Somebody") == group.face_ids
        with pytest.raises(IndexFileError, match="no face 999999"):
            groups.take_away(idx, [999999])


def test_take_away_on_the_command_line(named_copy):
    face, other = credited(named_copy)["lionel_messi"][:2]
    said = run("name", "--face", face, "--nobody", "--index", named_copy).stdout
    assert said.strip() == f"face {face} is nobody's now (it joins the groups of lookalike cluster)"
    taken = run("name", "--face", other, "--nobody", "--index", named_copy, "--json").stdout
    assert json.loads(taken) == {"index": str(named_copy), "taken_away": [other]}
    assert (
        "took the last change back: 1 face as"
        in run("name", "--undo", "--index", named_copy).stdout
    )
    assert other in credited(named_copy)["lionel_messi"]
    assert face not in credited(named_copy)["lionel_messi"]


def test_merge_two_groups_then_undo(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        groups.cluster_index(idx)
        before = groups.stored_groups(idx)
        keep, other = sorted(before)[:2]
        assert groups.merge_groups(idx, keep, other) == before[other]
        after = groups.stored_groups(idx)
        assert other not in after and sorted(after[keep]) == sorted(before[keep] + before[other])
        assert groups.undo(idx) == before[other]
        assert groups.stored_groups(idx) == before


def test_merge_mistakes(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        some = groups.cluster_index(idx).groups[0].id
        with pytest.raises(ValueError, match=f"group {some} cannot join itself"):
            groups.merge_groups(idx, some, some)
        for keep, other in [(some, 999), (999, some)]:
            with pytest.raises(IndexFileError, match="no group 999"):
                groups.merge_groups(idx, keep, other)


def test_merge_on_the_command_line(unnamed_copy):
    listed = cluster_json(unnamed_copy, "--min-size", "1")["groups"]
    a, b = listed[0], listed[1]
    size = a["size"] + b["size"]
    said = run("cluster", "--merge", a["group"], b["group"], "--index", unnamed_copy).stdout
    assert said.strip() == (
        f"group {b['group']} ({b['size']} faces) joined group {a['group']}, now {size} faces"
    )
    run("name", "--undo", "--index", unnamed_copy)
    report = json.loads(
        run("cluster", "--merge", a["group"], b["group"], "--index", unnamed_copy, "--json").stdout
    )
    assert report == {
        "index": str(unnamed_copy),
        "group": a["group"],
        "merged": b["group"],
        "moved": [f["face_id"] for f in b["faces"]],
        "size": size,
    }
    stored = cluster_json(unnamed_copy, "--stored", "--min-size", "1")
    assert {g["group"]: g["size"] for g in stored["groups"]}[a["group"]] == size
    for args, message in [
        (("--merge", a["group"], a["group"]), "cannot join itself"),
        (("--merge", a["group"], 999), "no group 999"),
        (("--merge", 1, 2, "--move-out", 3), "one, alone"),
        (("--merge", 1, 2, "--threshold", 0.5), "one, alone"),
    ]:
        result = run("cluster", *args, "--index", unnamed_copy, ok=False)
        assert result.exit_code != 0 and message in result.output, result.output


def test_move_a_face_out_then_undo(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        group = groups.cluster_index(idx).groups[0]
        before = groups.stored_groups(idx)
        face = group.face_ids[0]
        new = groups.move_out(idx, face)
        assert new > max(before) and groups.stored_groups(idx)[new] == [face]
        assert face not in groups.stored_groups(idx)[group.id]
        assert groups.undo(idx) == [face]
        assert groups.stored_groups(idx) == before  # the new group is gone
        assert groups.move_out(idx, face) == new + 1  # an id is never given twice


def test_move_out_mistakes(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        face = groups.cluster_index(idx).groups[0].face_ids[0]
        groups.name_faces(idx, [face], "Someone")
        with pytest.raises(IndexFileError, match=f"face {face} is in no group"):
            groups.move_out(idx, face)
        with pytest.raises(IndexFileError, match="no face 999999"):
            groups.move_out(idx, 999999)


def test_move_out_on_the_command_line(unnamed_copy):
    group = cluster_json(unnamed_copy)["groups"][0]
    face = group["faces"][0]["face_id"]
    said = run("cluster", "--move-out", face, "--index", unnamed_copy).stdout.strip()
    new = int(said.rsplit("group ", 1)[1].split()[0])
    assert said == f"face {face} left group {group['group']}: it is group {new} now"
    run("name", "--undo", "--index", unnamed_copy)
    report = json.loads(
        run("cluster", "--move-out", face, "--index", unnamed_copy, "--json").stdout
    )
    assert report == {
        "index": str(unnamed_copy),
        "face_id": face,
        "left": group["group"],
        "group": new + 1,
    }
    result = run("cluster", "--move-out", 999999, "--index", unnamed_copy, ok=False)
    assert result.exit_code == 1 and "no face 999999" in result.output


def test_listed_groups_are_the_stored_ones_biggest_first(unnamed_copy):
    with Index.open(unnamed_copy) as idx:
        assert groups.listed(idx) == []
        found = groups.cluster_index(idx).groups
        listed = groups.listed(idx)
    assert [(g.id, g.face_ids) for g in listed] == [
        (g.id, g.face_ids) for g in sorted(found, key=lambda g: (-g.size, g.id))
    ]
    assert not any(g.new for g in listed)
    stored = cluster_json(unnamed_copy, "--stored", "--min-size", "1")
    assert [g["group"] for g in stored["groups"]] == [g.id for g in listed]
    assert "method" not in stored and stored["groups_found"] == len(listed)


def test_name_mistakes_of_the_new_options(unnamed_copy):
    for args, message in [
        (("name", "--person", "X"), "give only the new name"),
        (("name", "--person", "X", "--face", "1", "Y"), "give only the new name"),
        (("name", "--person", "X", "Y", "--undo"), "--undo and --person do not go together"),
        (("name", "--face", "1", "--nobody", "--forget"), "--forget and --nobody do not go"),
        (("name", "--nobody"), "--nobody takes faces and no name"),
        (("name", "--face", "1", "--nobody", "X"), "--nobody takes faces and no name"),
        (("name", "--person", "Nobody Here", "X"), "no such person"),
    ]:
        result = run(*args, "--index", unnamed_copy, ok=False)
        assert result.exit_code != 0 and message in result.output, result.output


def test_bystanders_of_named_photos_are_clustered(athletes, tmp_path):
    path = tmp_path / "named.db"
    shutil.copy(athletes[0], path)
    with Index.open(path) as idx:
        g = idx.gallery()
        bystanders = int((g.person < 0).sum())
    assert bystanders > 0
    assert cluster_json(path)["faces"] == bystanders


def test_save_writes_a_picture_a_group_and_a_page(unnamed_copy, tmp_path):
    out = tmp_path / "groups"
    result = run("cluster", "--index", unnamed_copy, "--min-size", "3", "--save", out)
    pictures = sorted(out.glob("group-*.jpg"))
    page = (out / "index.html").read_text()
    shown = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(pictures) == len(shown) > 0
    for picture in pictures:
        assert f'src="{picture.name}"' in page


def test_an_index_of_format_1_is_read_then_brought_to_this_format(athletes, tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(athletes[0], path)
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE named_faces; DROP TABLE face_groups; "
        "UPDATE meta SET value = '1' WHERE key = 'format_version';"
    )
    db.close()
    people = json.loads(run("people", "--index", path, "--json").stdout)["people"]
    assert len(people) == 5
    assert json.loads(run("info", "--index", path, "--json").stdout)["format_version"] == 1
    cluster_json(path)
    assert json.loads(run("info", "--index", path, "--json").stdout)["format_version"] == 3


# -- a party: a flat folder of photos, re-indexed as photos come and go --------------------
def party_photos(people: list[str], per_person: int) -> list[Path]:
    out = []
    for person in people:
        out += sorted((CELEBS / "gallery" / person).iterdir())[:per_person]
    return out


@pytest.fixture
def party(tmp_path) -> tuple[Path, Path]:
    """A flat folder of 18 photos of three people, indexed ``--unnamed``; and its index."""
    folder = tmp_path / "party"
    folder.mkdir()
    for i, photo in enumerate(party_photos(["ben_afflek", "jerry_seinfeld", "madonna"], 6)):
        shutil.copy(photo, folder / f"{i:02d}{photo.suffix}")
    path = tmp_path / "party.db"
    run("index", folder, "--unnamed", "--index", path, "--jobs", "2")
    return folder, path


def test_names_survive_reindexing(party):
    folder, path = party
    biggest = cluster_json(path)["groups"][0]
    run("name", biggest["group"], "Guest", "--index", path)
    photos = sorted(folder.iterdir())
    os.utime(photos[0], ns=(1, 1))  # changed on disk: hashed again, its faces re-stored
    (folder / "moved").mkdir()
    for photo in photos[1:]:  # moved: new face rows, the same content
        photo.rename(folder / "moved" / photo.name)
    run("index", folder, "--unnamed", "--index", path)
    people = json.loads(run("people", "--index", path, "--json").stdout)["people"]
    assert [(p["name"], p["faces"]) for p in people] == [("Guest", biggest["size"])]


def test_more_photos_keep_the_ids_of_groups_that_did_not_change(party, tmp_path):
    folder, path = party
    before = cluster_json(path, "--min-size", "1")
    more = tmp_path / "more"
    more.mkdir()
    for i, photo in enumerate(party_photos(["elton_john"], 6)):
        shutil.copy(photo, more / f"{i:02d}{photo.suffix}")
    run("index", more, "--unnamed", "--index", path, "--jobs", "2")
    after = cluster_json(path, "--min-size", "1")
    old = {g["group"]: {f["face_id"] for f in g["faces"]} for g in before["groups"]}
    new = {g["group"]: {f["face_id"] for f in g["faces"]} for g in after["groups"]}
    for gid, faces in old.items():
        assert new.get(gid) == faces, gid  # every old group is still there, with its id
    added = [g for g in after["groups"] if g["group"] not in old]
    assert added and all(g["new"] for g in added)
    assert min(g["group"] for g in added) > max(old)


def test_a_named_folder_indexed_unnamed_and_back(party, tmp_path):
    """Re-indexing with or without --unnamed renames photos, encoding nothing again."""
    folder, path = party
    summary = json.loads(run("index", folder, "--index", path, "--json").stdout)
    assert summary["folders"][0]["encoded"] == 0 and summary["people"] > 0
    summary = json.loads(run("index", folder, "--unnamed", "--index", path, "--json").stdout)
    assert summary["folders"][0]["encoded"] == 0 and summary["people"] == 0


def test_at_a_million_faces_later_photos_join_the_groups_and_ids_stay(tmp_path, monkeypatch):
    """From ann.THRESHOLD faces on (lowered here), each face is compared with its nearest
    faces through the approximate index, and a second `cluster` places only the faces
    indexed since: they join their person's group, whose id stays; a new person is a new
    group."""
    from lookalike import ann

    monkeypatch.setattr(ann, "THRESHOLD", 10)
    folder = tmp_path / "party"
    folder.mkdir()
    athletes = ("lionel_messi", "roger_federer", "serena_williams")

    def add(person: str, photos: slice) -> None:
        for photo in sorted((PHOTOS / person).iterdir())[photos]:
            shutil.copy(photo, folder / f"{person}-{photo.name}")

    for person in athletes:
        add(person, slice(0, 8))
    db = tmp_path / "party.db"
    api.index(folder, db, unnamed=True)
    with Index.open(db) as idx:
        first = groups.cluster_index(idx)
        assert ann.describe(db, idx.gallery(), 1)["shards_built"] >= 1  # through the graph
    monkeypatch.setattr(ann, "THRESHOLD", 10**9)
    with Index.open(db) as idx:  # all pairs, from scratch: the same groups
        every = groups.cluster_index(idx)
    assert sorted(g.face_ids for g in every.groups) == sorted(g.face_ids for g in first.groups)
    monkeypatch.setattr(ann, "THRESHOLD", 10)

    for person in athletes:
        add(person, slice(8, 11))
    add("virat_kohli", slice(0, 4))
    api.index(folder, db, unnamed=True)
    with Index.open(db) as idx:
        placed = groups.cluster_index(idx)
        people = _people_of(idx, folder)
    before = {g.id: set(g.face_ids) for g in every.groups}
    after = {g.id: set(g.face_ids) for g in placed.groups}
    assert all(faces <= after[gid] for gid, faces in before.items())  # kept, with their ids
    biggest = {max(before, key=lambda gid: len(before[gid] & people[p])): p for p in athletes}
    for gid, person in biggest.items():
        assert len(after[gid] & people[person]) > len(before[gid] & people[person])  # joined
    kohli = [gid for gid in after if gid not in before and after[gid] & people["virat_kohli"]]
    assert kohli and max(len(after[gid] & people["virat_kohli"]) for gid in kohli) >= 2


def _people_of(idx: Index, folder: Path) -> dict[str, set[int]]:
    """Each athlete's face ids, by the photo's file name (the truth, not the groups)."""
    out: dict[str, set[int]] = {}
    for face_id, info in idx.describe_faces(idx.gallery().face_ids).items():
        person = Path(info["path"]).name.split("-")[0]
        out.setdefault(person, set()).add(face_id)
    return out

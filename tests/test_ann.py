"""The approximate nearest-neighbour index (lookalike.ann): the same people as exact
search, shards that follow every change to the index, a build that resumes where it was
stopped, and broken shards rebuilt.

Small synthetic indexes written through the store (no models, no photos): people are
clusters of faces, as real people are.  No timings here: `make bench-ann` measures them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CELEBS, needs_data
from test_json import assert_match_report

from lookalike import ann, api, shards
from lookalike.cli import main
from lookalike.faces import Settings, dlib_only
from lookalike.index import DIM, Gallery, Index, PhotoRecord, pack
from lookalike.models.dlibnets import dlib_info

PEOPLE, PHOTOS = 150, 4


def write_people(path: Path, people: range, seed: int = 0) -> None:
    """``PHOTOS`` photos for each person in ``people``: one credited face clustered around
    the person's centre, and a bystander in every other photo."""
    rng = np.random.default_rng(seed)
    with Index.open(path, create=True) as idx, idx.writer():
        if idx.settings() is None:
            idx.set_settings(dlib_only(Settings()), dlib_info())
        items = []
        for p in people:
            centre = rng.normal(0, 0.1, DIM)
            for k in range(PHOTOS):
                faces = [(10, 90, 90, 10, pack(centre + rng.normal(0, 0.04, DIM)), None, None)]
                if k % 2:
                    faces.append((10, 290, 90, 210, pack(rng.normal(0, 0.1, DIM)), None, None))
                items.append((record(f"person{p:04d}", k), faces))
        idx.write(items)
        names = {f"person{p:04d}" for p in people}
        idx.set_credited_many({n: [f for f, _, _, _ in idx.faces_of_person(n)][::2] for n in names})


def record(name: str, k: int) -> PhotoRecord:
    return PhotoRecord(f"/synthetic/{name}/{k}.jpg", name, 1, 1, f"{name}{k}", "ok", None, 99, 99)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "people.db"
    write_people(path, range(PEOPLE))
    return path


def sidecars(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.glob(db.name + ".s*.ann*"))


def shard_files(db: Path) -> list[str]:
    """The names the current shards of the index at ``db`` have."""
    with Index.open(db) as idx:
        planned = shards.plan(idx.gallery())
    return sorted(p.name for s in planned for p in shards.shard_paths(db, s))


def match_json(db: Path, *args: str) -> dict:
    result = CliRunner().invoke(main, ["match", *args, "--index", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def same_ranking(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
    """The same rows in the same order, at the same distances but for float rounding (a
    distance computed over a few candidate rows may differ from one computed over all rows
    in its last bits: BLAS sums in another order)."""
    rows_a, d_a = zip(*a, strict=True) if a else ((), ())
    rows_b, d_b = zip(*b, strict=True) if b else ((), ())
    return rows_a == rows_b and np.allclose(d_a, d_b, rtol=0, atol=1e-5)


def same_report(a: dict, b: dict) -> bool:
    """Two match --json reports alike but for float rounding in the distances."""

    def ranking(r: dict) -> list[tuple]:
        return [(m["face_id"], m["name"], m["rank"], m["same_person"]) for m in r["matches"]]

    def floats(r: dict) -> list[float]:
        return [m[k] for m in r["matches"] for k in ("distance", "calibrated", "similarity")]

    rest = {k: v for k, v in a.items() if k != "matches"}
    return (
        rest == {k: v for k, v in b.items() if k != "matches"}
        and ranking(a) == ranking(b)
        and np.allclose(floats(a), floats(b), rtol=0, atol=0.11)  # similarity: 1 decimal
    )


def queries(db: Path, n: int = 30) -> np.ndarray:
    """Faces near indexed ones (another photo of the same person, as a query would be)."""
    with Index.open(db) as idx:
        X = np.asarray(idx.gallery().X)
    rng = np.random.default_rng(1)
    return X[rng.choice(len(X), n, replace=False)] + rng.normal(0, 0.04, (n, DIM))


@pytest.mark.parametrize("per_person", [True, False])
def test_ann_ranks_the_same_people_at_the_same_distances_as_exact(db, per_person):
    with Index.open(db) as idx:
        gallery = idx.gallery()
        graph = api.searcher(idx, gallery, "ann")
        assert graph is not None and api.searcher(idx, gallery, "auto") is None
        for q in queries(db):
            exact = api.rank(gallery, q, 10, per_person)
            assert same_ranking(api.rank(gallery, q, 10, per_person, graph=graph), exact)


def test_ann_leaves_out_an_excluded_person_and_finds_enough_people(db):
    with Index.open(db) as idx:
        gallery = idx.gallery()
        graph = api.searcher(idx, gallery, "ann")
        q = queries(db, 1)[0]
        nearest = gallery.names[gallery.person[api.rank(gallery, q, 1)[0][0]]]
        exact = api.rank(gallery, q, 100, exclude=nearest)
        found = {gallery.names[gallery.person[r]] for r, _ in exact}
        assert len(exact) == 100 and nearest not in found
        assert same_ranking(api.rank(gallery, q, 100, exclude=nearest, graph=graph), exact)


def test_match_ann_and_exact_give_the_same_json(db):
    exact = match_json(db, "person0007", "--exact", "--top", "10")
    approximate = match_json(db, "person0007", "--ann", "--top", "10")
    assert_match_report(approximate, "index")
    assert same_report(approximate, exact) and len(exact["matches"]) == 10


def test_match_says_when_it_builds_or_updates_the_graph(db):
    def stderr(*args: str) -> str:
        result = CliRunner().invoke(main, ["match", *args, "--index", str(db), "--ann"])
        assert result.exit_code == 0, result.output
        return result.stderr

    assert "building the approximate index of 900 faces" in stderr("person0001")
    assert "approximate index" not in stderr("person0002")  # current: nothing to say
    write_people(db, range(PEOPLE, PEOPLE + 1), seed=3)
    assert "bringing the approximate index of 906 faces up to date" in stderr("person0001")


def test_small_index_searches_exactly_and_builds_no_sidecar(db):
    match_json(db, "person0007")
    assert sidecars(db) == []


def test_sidecar_follows_adds_renames_and_removals(db):
    match_json(db, "person0001", "--ann")
    first = sidecars(db)
    assert len(first) == 2  # the graph and its keys, of the current generation
    write_people(db, range(PEOPLE, PEOPLE + 3), seed=7)  # new people: an update
    newcomer = match_json(db, "person0001", "--ann", "--top", str(PEOPLE + 3))
    assert "person0151" in {m["name"] for m in newcomer["matches"]}
    assert sidecars(db) != first and len(sidecars(db)) == 2  # older generation gone
    with Index.open(db) as idx, idx.writer():
        idx.remove([f"/synthetic/person0151/{k}.jpg" for k in range(PHOTOS)])
        idx.rename({"/synthetic/person0002/0.jpg": "someone_else"})
        generation = idx.generation()
    after = match_json(db, "person0001", "--ann", "--top", str(PEOPLE + 3))
    names = {m["name"] for m in after["matches"]}
    assert "person0151" not in names and "someone_else" in names
    assert same_report(after, match_json(db, "person0001", "--exact", "--top", str(PEOPLE + 3)))
    assert sidecars(db) == shard_files(db)  # the former versions gone
    assert generation


def test_faces_changed_under_a_reused_id_are_searched_with_their_new_vectors(db):
    """SQLite gives a new row the id of the deleted last one: the update must notice."""
    match_json(db, "person0001", "--ann")
    with Index.open(db) as idx, idx.writer():
        last = idx.db.execute("SELECT max(id) FROM faces").fetchone()[0]
        idx.db.execute("DELETE FROM faces WHERE id = ?", (last,))
        idx.db.execute(
            "INSERT INTO faces(id, photo_id, top, right, bottom, left, embedding, credited) "
            "SELECT ?, photo_id, 10, 90, 90, 10, ?, 1 FROM faces WHERE id = 1",
            (last, pack(np.full(DIM, 5.0))),
        )
        idx.db.commit()
        gallery = idx.gallery()
        graph = api.searcher(idx, gallery, "ann")
        assert api.rank(gallery, np.full(DIM, 5.0), 1, False, graph=graph)[0][1] == 0.0


@pytest.mark.parametrize("damage", ["garbage", "truncated", "keys"])
def test_a_broken_sidecar_is_rebuilt_without_a_traceback(db, damage):
    match_json(db, "person0001", "--ann")
    graph, keys = (db.parent / name for name in sidecars(db))
    before = graph.read_bytes()
    if damage == "garbage":
        graph.write_bytes(b"not a graph" * 100)
    elif damage == "truncated":
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    else:
        np.save(keys, np.zeros(3, np.int64))
    result = match_json(db, "person0001", "--ann")
    assert same_report(result, match_json(db, "person0001", "--exact"))
    with Index.open(db) as idx:
        (shard,) = shards.plan(idx.gallery())
    assert shards.load(db, shard) is not None and len(graph.read_bytes()) == len(before)


def test_a_stale_sidecar_under_the_current_name_is_not_used(db):
    """A graph of other faces named as the current generation (copied by hand, say) holds
    another count of faces: it is rebuilt, not searched."""
    other = db.parent / "other.db"
    write_people(other, range(5))
    match_json(other, "person0001", "--ann")
    match_json(db, "person0001", "--ann")
    for theirs, ours in zip(sidecars(other), sidecars(db), strict=True):
        (db.parent / ours).write_bytes((db.parent / theirs).read_bytes())
    assert same_report(
        match_json(db, "person0001", "--ann"), match_json(db, "person0001", "--exact")
    )


def test_info_says_whether_the_ann_index_is_used_and_built(db):
    result = CliRunner().invoke(main, ["info", "--index", str(db)])
    assert result.exit_code == 0 and "not used below 1,000,000 faces" in result.output
    match_json(db, "person0001", "--ann")
    info = api.info(db)["ann"]
    assert info["used"] is False and info["shards"] == info["shards_built"] == 1
    assert info["faces_in_graphs"] == 900 and info["bytes"] > 0


def test_builtin_gallery_answers_the_same_through_a_graph_in_memory(tmp_path):
    args = ["match", "George_W_Bush", "--gallery", "lfw", "--top", "10", "--json"]
    exact = CliRunner().invoke(main, [*args, "--exact"])
    approximate = CliRunner().invoke(main, [*args, "--ann"])
    assert exact.exit_code == approximate.exit_code == 0, approximate.output
    assert same_report(json.loads(approximate.stdout), json.loads(exact.stdout))


def test_an_unknown_search_mode_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown search mode"):
        ann.wanted("fast", 10)


# -- shards --------------------------------------------------------------------------------
@pytest.fixture
def small_shards(monkeypatch):
    """Shards of 250 face ids: the 900 faces of ``db`` in four."""
    monkeypatch.setattr(shards, "SPAN", 250)


def stamps(db: Path) -> dict[str, tuple[int, int]]:
    """Each shard file's inode and modification time: a file built again changes both."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in db.parent.glob(db.name + ".s*")
    }


def test_shards_rank_as_exact_search_does(db, small_shards):
    with Index.open(db) as idx:
        gallery = idx.gallery()
        graph = api.searcher(idx, gallery, "ann")
        assert len(graph.graphs) == 4 and not len(graph.exact)
        for q in queries(db):
            assert same_ranking(api.rank(gallery, q, 10, graph=graph), api.rank(gallery, q, 10))
    assert sidecars(db) == shard_files(db) and len(sidecars(db)) == 8


def test_a_stopped_build_resumes_at_the_shards_not_done(db, small_shards):
    match_json(db, "person0001", "--ann")
    done = stamps(db)
    unfinished = sorted(done)[-2:]  # the last shard: its graph and keys
    for name in unfinished:
        (db.parent / name).unlink()
    with Index.open(db) as idx:
        ann.refresh(db, idx.gallery())
    again = stamps(db)
    assert set(again) == set(done)
    assert all(again[n] == done[n] for n in done if n not in unfinished)  # not built again


def test_unbuilt_shards_are_searched_exactly_and_match_does_not_build_them(db, small_shards):
    match_json(db, "person0001", "--ann")
    for name in sorted(sidecars(db))[:4]:  # two shards not built (yet)
        (db.parent / name).unlink()
    with Index.open(db) as idx:
        gallery = idx.gallery()
        searched = ann.open_graph(db, gallery, build=False)
        first_two = sum(s.size for s in shards.plan(gallery)[:2])  # ids 1-249 and 250-499
        assert len(searched.graphs) == 2 and len(searched.exact) == first_two == 499
        for q in queries(db):
            assert same_ranking(searched.rank(q, 10), api.rank(gallery, q, 10))
        assert ann.describe(db, gallery, len(gallery.X))["shards_built"] == 2
    assert len(sidecars(db)) == 4  # nothing was built


def test_new_photos_touch_only_the_shard_they_fall_in(db, small_shards):
    match_json(db, "person0001", "--ann")
    before = stamps(db)
    write_people(db, range(PEOPLE, PEOPLE + 2), seed=5)  # new face ids: the last shard
    after_match = match_json(db, "person0151", "--ann", "--top", "3")
    assert after_match["query"]["person"] == "person0151"
    after = stamps(db)
    kept = {n for n in before if n in after and after[n] == before[n]}
    assert len(kept) == 6 and len(after) == 8  # three shards untouched, the last replaced


def test_shards_are_built_side_by_side_in_processes_with_progress(db, small_shards):
    with Index.open(db) as idx:
        gallery = idx.gallery()
        told: list[int] = []
        added: list[int] = []

        def started(total: int) -> shards.Progress:
            told.append(total)
            return added.append

        graph = ann.refresh(db, gallery, jobs=2, progress=started)
        assert told == [900] and sum(added) == 900 and len(graph.graphs) == 4
        for q in queries(db, 10):
            assert same_ranking(graph.rank(q, 10), api.rank(gallery, q, 10))


KILLED_BUILD = """
import sys
from pathlib import Path
from lookalike import ann, shards
from lookalike.index import Index
shards.SPAN, shards.CHUNK = 2_000, 200
with Index.open(Path(sys.argv[1])) as idx:
    ann.refresh(idx.path, idx.gallery(), jobs=2)
"""


def test_a_build_killed_midway_keeps_every_shard_done(tmp_path, monkeypatch):
    """``kill -9`` in the middle of a build: the shards written stay, and the next build
    makes only the others; no half-written file is ever loaded or left behind."""
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "big.db"
    write_people(db, range(3_000))  # 18,000 faces, ids 1-18,000: 10 shards of 2,000 ids
    killed = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(db)], start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("big.db.s*.ann.npy")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    done = stamps(db)
    assert done, "no shard was done in two minutes"
    monkeypatch.setattr(shards, "SPAN", 2_000)
    with Index.open(db) as idx:
        gallery = idx.gallery()
        graph = ann.refresh(db, gallery)
        assert len(graph.graphs) == 10 and not len(graph.exact)
        q = queries(db, 3)[0]
        assert same_ranking(graph.rank(q, 10), api.rank(gallery, q, 10))
    again = stamps(db)
    assert all(again[n] == done[n] for n in done if n.endswith(".npy"))  # finished: kept
    assert sorted(again) == shard_files(db)  # and no temporary file is left


@needs_data
def test_lookalike_index_builds_the_shards_with_a_bar_and_info_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "THRESHOLD", 50)  # the celebs' 91 faces count as many
    monkeypatch.setattr(shards, "SPAN", 30)
    db = tmp_path / "celebs.db"
    result = CliRunner().invoke(main, ["index", str(CELEBS / "gallery"), "--index", str(db)])
    assert result.exit_code == 0, result.output
    info = api.info(db)["ann"]
    assert info["used"] and info["shards"] == info["shards_built"] == 4
    assert info["faces_in_graphs"] == 91
    shown = CliRunner().invoke(main, ["info", "--index", str(db)]).output
    assert "used by match (from 50 faces on); built" in shown


def test_match_says_when_shards_are_not_built_yet(db, small_shards, monkeypatch):
    match_json(db, "person0001", "--ann")
    (db.parent / sorted(sidecars(db))[0]).unlink()
    monkeypatch.setattr(ann, "THRESHOLD", 100)  # auto: the graphs, without building them
    result = CliRunner().invoke(main, ["match", "person0001", "--index", str(db)])
    assert result.exit_code == 0, result.output
    assert "has 3 of its 4 shards: 249 faces are searched exactly" in result.stderr
    assert len(sidecars(db)) == 7


def test_a_shard_crowded_by_one_person_does_not_hide_the_next_one():
    """Shard 0 holds 300 faces of one person right at the query and one face of another a
    little farther; shard 1 holds ten people farther still.  Shard 0's 160 candidates are
    all the first person's: the second is found only because the window grows until
    every shard's candidates reach past the last person kept."""
    rng = np.random.default_rng(0)
    q = np.zeros(DIM, np.float32)
    crowd = rng.normal(0, 0.001, (300, DIM))
    second = np.full((1, DIM), 0.3 / np.sqrt(DIM))
    far = 0.35 / np.sqrt(DIM) + rng.normal(0, 0.002, (10, DIM))
    X = np.vstack([crowd, second, far]).astype(np.float32)
    person = np.array([0] * 300 + [1] + list(range(2, 12)), np.int32)
    ids = np.arange(1, len(X) + 1)
    gallery = Gallery(X, ids, person, [f"p{k}" for k in range(12)], np.einsum("ij,ij->i", X, X))
    graphs = [shards.build(ids[:301], X[:301]), shards.build(ids[301:], X[301:])]
    ranked = ann.Ann(graphs, gallery, np.empty(0, np.int64)).rank(q, 10)
    assert ranked == api.rank(gallery, q, 10) and person[ranked[1][0]] == 1


def test_a_shard_stopped_midway_is_taken_up_from_its_last_checkpoint(tmp_path, monkeypatch):
    """A big shard is saved as it goes: stopped, its next build starts where the last save
    was, not from its first face."""
    monkeypatch.setattr(shards, "CHUNK", 100)
    monkeypatch.setattr(shards, "CHECKPOINT", 300)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1_000, DIM)).astype(np.float32)
    ids = np.arange(1, 1_001)
    partial = tmp_path / "shard.ann.partial"
    added: list[int] = []

    def stop_at_700(n: int) -> None:
        added.append(n)
        if sum(added) >= 700:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        shards.build(ids, X, stop_at_700, partial)
    told: list[int] = []
    graph = shards.build(ids, X, told.append, partial)
    assert told[0] == 600 and sum(told) == 1_000  # from the save at 600 faces
    assert len(graph) == 1_000 and sorted(np.asarray(graph.keys)) == ids.tolist()
    assert graph.search(X[999], 1).keys[0] == 1_000
    other = np.arange(2, 1_002)  # another shard's faces: its save is not taken up
    assert shards._resumed(partial, other) is None

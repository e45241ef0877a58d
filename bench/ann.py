"""``match`` on the approximate nearest-neighbour index at scale (issue 24; docs/ann.md).

For each size, a synthetic index clustered like LFW's people, on the default preset's fused
vectors (dlib's and SFace's, 256-d: bench/synthetic.py; built once into ``--cache``), then:

- the graph built from scratch (:func:`lookalike.ann.refresh`): seconds, file size;
- ``--queries`` queries, each a new photo of an indexed person (one of their faces, each
  network's vector moved by LFW's joint within-person spread: ``synthetic.new_photos``):
  search time of exact and ANN ranking (:func:`api.rank`, the top 10 people), and recall
  of the ANN's top-10 people against exact's;
- ``lookalike match PHOTO --top 10`` end to end in a process of its own (a 1080p photo:
  detection and encoding included), wall time and peak RSS (/usr/bin/time), twice: the
  first after the graph was built by this process, the second warm;
- the graph kept in step: a few photos added, then removed again, each followed by the
  update :func:`ann.refresh` makes, timed against the build from scratch.

Then the real LFW embeddings (the packaged gallery, bench/lfw.py's identification split:
each person's first photo in the index, up to 3 others as probes): rank-1 and rank-5,
exact and forced onto the ANN path, and recall of the top-10 people.  With
``--libraries``, usearch and faiss-cpu's IVF-PQ on ``--libraries-size`` clustered faces
alone (no SQLite), the measurement the choice of usearch rests on.

    python bench/ann.py --cache DIR [--sizes 1000000,10000000] [--queries 200] [--libraries]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import synthetic

from lookalike import ann, api, shards
from lookalike.faces import QUALITY, Settings, dlib_only, parts_of
from lookalike.index import Gallery, Index, PhotoRecord, pack, sidecar_paths
from lookalike.models.dlibnets import dlib_info

HERE = Path(__file__).resolve().parent
TOP = 10


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def queries(gallery: Gallery, n: int, settings: Settings, seed: int = 1) -> np.ndarray:
    """New photos of indexed people, whose vectors ``settings`` fuse: their faces moved by
    LFW's within-person spread (:func:`synthetic.new_photos`)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(np.flatnonzero(gallery.person >= 0), n, replace=False))
    return synthetic.new_photos(np.asarray(gallery.X[rows]), settings, rng)


def people(gallery, ranked) -> list[int]:
    return [int(gallery.person[r]) for r, _ in ranked]


def timed(f, *args):
    t = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t


def compare(gallery, graph, Q: np.ndarray) -> dict:
    """Exact and ANN top-10 people of each query: times (ms) and recall."""
    exact_ms, ann_ms, recall = [], [], []
    for q in Q:
        exact, t = timed(api.rank, gallery, q, TOP)
        exact_ms.append(1000 * t)
        approximate, t = timed(lambda q: api.rank(gallery, q, TOP, graph=graph), q)
        ann_ms.append(1000 * t)
        truth = set(people(gallery, exact))
        recall.append(len(truth & set(people(gallery, approximate))) / len(truth))
    return {
        "exact_ms": float(np.median(exact_ms)),
        "ann_ms": float(np.median(ann_ms)),
        "ann_ms_p95": float(np.percentile(ann_ms, 95)),
        "recall": float(np.mean(recall)),
    }


#: ``lookalike match`` with this run's shard span (a process with another span would plan
#: other shards, and remove these as files of a layout gone).
MATCH = (
    "import sys; from lookalike import shards; shards.SPAN = int(sys.argv.pop(1)); "
    "from lookalike.__main__ import main; main()"
)


def run_match(db: Path, photo: Path, *extra: str) -> dict:
    """``lookalike match`` in a process of its own: wall seconds and peak RSS (MiB)."""
    python = str(HERE.parent / ".venv/bin/python")
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", python, "-c", MATCH, str(shards.SPAN)]
    cmd += ["match", str(photo), "--index", str(db), "--top", str(TOP), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"match failed: {done.stderr[-2000:]}")
    wall, rss = re.findall(r"TIME ([\d.]+) (\d+)", done.stderr)[-1]
    return {"s": float(wall), "rss_mib": int(rss) / 1024}


def keep_in_step(db: Path, Q: np.ndarray) -> dict:
    """Seconds the graph's update takes after 20 photos are added, then removed again."""
    out = {}
    paths = [f"/bench/added/{k}.jpg" for k in range(20)]
    with Index.open(db) as idx, idx.writer():
        split = parts_of(Q[:20], idx.networks())
        rows = [(10, 90, 90, 10, *stored, None) for stored in synthetic.blobs(split)]
        photos = [
            PhotoRecord(p, "added", 1, 1, f"added{k}", "ok", None, 9, 9)
            for k, p in enumerate(paths)
        ]
        idx.write(zip(photos, [[r] for r in rows], strict=True))
        idx.set_credited("added", [f for f, _, _, _ in idx.faces_of_person("added")])
        gallery = idx.gallery()
        _, out["add_20_s"] = timed(ann.refresh, db, gallery)
        idx.remove(paths)
        gallery = idx.gallery()
        _, out["remove_20_s"] = timed(ann.refresh, db, gallery)
    return out


def graph_built(db: Path, gallery, jobs: int | None) -> float:
    """Seconds the shards took to build from scratch on ``jobs`` processes: timed now, or
    when an earlier run built the shards that are still current (kept in step since:
    ``.graph.json``).  A build stopped before is resumed, and timed as the sum of its
    parts (each part's seconds are kept in ``.graph-parts.json``; a ``kill -9`` loses
    the part it stops)."""
    record = db.with_name(db.name + ".graph.json")
    parts = db.with_name(db.name + ".graph-parts.json")
    described = ann.describe(db, gallery, len(gallery.X))
    if record.exists() and described["shards_built"] == described["shards"]:
        return json.loads(record.read_text())["build_s"]
    if described["shards_built"] == 0:
        parts.unlink(missing_ok=True)
    log(
        f"{len(gallery.X):,}: building the graphs ({described['shards']} shards, "
        f"{described['shards_built']} done)"
    )
    before = json.loads(parts.read_text()) if parts.exists() else []
    started = time.perf_counter()
    try:
        ann.refresh(db, gallery, None, True, jobs)
    finally:  # stopped: the time spent so far counts when the build is resumed
        before.append(time.perf_counter() - started)
        parts.write_text(json.dumps(before))
    total = sum(before)
    record.write_text(json.dumps({"build_s": total, "jobs": jobs, "params": graph_params()}))
    return total


def graph_params() -> dict:
    graph = {k: getattr(shards, k) for k in ("DTYPE", "CONNECTIVITY", "EXPANSION_ADD", "SPAN")}
    return {**graph, **{k: getattr(ann, k) for k in ("EXPANSION_SEARCH", "THRESHOLD")}}


def synthetic_index(args, n: int) -> Path:
    """The synthetic index of ``n`` faces (written once), a copy of its own for each shard
    span (the shards of two spans would replace each other's files)."""
    base = args.cache / f"synthetic-{n}-fused.db"  # not the dlib-only ones made before
    if not base.exists():
        log(f"{n:,}: writing the synthetic index (once)")
        tmp = base.with_name("building-" + base.name)
        synthetic.build(str(tmp), n, Settings(**QUALITY["default"]), 0, False)
        for side in tmp.parent.glob(tmp.name + "*"):
            side.rename(side.with_name(side.name.replace(tmp.name, base.name)))
    if args.in_place:  # 10M: no room for a copy a span
        return base
    db = base.with_name(f"synthetic-{n}-fused-span{shards.SPAN}.db")
    if not db.exists():
        with Index.open(base) as idx:
            generation = idx.generation()
        for side in [*sidecar_paths(base, generation), base]:
            shutil.copy(side, side.with_name(side.name.replace(base.name, db.name)))
    return db


def synthetic_size(args, n: int, photo: Path) -> dict:
    db = synthetic_index(args, n)
    out: dict = {"faces": n, "span": shards.SPAN}
    with Index.open(db) as idx:
        gallery = idx.gallery()
        out["build_s"] = graph_built(db, gallery, args.jobs)
        if args.build_only:
            return out
        described = ann.describe(db, gallery, n)
        out["shards"] = described["shards"]
        out["file_mib"] = described["bytes"] / 2**20
        out["bytes_per_face"] = described["bytes"] / n
        graph = ann.open_graph(db, gallery, build=False)
        log(f"{n:,}: {args.queries} queries, exact and ANN")
        Q = queries(gallery, args.queries, idx.settings())
        out["widths"] = {}
        for width in args.widths:
            ann.EXPANSION_SEARCH = width
            out["widths"][width] = compare(gallery, graph, Q)
        out.update(out["widths"][args.widths[-1]])
    log(f"{n:,}: lookalike match, end to end")
    out["match_ann"] = [run_match(db, photo) for _ in range(2)]
    out["match_exact"] = run_match(db, photo, "--exact")
    log(f"{n:,}: the graph kept in step with added and removed photos")
    out.update(keep_in_step(db, Q))
    log(json.dumps(out))
    return out


def lfw(args) -> dict:
    """Rank-1/rank-5 on LFW's identification split, exact and through the graph."""
    with np.load(files("lookalike") / "data" / "lfw-gallery.npz") as data:
        X, person, names = data["X"].astype(np.float32), data["person"], data["names"]
    first = np.unique(person, return_index=True)[1]
    probes = [i for p in range(len(names)) for i in np.flatnonzero(person == p)[1:4]]
    db = args.cache / "lfw-identification.db"
    if not db.exists():
        with Index.open(db, create=True) as idx, idx.writer():
            idx.set_settings(dlib_only(Settings()), dlib_info())
            items = []
            for i in first:
                name = str(names[person[i]])
                rec = PhotoRecord(
                    f"/lfw/{name}/{i}.jpg", name, 1, 1, f"{i:040x}", "ok", None, 250, 250
                )
                items.append((rec, [(60, 190, 190, 60, pack(X[i]), None, None)]))
            idx.write(items)
            idx.db.execute("UPDATE faces SET credited = 1")
            idx.db.commit()
    out = {"gallery": len(first), "probes": len(probes)}
    for old in db.parent.glob(db.name + ".s*.ann*"):
        old.unlink()  # the graph is built in the run: a second
    with Index.open(db) as idx:
        gallery = idx.gallery()
        graph, out["build_s"] = timed(api.searcher, idx, gallery, "ann")
        for way, g in (("exact", None), ("ann", graph)):
            ranks = []
            for i in probes:
                found = [
                    gallery.names[c] for c in people(gallery, api.rank(gallery, X[i], 5, graph=g))
                ]
                name = str(names[person[i]])
                ranks.append(found.index(name) + 1 if name in found else 99)
            ranks = np.array(ranks)
            out[f"{way}_rank1"] = float(np.mean(ranks <= 1))
            out[f"{way}_rank5"] = float(np.mean(ranks <= 5))
        out.update(compare(gallery, graph, X[probes]))
    log(json.dumps(out))
    return out


def libraries(n: int, queries_n: int) -> dict:
    """usearch (HNSW, f16) and faiss IVF-PQ (40 bytes a face) on the same clustered
    vectors: build seconds, bytes a face, search ms and top-10 people recall after the same
    exact re-rank (faiss at several ``nprobe``: its recall is bound by the lists probed)."""
    import faiss

    settings = Settings(**QUALITY["default"])
    X, person = synthetic.vectors(n, 0, settings)
    names = [str(p) for p in range(int(person.max()) + 1)]
    g = Gallery(X, np.arange(n), person.astype(np.int32), names, np.einsum("ij,ij->i", X, X))
    Q = queries(g, queries_n, settings)
    graph, build_s = timed(shards.build, g.face_ids, g.X)
    out = {"usearch": {"build_s": build_s, "bytes_per_face": len(graph.save()) / n}}
    out["usearch"].update(compare(g, ann.Ann([graph], g, np.empty(0, np.int64)), Q))
    nlist = 1024
    dim = X.shape[1]
    ivf = faiss.IndexIVFPQ(faiss.IndexFlatL2(dim), dim, nlist, 32, 8)  # 32 B codes + 8 B ids
    t = time.perf_counter()
    ivf.train(X[np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)])
    ivf.add(X)
    build_s = time.perf_counter() - t
    size = len(faiss.serialize_index(ivf)) / n
    for nprobe in (16, 64, 256):
        ivf.nprobe = nprobe
        v = {"build_s": build_s, "bytes_per_face": size}
        out[f"faiss IVF{nlist}-PQ32 nprobe {nprobe}"] = {**v, **compare(g, _FaissAnn(ivf, g), Q)}
    log(json.dumps(out))
    return out


class _FaissAnn(ann.Ann):
    """The same ranking as :class:`ann.Ann`, its candidates from a faiss index."""

    def _candidates(self, q, count):
        _, keys = self.graphs[0].search(q[None, :], count)
        rows = np.sort(keys[0][keys[0] >= 0])
        d = api.search.distances(self.gallery.X[rows], q, sq=self.gallery.sq[rows])
        return rows, d, np.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--photo", type=Path, default=HERE.parent.parent / "shared/data/examples/obama-1080p.jpg"
    )
    parser.add_argument("--libraries", action="store_true")
    parser.add_argument("--libraries-size", type=int, default=200_000)
    parser.add_argument(
        "--build-only", action="store_true", help="build the indexes and graphs, measure nothing"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--span", type=int, default=shards.SPAN, help="face ids a shard holds")
    parser.add_argument("--jobs", type=int, help="processes building shards [all cores]")
    parser.add_argument(
        "--in-place", action="store_true", help="shards on the synthetic index itself, no copy"
    )
    parser.add_argument(
        "--widths", default=str(ann.EXPANSION_SEARCH), help="search widths, e.g. 500,1000"
    )
    args = parser.parse_args()
    shards.SPAN = args.span
    args.widths = [int(w) for w in args.widths.split(",")]
    args.cache.mkdir(parents=True, exist_ok=True)
    os.environ.pop("LOOKALIKE_INDEX", None)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.build_only:
        log(json.dumps([synthetic_size(args, n, args.photo) for n in sizes]))
        return
    result = {
        "params": graph_params(),
        "sizes": [synthetic_size(args, n, args.photo) for n in sizes],
        "lfw": lfw(args),
    }
    if args.libraries:
        result["libraries"] = libraries(args.libraries_size, args.queries)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def report(r: dict) -> None:
    print(
        "| faces | graph build | file | search exact | search ANN (p95) | top-10 recall "
        "| match ANN (again) | peak RSS | match --exact, RSS | update +20 / -20 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        a, b = s["match_ann"]
        print(
            f"| {s['faces']:,} | {s['build_s']:.0f} s | {s['file_mib']:,.0f} MiB "
            f"({s['bytes_per_face']:.0f} B/face) | {s['exact_ms']:.1f} ms | {s['ann_ms']:.2f} ms "
            f"({s['ann_ms_p95']:.2f}) | {s['recall']:.4f} | {a['s']:.2f} s ({b['s']:.2f} s) | "
            f"{max(a['rss_mib'], b['rss_mib']):,.0f} MiB | {s['match_exact']['s']:.2f} s, "
            f"{s['match_exact']['rss_mib']:,.0f} MiB | {s['add_20_s']:.1f} s / "
            f"{s['remove_20_s']:.1f} s |"
        )
    f = r["lfw"]
    print(
        f"\nLFW identification ({f['gallery']:,} people, {f['probes']:,} probes): rank-1 "
        f"{100 * f['exact_rank1']:.2f}% exact, {100 * f['ann_rank1']:.2f}% ANN; rank-5 "
        f"{100 * f['exact_rank5']:.2f}% exact, {100 * f['ann_rank5']:.2f}% ANN; top-10 recall "
        f"{f['recall']:.4f}; search {f['exact_ms']:.2f} ms exact, {f['ann_ms']:.2f} ms ANN"
    )
    for lib, v in r.get("libraries", {}).items():
        print(
            f"{lib}: build {v['build_s']:.0f} s, {v['bytes_per_face']:.0f} B/face, search "
            f"{v['ann_ms']:.2f} ms (p95 {v['ann_ms_p95']:.2f}), recall {v['recall']:.4f}"
        )


if __name__ == "__main__":
    main()

"""``match`` on the approximate nearest-neighbour index at scale (issue 24; docs/ann.md).

For each size, a synthetic index clustered like LFW's people (bench/synthetic.py, built
once into ``--cache``), then:

- the graph built from scratch (:func:`lookalike.ann.refresh`): seconds, file size;
- ``--queries`` queries, each a new photo of an indexed person (one of their faces plus
  LFW's within-person spread): search time of exact and ANN ranking (:func:`api.rank`,
  the top 10 people), and recall of the ANN's top-10 people against exact's;
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
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import synthetic

from lookalike import ann, api
from lookalike.faces import QUALITY, Settings, dlib_only
from lookalike.index import DIM, Gallery, Index, PhotoRecord, pack
from lookalike.models.dlibnets import dlib_info

HERE = Path(__file__).resolve().parent
TOP = 10


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def queries(gallery, n: int, seed: int = 1) -> np.ndarray:
    """New photos of indexed people: their faces moved by LFW's within-person spread."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(np.flatnonzero(gallery.person >= 0), n, replace=False))
    within = synthetic.lfw_stats().within
    noise = rng.standard_normal((n, within.shape[0])) @ within.T
    return (np.asarray(gallery.X[rows]) + noise).astype(np.float32)


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


def run_match(db: Path, photo: Path, *extra: str) -> dict:
    """``lookalike match`` in a process of its own: wall seconds and peak RSS (MiB)."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", str(HERE.parent / ".venv/bin/lookalike")]
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
        rows = [(10, 90, 90, 10, pack(q), None, None) for q in Q[:20]]
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


def graph_built(db: Path, gallery) -> float:
    """Seconds the graph took to build from scratch: timed now, or when an earlier run
    built the graph that is still current (kept in step since: ``.graph.json``)."""
    record = db.with_name(db.name + ".graph.json")
    if record.exists() and ann.paths(db, gallery.generation)[0].exists():
        return json.loads(record.read_text())["build_s"]
    for old in db.parent.glob(db.name + ".g*.ann*"):
        old.unlink()
    log(f"{len(gallery.X):,}: building the graph")
    _, seconds = timed(ann.refresh, db, gallery)
    record.write_text(json.dumps({"build_s": seconds, "params": graph_params()}))
    return seconds


def graph_params() -> dict:
    return {
        k: getattr(ann, k)
        for k in ("DTYPE", "CONNECTIVITY", "EXPANSION_ADD", "EXPANSION_SEARCH", "THRESHOLD")
    }


def synthetic_size(args, n: int, photo: Path) -> dict:
    db = args.cache / f"synthetic-{n}.db"
    out: dict = {"faces": n}
    if not db.exists():
        log(f"{n:,}: writing the synthetic index (once)")
        tmp = db.with_name("building-" + db.name)
        _, out["sqlite_build_s"] = timed(
            synthetic.build, str(tmp), n, Settings(**QUALITY["default"]), 0, False
        )
        for side in tmp.parent.glob(tmp.name + "*"):
            side.rename(side.with_name(side.name.replace(tmp.name, db.name)))
    with Index.open(db) as idx:
        gallery = idx.gallery()
        out["build_s"] = graph_built(db, gallery)
        if args.build_only:
            return out
        out["file_mib"] = ann.paths(db, gallery.generation)[0].stat().st_size / 2**20
        out["bytes_per_face"] = out["file_mib"] * 2**20 / n
        graph = ann.open_graph(db, gallery)
        log(f"{n:,}: {args.queries} queries, exact and ANN")
        Q = queries(gallery, args.queries)
        out.update(compare(gallery, graph, Q))
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
    for old in db.parent.glob(db.name + ".g*.ann*"):
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

    X, person = synthetic.vectors(n)
    names = [str(p) for p in range(int(person.max()) + 1)]
    g = Gallery(X, np.arange(n), person.astype(np.int32), names, np.einsum("ij,ij->i", X, X))
    Q = queries(g, queries_n)
    graph, build_s = timed(ann.build, g)
    out = {"usearch": {"build_s": build_s, "bytes_per_face": len(graph.save()) / n}}
    out["usearch"].update(compare(g, ann.Ann(graph, g), Q))
    nlist = 1024
    ivf = faiss.IndexIVFPQ(faiss.IndexFlatL2(DIM), DIM, nlist, 32, 8)  # 32 B codes + 8 B ids
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
        _, keys = self.graph.search(q[None, :], count)
        rows = np.sort(keys[0][keys[0] >= 0])
        return rows, api.search.distances(self.gallery.X[rows], q, sq=self.gallery.sq[rows])


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
    args = parser.parse_args()
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

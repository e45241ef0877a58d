"""`make bench`: lookalike against face_recognition's own CLI, measured in one run (issue 3).

Every figure is a median over ``--rounds`` rounds in which lookalike and its baseline run
alternately (the order flips every round), from interpreter start to exit, so that the other
work sharing the machine weighs on both sides alike: read the ratios, not the seconds.

Sections (``--only``, comma-separated):
  web      index the jpg/jpeg/png web photos (the only formats the CLI reads) vs
           ``face_recognition --cpus 2 KNOWN UNKNOWN``; faces found, encoding agreement
  lfw      the same on ``--lfw-photos`` LFW photos (250x250: encoder-bound), encoder share
  rerun    a second ``lookalike index`` over all of LFW, unchanged, vs the first run
  match    ``lookalike match`` of a 1080p photo against the built-in gallery (no index of
           one's own), on the LFW index and on a synthetic index of ``--synthetic`` faces, vs
           the CLI matching it against one known photo
  memory   peak memory of ``lookalike index --jobs 2`` on 48 MP photos (JPEG and PNG)
  onnx     issue 23's targets, the onnx engine against dlib's own (``--engine dlib``): the
           encoder's ms a face on one thread (bench/encoder_onnx.py), ``index --quality
           best`` of ``--onnx-photos`` LFW photos, and the largest worker's peak memory

Slow things are built once and kept in ``--cache`` (outside the repository): the LFW index
(the "first run" of ``rerun``, timed when built), the synthetic index, the CLI's reference
faces, the 48 MP photos.  ``--build NAME=VENV`` (repeatable) times several lookalike
installations side by side, e.g. a second dlib build; the baseline runs from
``--baseline-venv``.

    python bench/run.py                         # everything, 3 rounds
    python bench/run.py --only web,match --rounds 1 --lfw-photos 200    # a quick look
    python bench/run.py --only web --web-model hog,cnn      # the CNN as default's detector
    python bench/run.py --only onnx --onnx-photos 100       # the onnx engine's targets
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from agreement import MAX_DISTANCE, MIN_HEIGHT, compare  # noqa: E402
from measure import Run, run  # noqa: E402

SECTIONS = ("web", "lfw", "rerun", "match", "memory", "onnx")
#: What runs without --only: the onnx section indexes with dlib's own encoder too (about
#: 40 min a round on 1,000 photos): `make bench-onnx`.
DEFAULT_SECTIONS = SECTIONS[:-1]
QUERY = "examples/obama-1080p.jpg"  # 1920x1080, one face
KNOWN = "examples/obama.jpg"
CLI_EXTENSIONS = (".jpg", ".jpeg", ".png")
BASELINE = "face_recognition"
GB = 1 << 30
MIB = 1 << 20
#: Issue 23's targets for the onnx engine against dlib-bin's own encoder.
ENCODER_SPEEDUP, BEST_SPEEDUP, WORKER_MEMORY = 5.0, 3.0, 100 * MIB


@dataclass
class Build:
    """One lookalike installation to time: a virtual environment."""

    name: str
    venv: Path

    def lookalike(self, *args: str | Path) -> list[str]:
        return [str(self.venv / "bin" / "lookalike"), *map(str, args)]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


@dataclass
class Row:
    """One line of the table."""

    measure: str
    build: str
    ours: str
    theirs: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    faces: str = ""
    memory: str = ""


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data: Path = args.data.resolve()
        self.cache: Path = args.cache.resolve()
        self.work = self.cache / "work"
        self.builds = [Build(n, Path(v).resolve()) for n, v in args.build]
        self.baseline = Path(args.baseline_venv).resolve()
        self.rows: list[Row] = []
        self.raw: dict[str, dict] = {}
        self.lfw_seconds: dict[str, float] = {}  # median of the lfw section, per build
        self.quality = args.quality  # of every section but web
        suffix = "" if args.quality == "default" else f"-{args.quality}"
        self.lfw_db = self.cache / f"lfw-full{suffix}.db"
        self.lfw_record = self.lfw_db.with_suffix(".first-run.json")  # written once indexed
        self.synthetic_db = self.cache / f"synthetic-{args.synthetic}{suffix}.db"

    # -- helpers ------------------------------------------------------------------------------
    def cli(self, *args: str | Path) -> list[str]:
        return [str(self.baseline / "bin" / "face_recognition"), *map(str, args)]

    def alternate(self, label: str, commands: dict[str, Callable[[], Run]]) -> dict[str, list[Run]]:
        """Each command once a round, the order flipped every other round."""
        runs: dict[str, list[Run]] = {k: [] for k in commands}
        keys = list(commands)
        for r in range(self.args.rounds):
            for key in keys if r % 2 == 0 else keys[::-1]:
                result = commands[key]()
                runs[key].append(result)
                log(
                    f"  {label} round {r + 1}: {key} {result.seconds:.2f} s "
                    f"({result.cpu_seconds:.1f} s CPU), {result.peak_bytes / 2**20:.0f} MiB"
                )
        self.raw[label] = {
            k: [asdict(r) | {"stdout": r.stdout[-2000:]} for r in v] for k, v in runs.items()
        }
        return runs

    def links(self, name: str, files: list[Path], tree: bool = False) -> Path:
        """A folder of symlinks to ``files`` (flat, or one subfolder per person)."""
        folder = self.work / name
        folder.mkdir(parents=True)
        for f in files:
            person = f.parent.name
            target = folder / person / f.name if tree else folder / f"{person}__{f.name}"
            target.parent.mkdir(exist_ok=True)
            target.symlink_to(f)
        return folder

    def index_command(
        self, build: Build, folder: Path, label: str, *options: str
    ) -> Callable[[], Run]:
        """``lookalike index`` into a fresh index each call (the last one is kept)."""
        db = self.work / f"{label}-{build.name}.db"

        def command() -> Run:
            for old in self.work.glob(db.name + "*"):
                old.unlink()
            return run(
                build.lookalike(
                    "index", folder, "--index", db, "--jobs", self.args.jobs, "--json", *options
                )
            )

        return command

    # -- sections -----------------------------------------------------------------------------
    def web(self) -> None:
        log("web photos: lookalike index vs face_recognition --cpus 2")
        photos = sorted(
            p for p in (self.data / "photos").glob("*/*") if p.name.lower().endswith(CLI_EXTENSIONS)
        )
        folder = self.links("web", photos)
        known = self.links("known", [self.data / KNOWN])
        reference = self.reference(folder)
        variants = [
            (q, m) for q in self.args.web_quality.split(",") for m in self.args.web_model.split(",")
        ]
        commands = {
            f"{b.name} {q}{model_label(m)}": self.index_command(
                b, folder, f"web-{q}{model_label(m, '-')}", "--quality", q, "--model", m
            )
            for q, m in variants
            for b in self.builds
        }
        commands[BASELINE] = lambda: run(self.cli("--cpus", self.args.jobs, known, folder))
        runs = self.alternate("web", commands)
        theirs = runs[BASELINE]
        for (q, m), b in itertools.product(variants, self.builds):
            ours = runs[f"{b.name} {q}{model_label(m)}"]
            faces = json.loads(ours[-1].stdout)["folders"][0]["faces"]
            self.compare_row(
                f"index {len(photos)} web photos (--jobs {self.args.jobs}, --quality {q}"
                f"{model_label(m, ', --model ')})",
                b,
                ours,
                theirs,
                2.5,
                f"{faces} / {cli_faces(theirs[-1])}",
            )
            db = self.work / f"web-{q}{model_label(m, '-')}-{b.name}.db"
            agreement = compare(reference, self.faces_in(db))
            self.rows.append(
                Row(
                    f"CLI faces >= {MIN_HEIGHT} px tall that we find",
                    b.name,
                    f"{agreement.found_tall} of {agreement.cli_tall} ({agreement.found_share:.1%})",
                    target=">= 95%",
                    met=agreement.found_share >= 0.95,
                    faces=f"{agreement.our_faces} / {agreement.cli_faces}",
                )
            )
            within = sum(d <= MAX_DISTANCE for d in agreement.distances)
            self.rows.append(
                Row(
                    f"common faces within L2 {MAX_DISTANCE} of the CLI's encoding",
                    b.name,
                    f"{within} of {agreement.common} (median {agreement.median_distance:.3f}, "
                    f"max {agreement.max_distance:.3f})",
                    target="all",
                    met=within == agreement.common,
                )
            )

    def reference(self, folder: Path) -> dict[str, list[dict]]:
        """The CLI's faces with their encodings (bench/reference.py), cached by content."""
        names = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
        replay = (HERE / "reference.py").read_text()  # a changed replay is run again
        key = hashlib.sha1(json.dumps([names, replay]).encode()).hexdigest()[:12]
        path = self.cache / f"reference-{key}.json"
        if not path.exists():
            log("  the CLI's reference faces (once; cached)")
            tmp = path.with_suffix(".tmp")
            run(
                [
                    str(self.baseline / "bin" / "python"),
                    str(HERE / "reference.py"),
                    str(folder),
                    str(tmp),
                    str(self.args.jobs),
                ]
            )
            tmp.replace(path)
        return {p["path"]: p["faces"] for p in json.loads(path.read_text())}

    def faces_in(self, db: Path) -> dict[str, list[dict]]:
        """Each photo's faces: box and dlib's vector (what the CLI's are compared with)."""
        from lookalike.faces import parts_of
        from lookalike.index import Index

        with Index.open(db) as idx:
            g = idx.gallery()
            dlib = parts_of(g.X, idx.settings().networks)["dlib"]
            info = idx.describe_faces(g.face_ids)
            out: dict[str, list[dict]] = {}
            for row, fid in enumerate(g.face_ids):
                face = info[int(fid)]
                out.setdefault(Path(face["path"]).name, []).append(
                    {"box": face["box"], "encoding": dlib[row].tolist()}
                )
        return out

    def lfw(self) -> None:
        n = self.args.lfw_photos
        log(f"{n} LFW photos: lookalike index vs face_recognition --cpus 2")
        every = sorted((self.data / "lfw" / "images").glob("*/*.jpg"))
        photos = every[:: max(1, len(every) // n)][:n]
        flat, tree = self.links("lfw-flat", photos), self.links("lfw-tree", photos, tree=True)
        known = self.links("lfw-known", [self.data / KNOWN])
        commands = {
            b.name: self.index_command(b, tree, "lfw", "--quality", self.quality)
            for b in self.builds
        }
        commands[BASELINE] = lambda: run(self.cli("--cpus", self.args.jobs, known, flat))
        runs = self.alternate("lfw", commands)
        theirs = runs[BASELINE]
        for b in self.builds:
            ours = runs[b.name]
            faces = json.loads(ours[-1].stdout)["folders"][0]["faces"]
            self.lfw_seconds[b.name] = median(ours)
            cost = json.loads(
                run([b.python, str(HERE / "encoder_cost.py"), *map(str, photos[:10])]).stdout
            )["ms_per_face"]
            # CPU, not wall: the share of the work, whatever else the machine is running
            share = faces * cost / 1000 / median(ours, "cpu_seconds")
            self.compare_row(
                f"index {n} LFW photos (--jobs {self.args.jobs}, --quality {self.quality})",
                b,
                ours,
                theirs,
                1.15,
                f"{faces} / {cli_faces(theirs[-1])}",
            )
            self.rows.append(
                Row(
                    "  of which the encoder",
                    b.name,
                    f"{share:.0%} of the CPU time ({cost:.0f} ms a face)",
                    target="(the next limit)",
                )
            )

    def rerun(self) -> None:
        db, images, record = self.lfw_db, self.data / "lfw" / "images", self.lfw_record
        build = self.builds[0]
        index = ("index", images, "--index", db, "--jobs", self.args.jobs, "--json")
        index += ("--quality", self.quality)
        if record.exists() and not made_with(db, self.quality):
            # lookalike index would refuse it: the preset changed since it was made
            if not self.args.build_lfw:
                self.skipped("second index over unchanged LFW", "LFW index of older settings")
                return
            for old in [record, *self.cache.glob(db.name + "*")]:
                old.unlink()
        if not record.exists():
            if not self.args.build_lfw:
                self.skipped("second index over unchanged LFW", "no LFW index: --build-lfw")
                return
            log("rerun: the first run over all of LFW (once; cached)")
            first = run(build.lookalike(*index))
            summary = json.loads(first.stdout)["folders"][0]
            record.write_text(
                json.dumps(
                    {
                        "seconds": first.seconds,
                        "faces": summary["faces"],
                        "photos": summary["photos"],
                        "build": build.name,
                        "date": time.strftime("%Y-%m-%d %H:%M"),
                        "load": os.getloadavg()[0],
                    }
                )
            )
        first = json.loads(record.read_text())
        log("rerun: lookalike index over unchanged LFW")
        commands = {b.name: (lambda b=b: run(b.lookalike(*index))) for b in self.builds}
        runs = self.alternate("rerun", commands)
        for b in self.builds:
            second = median(runs[b.name])
            summary = json.loads(runs[b.name][-1].stdout)["folders"][0]
            assert summary["encoded"] == 0, summary
            self.rows.append(
                Row(
                    f"second index over {summary['photos']:,} unchanged LFW photos "
                    f"(--quality {self.quality})",
                    b.name,
                    f"{second:.2f} s",
                    f"{first['seconds']:.0f} s (first run, {first['date']})",
                    f"{second / first['seconds']:.2%}",
                    "< 2%",
                    second / first["seconds"] < 0.02,
                    memory=mib(runs[b.name]),
                )
            )
            if b.name in self.lfw_seconds:
                estimate = self.lfw_seconds[b.name] * summary["photos"] / self.args.lfw_photos
                self.rows.append(
                    Row(
                        "  against a first run estimated from this run's LFW figure",
                        b.name,
                        f"{second:.2f} s",
                        f"{estimate:.0f} s",
                        f"{second / estimate:.2%}",
                        "< 2%",
                        second / estimate < 0.02,
                    )
                )

    def match(self) -> None:
        query, known = self.data / QUERY, self.work / "match-known"
        known.mkdir()
        (known / Path(KNOWN).name).symlink_to(self.data / KNOWN)
        lfw, synthetic = self.lfw_db, self.synthetic_db
        if not synthetic.exists():
            log(
                f"match: building a synthetic index of {self.args.synthetic:,} faces (once; "
                "from 1M faces on with the graph match searches: minutes, docs/ann.md)"
            )
            tmp = synthetic.with_name("building-" + synthetic.name)
            for old in self.cache.glob(tmp.name + "*"):
                old.unlink()
            run(
                [
                    self.builds[0].python,
                    str(HERE / "synthetic.py"),
                    str(tmp),
                    str(self.args.synthetic),
                    self.quality,
                ]
            )
            for part in self.cache.glob(tmp.name + "*"):
                part.rename(self.cache / part.name.replace(tmp.name, synthetic.name))
        for db, label, limit, faces in (
            (None, "built-in gallery", 1.0, "13,233"),
            (lfw, "LFW", 1.0, "13k"),
            (synthetic, "synthetic", 1.5, f"{self.args.synthetic / 1e6:g}M"),
        ):
            if db is not None and (not db.exists() or (db == lfw and not self.lfw_record.exists())):
                self.skipped(f"match a 1080p photo, {label} index", f"no complete {db.name}")
                continue
            log(f"match on the {label} index vs face_recognition KNOWN(1 photo) QUERY")
            where = ("--gallery", "lfw") if db is None else ("--index", db)
            commands = {
                b.name: (lambda b=b, where=where: run(b.lookalike("match", query, *where)))
                for b in self.builds
            }
            commands[BASELINE] = lambda: run(self.cli("--cpus", "1", known, query))
            for command in commands.values():  # warm the page cache and the detector cache
                command()
            runs = self.alternate(f"match-{label}", commands)
            for b in self.builds:
                ours = runs[b.name]
                peak = max(r.peak_bytes for r in ours)
                self.rows.append(
                    Row(
                        f"match a 1080p photo, {label} index ({faces} faces, {self.quality})",
                        b.name,
                        f"{median(ours):.2f} s (CPU {median(ours, 'cpu_seconds'):.2f} s)",
                        f"{median(runs[BASELINE]):.2f} s",
                        f"{median(runs[BASELINE]) / median(ours):.1f}x",
                        f"< {limit:g} s" + (", < 1 GB" if label == "synthetic" else ""),
                        median(ours) < limit and peak < GB,
                        memory=mib(ours, runs[BASELINE]),
                    )
                )

    def memory(self) -> None:
        folder = self.work / "huge"
        folder.mkdir()
        for path in huge_photos(self.data / KNOWN, self.cache):
            (folder / path.name).symlink_to(path)
        log("memory: lookalike index --jobs 2 on 48 MP photos")
        for b in self.builds:
            runs = self.alternate(
                f"memory-{b.name}",
                {b.name: self.index_command(b, folder, "huge", "--quality", self.quality)},
            )
            peak = max(r.peak_bytes for r in runs[b.name])
            faces = json.loads(runs[b.name][-1].stdout)["folders"][0]["faces"]
            self.rows.append(
                Row(
                    f"peak memory of index --jobs 2 --quality {self.quality}, "
                    "two 48 MP photos (JPEG, PNG)",
                    b.name,
                    f"{median(runs[b.name]):.1f} s",
                    target="< 1 GB",
                    met=peak < GB,
                    faces=str(faces),
                    memory=mib(runs[b.name]),
                )
            )

    def onnx(self) -> None:
        """Issue 23's targets: the onnx engine against dlib's own, each build on its own."""
        n = self.args.onnx_photos
        every = sorted((self.data / "lfw" / "images").glob("*/*.jpg"))
        photos = every[:: max(1, len(every) // n)][:n]
        tree = self.links("onnx-lfw", photos, tree=True)
        for b in self.builds:
            self.encoder_rows(b)
            log(f"onnx: index --quality best of {n} LFW photos, --engine onnx vs dlib ({b.name})")
            commands = {
                engine: self.index_command(
                    b, tree, f"onnx-{engine}", "--quality", "best", "--engine", engine
                )
                for engine in ("onnx", "dlib")
            }
            runs = self.alternate(f"onnx-{b.name}", commands)
            ours, theirs = runs["onnx"], runs["dlib"]
            ratio = median(theirs) / median(ours)
            faces = [json.loads(r[-1].stdout)["folders"][0]["faces"] for r in (ours, theirs)]
            self.rows.append(
                Row(
                    f"index {n} LFW photos --quality best (--jobs {self.args.jobs}) "
                    "vs --engine dlib",
                    b.name,
                    f"{median(ours):.1f} s",
                    f"{median(theirs):.1f} s",
                    f"{ratio:.2f}x (CPU time "
                    f"{median(theirs, 'cpu_seconds') / median(ours, 'cpu_seconds'):.2f}x)",
                    f">= {BEST_SPEEDUP:g}x",
                    ratio >= BEST_SPEEDUP,
                    f"{faces[0]} / {faces[1]}",
                    mib(ours, theirs),
                )
            )
            worker = [max(r.worker_peak_bytes for r in x) for x in (ours, theirs)]
            self.rows.append(
                Row(
                    "  peak memory of the largest worker (onnx / dlib)",
                    b.name,
                    f"{worker[0] / MIB:,.0f} MiB",
                    f"{worker[1] / MIB:,.0f} MiB",
                    f"{(worker[0] - worker[1]) / MIB:+,.0f} MiB",
                    f"<= +{WORKER_MEMORY // MIB} MiB",
                    worker[0] - worker[1] <= WORKER_MEMORY,
                )
            )

    def encoder_rows(self, b: Build) -> None:
        """bench/encoder_onnx.py in the build's venv: ms a face on one thread, alternating."""
        log(f"onnx: the encoder's ms a face, onnxruntime vs dlib ({b.name})")
        argv = [b.python, str(HERE / "encoder_onnx.py"), "--lfw", str(self.data / "lfw")]
        argv += ["--photos", "64", "--rounds", str(self.args.rounds)]
        result = run(argv)
        ms = json.loads(result.stdout)["ms_per_face"]
        self.raw[f"encoder-{b.name}"] = ms
        dlib = ms["dlib"]["median"]
        for name in ("onnx batch 1", "onnx batch 8"):
            ratio = dlib / ms[name]["median"]
            self.rows.append(
                Row(
                    f"encode a face, one thread, {name} vs dlib's compute_face_descriptor",
                    b.name,
                    f"{ms[name]['median']:.1f} ms",
                    f"{dlib:.1f} ms",
                    f"{ratio:.1f}x",
                    f">= {ENCODER_SPEEDUP:g}x",
                    ratio >= ENCODER_SPEEDUP,
                )
            )

    def skipped(self, measure: str, why: str) -> None:
        log(f"{measure}: skipped ({why})")
        self.rows.append(Row(measure, "", f"skipped ({why})"))

    def compare_row(
        self,
        measure: str,
        b: Build,
        ours: list[Run],
        theirs: list[Run],
        at_least: float,
        faces: str,
    ) -> None:
        ratio = median(theirs) / median(ours)
        cpu = median(theirs, "cpu_seconds") / median(ours, "cpu_seconds")
        self.rows.append(
            Row(
                measure,
                b.name,
                f"{median(ours):.1f} s",
                f"{median(theirs):.1f} s",
                f"{ratio:.2f}x (CPU time {cpu:.2f}x)",
                f">= {at_least}x",
                ratio >= at_least,
                faces,
                mib(ours, theirs),
            )
        )

    # -- output -------------------------------------------------------------------------------
    def table(self) -> str:
        one_build = len(self.builds) == 1
        head = [
            "measure",
            *([] if one_build else ["build"]),
            "lookalike",
            "face_recognition",
            "ratio",
            "target",
            "met",
            "faces (ours / CLI)",
            "peak memory (ours / CLI)",
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            met = "" if r.met is None else ("yes" if r.met else "**no**")
            cells = [
                r.measure,
                *([] if one_build else [r.build]),
                r.ours,
                r.theirs,
                r.ratio,
                r.target,
                met,
                r.faces,
                r.memory,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def model_label(model: str, prefix: str = " ") -> str:
    """How a web variant's detector is named: nothing for HOG, the preset's own."""
    return "" if model == "hog" else f"{prefix}{model}"


def median(runs: list[Run], field: str = "seconds") -> float:
    return statistics.median(getattr(r, field) for r in runs)


def mib(ours: list[Run], theirs: list[Run] | None = None) -> str:
    def peak(runs: list[Run]) -> str:
        return f"{max(r.peak_bytes for r in runs) / 2**20:,.0f} MiB"

    return peak(ours) + (f" / {peak(theirs)}" if theirs else "")


def made_with(db: Path, quality: str) -> bool:
    """Whether ``lookalike index --quality QUALITY`` accepts this index."""
    from lookalike.faces import QUALITY, Settings
    from lookalike.index import Index

    with Index.open(db) as idx:
        return idx.settings() == Settings(**QUALITY[quality])


def cli_faces(result: Run) -> int:
    """The CLI prints a line per face found, and one ``no_persons_found`` line per empty photo."""
    return sum(
        1
        for line in result.stdout.splitlines()
        if line.strip() and not line.endswith(",no_persons_found")
    )


def huge_photos(source: Path, cache: Path) -> list[Path]:
    """48 MP JPEG and PNG copies of a real photo, scaled up (once; kept in the cache)."""
    from PIL import Image

    paths = [cache / "huge-48mp-v2.jpg", cache / "huge-48mp-v2.png"]
    if not all(p.exists() for p in paths):
        with Image.open(source) as img:
            scale = (48e6 / (img.width * img.height)) ** 0.5
            size = (round(img.width * scale), round(img.height * scale))
            big = img.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        big.save(paths[0], quality=90)
        big.save(paths[1], compress_level=1)
    return paths


def default_builds() -> list[tuple[str, str]]:
    """dlib-bin's venv, and the fast build's beside it once `make install-fast` made it and
    while it is current (a fast venv older than pyproject.toml may lack a dependency since
    added, as onnxruntime once was: `make install-fast` brings it up to date)."""
    builds = [("dlib-bin", str(ROOT / ".venv"))]
    stamp = ROOT / ".venv-fast" / ".installed"
    if stamp.exists():
        if stamp.stat().st_mtime >= (ROOT / "pyproject.toml").stat().st_mtime:
            builds.append(("fast", str(ROOT / ".venv-fast")))
        else:
            log(
                "the fast build (.venv-fast) is older than pyproject.toml: left out; "
                "`make install-fast` brings it up to date"
            )
    return builds


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=int(env("BENCH_ROUNDS", "3")),
        help="rounds per measure (env BENCH_ROUNDS) [3]",
    )
    p.add_argument(
        "--only",
        default=env("BENCH_ONLY", ",".join(DEFAULT_SECTIONS)),
        help=f"sections, comma-separated, of {','.join(SECTIONS)} (env BENCH_ONLY) "
        f"[{','.join(DEFAULT_SECTIONS)}]",
    )
    p.add_argument(
        "--lfw-photos",
        type=int,
        default=int(env("BENCH_LFW_PHOTOS", "1000")),
        help="LFW photos in the lfw section (env BENCH_LFW_PHOTOS) [1000]",
    )
    p.add_argument(
        "--synthetic", type=int, default=1_000_000, help="faces in the synthetic index [1000000]"
    )
    p.add_argument("--jobs", default="2", help="processes for both sides [2]")
    p.add_argument(
        "--web-quality",
        default="default,cli",
        help="the --quality presets timed on the web photos, comma-separated [default,cli]",
    )
    p.add_argument(
        "--web-model",
        default="hog",
        help="the face detectors (--model) timed with each --web-quality, comma-separated: "
        "hog,cnn times the CNN as the detector too [hog]",
    )
    p.add_argument(
        "--onnx-photos",
        type=int,
        default=1000,
        help="LFW photos indexed --quality best by each engine in the onnx section [1000]",
    )
    p.add_argument(
        "--quality",
        default="default",
        help="the --quality preset of the lfw, rerun, match and memory sections [default]",
    )
    p.add_argument(
        "--build",
        action="append",
        type=lambda s: tuple(s.split("=", 1)),
        metavar="NAME=VENV",
        help="a lookalike installation to time (repeatable) "
        "[dlib-bin=.venv; fast=.venv-fast too once made]",
    )
    p.add_argument(
        "--baseline-venv",
        default=ROOT / ".venv",
        type=Path,
        help="where face_recognition's CLI is installed [.venv]",
    )
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument(
        "--cache",
        type=Path,
        default=ROOT.parent / "bench-cache" / "speed",
        help="where the slow-to-make inputs are kept [../bench-cache/speed]",
    )
    p.add_argument(
        "--build-lfw",
        action="store_true",
        help="index all of LFW when the cache has no index of it (~10+ min)",
    )
    p.add_argument("--json", type=Path, help="also write the rows and every run here")
    args = p.parse_args()
    args.build = args.build or default_builds()
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse_args()
    bench = Bench(args)
    if bench.work.exists():
        import shutil

        shutil.rmtree(bench.work)
    bench.work.mkdir(parents=True)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    for section in SECTIONS:
        if section in args.only.split(","):
            getattr(bench, section)()
    minutes = (time.monotonic() - started) / 60
    print(bench.table())
    print(
        f"\n{args.rounds} rounds, medians; {minutes:.1f} min; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} cores)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [asdict(r) for r in bench.rows], "runs": bench.raw}, indent=1)
        )


if __name__ == "__main__":
    main()

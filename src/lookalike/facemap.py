"""A map of the face space: every indexed face (or person) as one point in two dimensions.

The embeddings (128-d a network) are projected with PCA (linear and instant, even on all of
LFW), t-SNE (scikit-learn; its cost grows much faster than the number of points, so above ``sample``
points it maps a random sample) or UMAP (only when ``umap-learn`` is installed).  The
projection is fitted on the index's points alone, so a query does not move them; the query is
then placed on that map (PCA and UMAP project it, t-SNE cannot: it goes among its nearest
points).  Its nearest neighbours are the nearest in the full space, not on the map.
Drawn with matplotlib's Agg renderer (no display needed); :mod:`maphtml` writes the same map
as an interactive page.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from . import fonts, search
from .api import Query
from .index import Index
from .text import embed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METHODS = ("pca", "tsne", "umap")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
DEFAULT_SAMPLE = 2000
#: One colour per person: tab10's hues and black first (a map of up to 10 people shows no two
#: of one hue family), then ten more; all at least 27 apart in CIELAB, where tab20's light and
#: dark pairs of one hue come as close as 17; none near the bystanders' grey or the gold star.
PALETTE = (
    *("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"),
    *("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#000000"),
    *("#0000ff", "#ff00ff", "#556b2f", "#ff1493", "#9932cc"),
    *("#cd853f", "#66cdaa", "#4169e1", "#000080", "#800000"),
)
#: Up to this many people, each gets a colour and a legend entry.
MAX_COLOURED = len(PALETTE)
BYSTANDER = "#b8b8b8"
ONE_COLOUR = "#4c72b0"
HIGHLIGHT = "#ffd700"


@dataclass
class Space:
    """The points to map: embeddings and, per point, the person and the face it shows."""

    X: np.ndarray
    person: np.ndarray  # code into ``names``; -1: an unnamed bystander
    names: list[str]
    face_ids: np.ndarray  # per person: their face nearest to their mean face
    paths: list[str]
    unit: str  # "faces" or "people"

    def __len__(self) -> int:
        return len(self.X)

    def label(self, i: int) -> str:
        code = int(self.person[i])
        return self.names[code] if code >= 0 else "(unnamed)"

    def take(self, rows: np.ndarray) -> Space:
        return replace(
            self,
            X=self.X[rows],
            person=self.person[rows],
            face_ids=self.face_ids[rows],
            paths=[self.paths[r] for r in rows],
        )

    def colours(self) -> list[str]:
        """A colour per person code (index ``-1``, the last, is the bystanders').

        The people on the map get the palette's colours in turn; people the map leaves out
        (a sample) get none of them.
        """
        shown = np.unique(self.person[self.person >= 0])
        if len(shown) > MAX_COLOURED:
            return [ONE_COLOUR] * len(self.names) + [BYSTANDER]
        colours = [BYSTANDER] * (len(self.names) + 1)
        for colour, code in zip(PALETTE, shown, strict=False):
            colours[code] = colour
        return colours

    @property
    def coloured(self) -> bool:
        return len(set(self.colours())) > 2


def face_space(idx: Index) -> Space:
    """Every indexed face, bystanders included."""
    g = idx.gallery()
    info = idx.describe_faces(g.face_ids)
    paths = [info[int(f)]["path"] for f in g.face_ids]
    return Space(g.X, g.person, g.names, g.face_ids, paths, "faces")


def people_space(idx: Index) -> Space:
    """One point per person: the mean of their faces."""
    g = idx.gallery()
    X = np.zeros((len(g.names), g.X.shape[1]), np.float32)
    face_ids = np.zeros(len(g.names), np.int64)
    for code in range(len(g.names)):
        rows = np.flatnonzero(g.person == code)
        X[code] = g.X[rows].mean(axis=0)
        face_ids[code] = g.face_ids[rows[np.argmin(search.distances(g.X[rows], X[code]))]]
    info = idx.describe_faces(face_ids)
    paths = [info[int(f)]["path"] for f in face_ids]
    return Space(X, np.arange(len(g.names), dtype=np.int32), g.names, face_ids, paths, "people")


@dataclass
class FaceMap:
    """Points placed in 2-D, with the query and its nearest neighbours when there is one."""

    space: Space
    xy: np.ndarray
    method: str
    axes: tuple[str, str]
    total: int  # points before sampling
    notes: list[str] = field(default_factory=list)
    query: str | None = None
    query_xy: np.ndarray | None = None
    neighbours: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def query_name(self) -> str:
        """The query's file name (or person), shortened to fit beside a point."""
        name = os.path.basename(self.query or "")
        return name if len(name) <= 32 else name[:14] + "..." + name[-15:]

    @property
    def title(self) -> str:
        people = len(np.unique(self.space.person[self.space.person >= 0]))
        what = f"{len(self.space)} {self.space.unit}"
        if self.space.unit == "faces" and people:
            what += f" of {people} people"
        dim = self.space.X.shape[1]
        return f"{what}, {METHOD_NAMES[self.method]} of the {dim}-d face embeddings"

    @property
    def reading(self) -> str:
        """How to read the map, in a line."""
        dot = "face" if self.space.unit == "faces" else "person (their mean face)"
        if self.method == "pca":
            how = "the distance on the map roughly follows how alike two faces are"
        else:
            how = (
                f"{METHOD_NAMES[self.method]} keeps only neighbourhoods: the distances between "
                "groups and the directions mean nothing"
            )
        return f"Each dot is a {dot}; dots close together look alike, {how}."

    def texts(self) -> list[str]:
        """Every text the picture may show."""
        shown = self.space.names if self.space.coloured else []
        labels = [self.space.label(r) for r in self.neighbours]
        return [self.title, self.reading, *self.notes, self.query_name, *shown, *labels]


def for_index(
    idx: Index,
    method: str = "pca",
    query: Query | None = None,
    per_person: bool = False,
    top: int = 5,
    sample: int = DEFAULT_SAMPLE,
) -> FaceMap:
    """The map of an index: its faces, or its people with ``per_person``."""
    space = people_space(idx) if per_person else face_space(idx)
    return build(space, method, query, top, sample)


def build(
    space: Space,
    method: str = "pca",
    query: Query | None = None,
    top: int = 5,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
) -> FaceMap:
    """Project ``space`` to 2-D (a sample of it for t-SNE/UMAP), then place the query on it.

    The projection is fitted on the index's points alone, so the map looks the same with or
    without a query.  Sampled, the query's neighbours that the sample left out are added at the
    end and placed like the query.
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r} (one of {', '.join(METHODS)})")
    if len(space) < 3:
        raise ValueError(f"a map needs at least 3 {space.unit} in the index; it has {len(space)}")
    nbrs, dist = _neighbours(space, query, top)
    total, notes, fitted = len(space), [], len(space)
    if method != "pca" and len(space) > sample:
        rows = _sample(len(space), sample, seed)
        left_out = np.setdiff1d(nbrs, rows)
        notes.append(
            f"{METHOD_NAMES[method]} of {sample} {space.unit} drawn at random from "
            f"{total} (--sample N to change; PCA maps them all)"
        )
        if len(left_out):
            notes.append(
                f"{len(left_out)} of the query's nearest {space.unit} were not in the sample: "
                "they are placed like the query"
            )
        rows = np.concatenate([rows, left_out])
        space, nbrs, fitted = space.take(rows), _positions(rows, nbrs), sample
    extra = space.X[fitted:]
    if query is not None:
        extra = np.vstack([extra, query.embeddings[0][None, :]])
    xy, placed, axes = project(space.X[:fitted], method, seed, extra)
    out = FaceMap(space, np.vstack([xy, placed[: len(space) - fitted]]), method, axes, total, notes)
    if query is not None:
        out.query, out.query_xy = query.label, placed[-1]
        out.neighbours, out.distances = nbrs, dist
    return out


def _positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each of ``wanted`` is in ``rows``."""
    return np.array([int(np.flatnonzero(rows == w)[0]) for w in wanted], np.int64)


def _neighbours(space: Space, query: Query | None, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The query's nearest points, one per person, in the full embedding space.

    An index whose faces are credited to nobody yet (cut short before crediting) gives the
    nearest faces instead.
    """
    if query is None:
        return np.zeros(0, np.int64), np.zeros(0)
    d = search.distances(space.X, query.embeddings[0])
    if query.exclude in space.names:
        d[space.person == space.names.index(query.exclude)] = np.inf
    if (space.person >= 0).any():
        rows = search.top_k_per_person(d, space.person, top)
    else:
        rows = search.top_k(d, top)
    return rows, d[rows]


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` sorted row numbers out of ``n``, chosen at random."""
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def project(
    X: np.ndarray, method: str, seed: int, extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """2-D coordinates of the rows of ``X``, then of the rows of ``extra`` placed on that map
    (fitted on ``X`` alone), and the names of the two axes.
    """
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(X)
        share = pca.explained_variance_ratio_ * 100
        axes = (
            f"face-space direction 1 (PCA, {share[0]:.0f}% of the variation)",
            f"direction 2 ({share[1]:.0f}%)",
        )
        return xy, pca.transform(extra) if len(extra) else np.zeros((0, 2)), axes
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(X) - 1) / 3)
        xy = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            learning_rate="auto",
            random_state=seed,
        ).fit_transform(X)
        return xy, _beside_neighbours(X, xy, extra), ("", "")
    return (*_umap(X, seed, extra), ("", ""))


def _beside_neighbours(X: np.ndarray, xy: np.ndarray, extra: np.ndarray, k: int = 5) -> np.ndarray:
    """Where t-SNE (which cannot place new points) would roughly put ``extra``: the mean of the
    map positions of each one's ``k`` nearest rows of ``X``, weighted by closeness.
    """
    out = np.zeros((len(extra), 2))
    for i, e in enumerate(extra):
        d = search.distances(X, e)
        near = np.argsort(d)[:k]
        w = 1 / np.maximum(d[near], 1e-6)
        out[i] = (w[:, None] * xy[near]).sum(axis=0) / w.sum()
    return out


def _ring_centre(ax, xy: np.ndarray, rx: float, ry: float) -> tuple[float, float]:
    """Where to centre a ring of ``rx`` by ``ry`` points around ``xy`` so that it fits in ``ax``."""
    ax.autoscale_view()
    box = ax.get_window_extent()
    width, height = box.width * 72 / ax.figure.dpi, box.height * 72 / ax.figure.dpi
    fx, fy = ax.transAxes.inverted().transform(ax.transData.transform(xy))
    return _clamp(fx * width, rx, width - rx), _clamp(fy * height, ry, height - ry)


def _clamp(v: float, lo: float, hi: float) -> float:
    """``v`` moved into [lo, hi]; the middle when the interval is empty."""
    return min(max(v, lo), hi) if hi > lo else (lo + hi) / 2


def _umap(X: np.ndarray, seed: int, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        import umap
    except ImportError:
        raise ValueError(
            "--method umap needs the umap-learn package: "
            "pip install umap-learn (or pip install 'lookalike[umap]')"
        ) from None
    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(X) - 1), random_state=seed)
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": wanted
        warnings.simplefilter("ignore", UserWarning)
        xy = reducer.fit_transform(X)
        return xy, reducer.transform(extra) if len(extra) else np.zeros((0, 2))


def draw(m: FaceMap, path: str | os.PathLike) -> None:
    """The map as a picture (PNG, or any format matplotlib knows from the file name).

    Text takes each letter from the first installed font that has it (:mod:`fonts`); letters
    none has are reported in one line, not as matplotlib's warning per glyph.
    """
    from matplotlib import rc_context

    fonts.report_missing(m.texts(), per_glyph=True)
    with (
        rc_context({"font.family": fonts.matplotlib_families()}),
        warnings.catch_warnings(),
        _quiet("matplotlib.font_manager"),  # "findfont: Failed to find font weight bold..."
    ):
        warnings.filterwarnings("ignore", "Glyph .* missing from", UserWarning)
        _figure(m).savefig(path, bbox_inches="tight")


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """A library's logger kept to errors: a font drawn at another weight than asked for is no
    news to the user (the Noto fonts installed may have no bold)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _figure(m: FaceMap) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(11, 8.5), dpi=100)
    ax = fig.add_subplot()
    palette = m.space.colours()
    small = len(m.space) <= 500
    ax.scatter(
        m.xy[:, 0],
        m.xy[:, 1],
        s=30 if small else 5,
        alpha=0.9 if small else 0.5,
        c=[palette[c] for c in m.space.person],
        linewidths=0,
    )
    if m.space.coloured:
        handles = [
            Line2D([], [], ls="", marker="o", color=palette[c], label=name)
            for c, name in enumerate(m.space.names)
            if np.any(m.space.person == c)
        ]
        if np.any(m.space.person < 0):
            handles.append(Line2D([], [], ls="", marker="o", color=BYSTANDER, label="(unnamed)"))
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False
        )
    if m.query_xy is not None:
        _draw_query(ax, m)
    ax.set_xlabel(m.axes[0])
    ax.set_ylabel(m.axes[1])
    ax.set_xticks([])  # the numbers mean nothing to a reader
    ax.set_yticks([])
    ax.set_title(m.title, fontsize=12)
    fig.text(0.125, 0.06, "\n".join([m.reading, *m.notes]), fontsize=8, color="#555555", va="top")
    return fig


def _draw_query(ax, m: FaceMap) -> None:
    """The query as a hollow star; its neighbours' labels on a ring around it, each pointing at
    its dot.

    A ring keeps the labels apart however close the neighbours lie to each other on the map;
    its centre moves in from the edges of the plot so that it fits inside.
    """
    qx, qy = m.query_xy
    radius = max(70, 14 * len(m.neighbours))
    cx, cy = _ring_centre(ax, m.query_xy, 1.9 * radius + 80, radius + 12)
    for rank, (row, d) in enumerate(zip(m.neighbours, m.distances, strict=True), start=1):
        ax.scatter(
            *m.xy[row], s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=4
        )
        angle = np.pi / 2 - (rank - 1) * 2 * np.pi / len(m.neighbours)
        ax.annotate(
            f"{rank}. {embed(m.space.label(row))} ({d:.2f})",
            m.xy[row],
            xytext=(cx + 1.9 * radius * np.cos(angle), cy + radius * np.sin(angle)),  # wide labels
            textcoords="axes points",
            fontsize=9,
            ha="center",
            va="center",
            zorder=6,
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "#555555", "lw": 0.8, "shrinkB": 6},
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#999999", "alpha": 0.9},
        )
    for colour, width in (("black", 4.5), (HIGHLIGHT, 2.5)):  # gold on black; the dots show
        ax.scatter(
            [qx],
            [qy],
            marker="*",
            s=700,
            facecolors="none",
            edgecolors=colour,
            linewidths=width,
            zorder=7,
        )
    ax.annotate(
        m.query_name,
        (qx, qy),
        xytext=(0, -20),
        textcoords="offset points",
        ha="center",
        fontsize=9,
        fontweight="bold",
        zorder=7,
    )

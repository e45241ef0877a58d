"""The index's embedding dictionary, out to files other tools read.

- ``npz``: arrays ``embeddings`` (float32, n x d), ``names`` ('' for an unnamed bystander),
  ``photos``, ``boxes`` (top, right, bottom, left) and ``face_ids``; loads without pickle.
- ``csv``: one row per face: face_id, name, photo, top, right, bottom, left, e0, e1...

An embedding is the vector search compares: 128 floats of dlib's network, then 128 of
SFace's where the index's settings fuse it (each times its weight: ``info`` shows them).
- ``json``: a list of ``{"face_id", "name", "photo", "box", "embedding"}`` (name null for a
  bystander, box ``{"top", "right", "bottom", "left"}`` as every command's JSON has it).
- ``projector``: a folder for TensorFlow's Embedding Projector: ``vectors.tsv``,
  ``metadata.tsv`` (with a header: name, photo, face_id), ``sprite.jpg`` (every face's chip,
  row-major, in the order of the vectors) and ``projector_config.json`` tying them together.

Floats are written with 9 significant digits, which reads back to the same float32.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import montage
from .api import named_box
from .index import Index

FORMATS = ("projector", "npz", "csv", "json")
FLOAT = "%.9g"
#: The projector draws sprites as one WebGL texture: at most 8192 pixels a side.
SPRITE_MAX, SPRITE_THUMB = 8192, 64


@dataclass
class Records:
    """Every indexed face: who, where, and its embedding."""

    face_ids: np.ndarray
    names: list[str | None]  # None: a bystander, not credited to the photo's person
    photos: list[str]
    boxes: np.ndarray  # int, n x 4: top, right, bottom, left
    X: np.ndarray  # float32, n x d (128 a network)

    def __len__(self) -> int:
        return len(self.face_ids)


def records(idx: Index) -> Records:
    g = idx.gallery()
    info = idx.describe_faces(g.face_ids)
    rows = [info[int(f)] for f in g.face_ids]
    boxes = np.array([r["box"] for r in rows], np.int64).reshape(len(rows), 4)
    return Records(g.face_ids, [r["name"] for r in rows], [r["path"] for r in rows], boxes, g.X)


def format_for(out: str | os.PathLike) -> str:
    """The format a file name asks for: its suffix when it is one of ours, else projector."""
    suffix = Path(out).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "projector"


def write(idx: Index, fmt: str, out: str | os.PathLike, base_url: str = "") -> list[Path]:
    """Export the index as ``fmt`` to ``out`` (a folder for ``projector``); the files written."""
    out = Path(out)
    r = records(idx)
    if fmt == "projector":
        return write_projector(r, idx, out, base_url)
    writers = {"npz": write_npz, "csv": write_csv, "json": write_json}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    writers[fmt](r, out)
    return [out]


def write_npz(r: Records, out: Path) -> None:
    with open(out, "wb") as f:  # np.savez would add .npz to any other file name
        np.savez(
            f,
            embeddings=r.X,
            names=np.array([n or "" for n in r.names], dtype=str),
            photos=np.array(r.photos, dtype=str),
            boxes=r.boxes,
            face_ids=r.face_ids,
        )


def write_csv(r: Records, out: Path) -> None:
    header = ["face_id", "name", "photo", "top", "right", "bottom", "left"]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header + [f"e{i}" for i in range(r.X.shape[1])])
        for i, floats in enumerate(_floats(r.X)):
            w.writerow(
                [int(r.face_ids[i]), r.names[i] or "", r.photos[i], *r.boxes[i].tolist(), *floats]
            )


def write_json(r: Records, out: Path) -> None:
    items = [
        {
            "face_id": int(r.face_ids[i]),
            "name": r.names[i],
            "photo": r.photos[i],
            "box": named_box(r.boxes[i]),
            "embedding": [float(v) for v in floats],
        }
        for i, floats in enumerate(_floats(r.X))
    ]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(items, f)


def _floats(X: np.ndarray) -> list[list[str]]:
    """Each row as short decimal strings that read back to the same float32."""
    buf = io.StringIO()
    np.savetxt(buf, X, fmt=FLOAT)
    return [line.split() for line in buf.getvalue().splitlines()]


def write_projector(r: Records, idx: Index, folder: Path, base_url: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    vectors, metadata = folder / "vectors.tsv", folder / "metadata.tsv"
    sprite_path, config = folder / "sprite.jpg", folder / "projector_config.json"
    np.savetxt(vectors, r.X, fmt=FLOAT, delimiter="\t")
    with open(metadata, "w", encoding="utf-8") as f:
        f.write("name\tphoto\tface_id\n")
        for name, photo, fid in zip(r.names, r.photos, r.face_ids, strict=True):
            f.write(f"{_cell(name or '(unnamed)')}\t{_cell(photo)}\t{int(fid)}\n")
    side = min(SPRITE_THUMB, SPRITE_MAX // max(1, math.ceil(math.sqrt(len(r)))))
    sheet, _ = montage.sprite(montage.thumbnails(idx, r.face_ids, side), side)
    sheet.save(sprite_path, "JPEG", quality=85)
    url = base_url.rstrip("/") + "/" if base_url else ""
    embedding = {
        "tensorName": f"lookalike: {len(r)} faces",
        "tensorShape": list(r.X.shape),
        "tensorPath": url + vectors.name,
        "metadataPath": url + metadata.name,
        "sprite": {"imagePath": url + sprite_path.name, "singleImageDim": [side, side]},
    }
    config.write_text(json.dumps({"embeddings": [embedding]}, indent=2) + "\n", encoding="utf-8")
    return [vectors, metadata, sprite_path, config]


def _cell(text: str) -> str:
    """A TSV field: tabs and line breaks would split the row."""
    return " ".join(text.split("\t")).replace("\n", " ").replace("\r", " ")

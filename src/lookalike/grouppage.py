"""Pictures of the groups of `lookalike cluster --save DIR`: a sheet of faces per group and
one HTML page of them all, made from the chips stored in the index (no photo is read)."""

from __future__ import annotations

import html
import os
from pathlib import Path

from . import montage
from .groups import Group
from .index import Index

SIDE = 96  # pixels a face
MOST = 64  # faces drawn of a group (the page says how many more)
PHOTOS_LISTED = 5

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>lookalike: {count} groups of unnamed faces</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
section {{ margin-bottom: 2em; }}
h2 {{ font-size: 1.1em; margin-bottom: .3em; }}
img {{ max-width: 100%; image-rendering: auto; }}
code {{ background: #f2f2f2; padding: 0 .3em; }}
li {{ font-size: .85em; color: #555; }}
</style>
<h1>{count} groups of unnamed faces</h1>
<p>From {index}. Name one: <code>lookalike name GROUP "Person"</code>.</p>
{sections}
"""

SECTION = """<section id="group-{id}">
<h2>group {id}: {size} {faces}{new}</h2>
<img src="{picture}" alt="the faces of group {id}">
<ul>{photos}</ul>
</section>"""


def save(idx: Index, groups: list[Group], folder: str | os.PathLike) -> list[Path]:
    """Write ``group-<id>.jpg`` for each group and ``index.html`` showing them all, into
    ``folder`` (made if need be); returns the files written, the page last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = idx.describe_faces(f for g in groups for f in g.face_ids)
    written, sections = [], []
    for g in groups:
        picture = folder / f"group-{g.id}.jpg"
        sheet, _ = montage.sprite(montage.thumbnails(idx, g.face_ids[:MOST], SIDE), SIDE)
        sheet.save(picture, quality=88)
        written.append(picture)
        photos = dict.fromkeys(info[f]["path"] for f in g.face_ids)
        sections.append(_section(g, picture.name, list(photos)))
    page = folder / "index.html"
    page.write_text(
        PAGE.format(
            count=len(groups), index=html.escape(str(idx.path)), sections="\n".join(sections)
        ),
        encoding="utf-8",
    )
    return [*written, page]


def _section(g: Group, picture: str, photos: list[str]) -> str:
    items = [f"<li>{html.escape(p)}</li>" for p in photos[:PHOTOS_LISTED]]
    if len(photos) > PHOTOS_LISTED:
        items.append(f"<li>and {len(photos) - PHOTOS_LISTED} more photos</li>")
    more = f" (the first {MOST} shown)" if g.size > MOST else ""
    return SECTION.format(
        id=g.id,
        size=g.size,
        faces=("face" if g.size == 1 else "faces") + more,
        new=", new" if g.new else "",
        picture=html.escape(picture),
        photos="".join(items),
    )

"""Pictures of an answer: the query's face beside its matches, two faces side by side.

Every face shown is an aligned chip: the query's comes from encoding it, the matches' from the
index (stored as JPEG at index time), so a montage needs none of the original photos.  The
built-in gallery stores no pixels: its faces are cut from the LFW photos when they are here,
and a face that cannot be shown is a card saying whose it is and why (:func:`_draw_card`).  Tiles
are laid out on a fixed grid (:func:`chip_origin`), one row per query face: the query first,
a gap, then its matches, each framed green when within the same-person tolerance.
"""

from __future__ import annotations

import io
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import fonts
from .api import Comparison, Match, Query
from .faces import CHIP_SIZE
from .index import Index
from .text import embed

PAD = 12  # around and between tiles
FRAME = 4  # coloured frame around each chip
GAP = 28  # extra space between the query and its matches
LINE = 17  # caption line height
CAPTION_LINES = 4  # a long name or verdict wraps onto the next line, not cut short
TITLE_H = 30
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
QUERY_FRAME = (52, 101, 164)
SAME_FRAME = (46, 157, 75)
OTHER_FRAME = (200, 200, 200)
CARD = (244, 241, 234)  # a face that cannot be shown: a card, not a blank square
CARD_FIGURE = (214, 208, 196)
CARD_NOTE_INK = (105, 100, 92)
CARD_NOTE = "photo not installed"
CARD_NOTE_Y = 127  # the note's top, in the card

TILE_W = CHIP_SIZE + 2 * FRAME
ROW_H = CHIP_SIZE + 2 * FRAME + CAPTION_LINES * LINE + PAD


@dataclass
class Tile:
    """One framed face and the lines of text under it."""

    chip: Image.Image | None
    lines: list[str]
    frame: tuple[int, int, int]
    ink: tuple[int, int, int] = INK
    card: str = ""  # whose face, on the card drawn when there is no chip


def chip_origin(row: int, col: int) -> tuple[int, int]:
    """Top-left pixel of the chip in tile ``col`` of row ``row`` (column 0 is the query)."""
    x = PAD + col * (TILE_W + PAD) + (GAP if col > 0 else 0) + FRAME
    y = TITLE_H + PAD + row * ROW_H + FRAME
    return x, y


def render(rows: Sequence[Sequence[Tile]], title: str, legend: str = "") -> Image.Image:
    """Lay ``rows`` of tiles out on the grid of :func:`chip_origin`, under ``title`` (cut
    short where it must be) and ``legend`` after it (never cut)."""
    cols = max(len(r) for r in rows)
    width = chip_origin(0, cols)[0] - FRAME
    height = TITLE_H + PAD + len(rows) * ROW_H
    image = Image.new("RGB", (max(width, 2 * TILE_W), height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    captions = [t for row in rows for tile in row for t in tile.lines]
    fonts.report_missing([title + legend, *captions])
    title_font = fonts.pil_font(title + legend, 15)
    room = image.width - 2 * PAD - title_font.getlength(legend)
    draw.text((PAD, PAD), _fit(title, room, title_font) + legend, fill=INK, font=title_font)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            _draw_tile(image, draw, tile, *chip_origin(r, c))
    return image


def _draw_tile(image: Image.Image, draw: ImageDraw.ImageDraw, tile: Tile, x: int, y: int) -> None:
    draw.rectangle(
        (x - FRAME, y - FRAME, x + CHIP_SIZE + FRAME - 1, y + CHIP_SIZE + FRAME - 1),
        fill=tile.frame,
    )
    if tile.chip is None:
        _draw_card(draw, tile.card, x, y)
    else:
        image.paste(tile.chip.resize((CHIP_SIZE, CHIP_SIZE)), (x, y))
    for i, (text, ink, font) in enumerate(_caption(tile)):
        draw.text((x - FRAME, y + CHIP_SIZE + FRAME + 3 + i * LINE), text, fill=ink, font=font)


def _caption(tile: Tile) -> list[tuple[str, tuple[int, int, int], ImageFont.FreeTypeFont]]:
    """The tile's lines as drawn, the last in the tile's ink: each wrapped between words,
    the spare lines going to the last line first (the verdict), then to those before it."""
    texts = tile.lines[:CAPTION_LINES]
    fonts_ = [fonts.pil_font(text, 13) for text in texts]
    needed = [len(_wrap(t, TILE_W, f, CAPTION_LINES)) for t, f in zip(texts, fonts_, strict=True)]
    room, spare = [1] * len(texts), CAPTION_LINES - len(texts)
    for i in reversed(range(len(texts))):
        extra = min(spare, needed[i] - 1)
        room[i] += extra
        spare -= extra
    out = []
    for i, (text, font) in enumerate(zip(texts, fonts_, strict=True)):
        ink = tile.ink if i == len(texts) - 1 else INK
        out += [(line, ink, font) for line in _wrap(text, TILE_W, font, room[i])]
    return out


def _draw_card(draw: ImageDraw.ImageDraw, name: str, x: int, y: int) -> None:
    """In place of a face that cannot be shown: a figure, whose face it is, and why not
    (plain to read as a card, never as a picture that failed to draw)."""
    draw.rectangle((x, y, x + CHIP_SIZE - 1, y + CHIP_SIZE - 1), fill=CARD)
    mid = x + CHIP_SIZE // 2
    draw.ellipse((mid - 17, y + 12, mid + 17, y + 46), fill=CARD_FIGURE)  # head
    draw.pieslice((mid - 38, y + 50, mid + 38, y + 120), 180, 360, fill=CARD_FIGURE)
    name = name.replace("_", " ")
    font = fonts.pil_font(name, 14)
    for i, line in enumerate(_wrap(name, CHIP_SIZE - 10, font, 2)):
        draw.text((mid, y + 90 + i * LINE), line, fill=INK, font=font, anchor="mt")
    draw.text(
        (mid, y + CARD_NOTE_Y),
        CARD_NOTE,
        fill=CARD_NOTE_INK,
        font=fonts.pil_font(CARD_NOTE, 12),
        anchor="mt",
    )


def _wrap(text: str, width: int, font, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` pixels, broken between words (a word
    too long for a line, such as a photo's file name, within it); the last one cut short
    with '...' if it must be."""
    out: list[str] = []
    words = text.split()
    while words and len(out) < lines - 1:
        n = 1
        while n < len(words) and font.getlength(" ".join(words[: n + 1])) <= width:
            n += 1
        line = " ".join(words[:n])
        if n == 1 and font.getlength(line) > width:  # one long word: as much as fits
            cut = 1
            while cut < len(line) and font.getlength(line[: cut + 1]) <= width:
                cut += 1
            out.append(line[:cut])
            words = [line[cut:], *words[1:]]
            continue
        out.append(line)
        words = words[n:]
    if words:
        out.append(_fit(" ".join(words), width, font))
    return out


def _fit(text: str, width: int, font: ImageFont.FreeTypeFont) -> str:
    """``text``, cut short with '...' to fit ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def decode_chip(jpeg: bytes | None) -> Image.Image | None:
    return Image.open(io.BytesIO(jpeg)).convert("RGB") if jpeg else None


# -- the two pictures ----------------------------------------------------------------------
def match_montage(idx: Index, q: Query, matches: Sequence[Match]) -> Image.Image:
    """The query face(s) on the left, each one's matches to the right, nearest first."""
    rows = []
    for n, chip in enumerate(q.chips):
        if chip is not None:
            query = Tile(Image.fromarray(chip), ["query", os.path.basename(q.label)], QUERY_FRAME)
        else:  # an indexed person's mean face: show the face nearest to it
            query = Tile(
                decode_chip(idx.chip(_nearest_own_face(idx, q.embeddings[n], q.label))),
                [f"query: {embed(q.label)}", "(their mean face)"],
                QUERY_FRAME,
                card=q.label,
            )
        rows.append([query] + [_match_tile(m, idx) for m in matches if m.face == n + 1])
    if q.exclude:
        title = f"nearest to {embed(q.label)}, their own photos left out"
    else:
        what = "faces" if len(q.chips) > 1 else "face"
        title = f"nearest to the {what} in {os.path.basename(q.label)}"
    same = any(m.same_person for m in matches)
    return render(rows, title, " (green: probably the same person)" if same else "")


def _match_tile(m: Match, idx: Index) -> Tile:
    name = m.name if m.name is not None else "(unnamed)"
    return Tile(
        decode_chip(idx.chip(m.face_id)),
        [f"{m.rank}. {name}", f"{m.distance:.3f}  {m.similarity:.0f}%", m.resemblance],
        SAME_FRAME if m.same_person else OTHER_FRAME,
        SAME_FRAME if m.same_person else INK,
        name,
    )


def _nearest_own_face(idx: Index, centroid: np.ndarray, name: str) -> int:
    gallery = idx.gallery()
    rows = np.flatnonzero(gallery.person == gallery.names.index(name))
    d = np.linalg.norm(gallery.X[rows] - centroid, axis=1)
    return int(gallery.face_ids[rows[int(np.argmin(d))]])


def pair_montage(result: Comparison, chip_a: np.ndarray, chip_b: np.ndarray) -> Image.Image:
    """Two faces side by side, titled with their distance and the verdict."""
    frame = SAME_FRAME if result.same_person else OTHER_FRAME
    verdict = "same person" if result.same_person else "different people"
    tiles = [
        Tile(Image.fromarray(chip), [os.path.basename(path)], frame)
        for chip, path in ((chip_a, result.a.photo), (chip_b, result.b.photo))
    ]
    return render(
        [tiles],
        f"{result.metric} distance {result.distance:.3f}: {verdict} ({result.similarity:.0f}%)",
    )


def save(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` (its folder must exist); the format follows the file name (PNG when it
    has no known suffix)."""
    path = Path(path)
    fmt = None if path.suffix.lower() in Image.registered_extensions() else "PNG"
    image.save(path, fmt)
    return path


def show(path: str | os.PathLike) -> str | None:
    """Open ``path`` in the system viewer; returns why not when it cannot (no display)."""
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless:
        return "no display to open it on"
    if click.launch(os.fspath(path)) != 0:
        return "the system viewer could not be started"
    return None


# -- many small faces in one image -----------------------------------------------------------
def thumbnails(idx: Index, face_ids: Sequence[int], side: int) -> list[Image.Image | None]:
    """The stored chips of ``face_ids`` at ``side`` pixels (JPEG decoded at reduced scale)."""
    out = []
    for fid in face_ids:
        jpeg = idx.chip(int(fid))
        if not jpeg:
            out.append(None)
            continue
        im = Image.open(io.BytesIO(jpeg))
        im.draft("RGB", (side, side))
        out.append(im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR))
    return out


def sprite(images: Sequence[Image.Image | None], side: int) -> tuple[Image.Image, int]:
    """Square thumbnails in one image, row-major, ``ceil(sqrt(n))`` to a row; and that count."""
    cols = max(1, math.ceil(math.sqrt(len(images))))
    rows = max(1, math.ceil(len(images) / cols))
    sheet = Image.new("RGB", (cols * side, rows * side), BACKGROUND)
    for i, im in enumerate(images):
        if im is not None:
            sheet.paste(im, ((i % cols) * side, (i // cols) * side))
    return sheet, cols

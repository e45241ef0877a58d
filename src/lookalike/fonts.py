"""Fonts that can write people's names, whatever their script.

Names are folder names, so they may be Hangul, Chinese, Cyrillic, Arabic or accented Latin.
PIL's built-in font and matplotlib's DejaVu Sans alone lack many of those letters and draw
empty boxes, so pictures take, per text, the first font in :data:`PREFERRED` that is
installed and whose character map holds every letter of the text.  Nothing is bundled:
DejaVu Sans comes with matplotlib, the others with the system (on Debian and Ubuntu:
``apt-get install fonts-noto-core fonts-noto-cjk``).
"""

from __future__ import annotations

import functools
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

#: Font files in order of preference (the first that has every letter of a text writes it).
PREFERRED = (
    "DejaVuSans.ttf",  # Latin, Greek, Cyrillic, basic Arabic; matplotlib's own
    "NotoSans-Regular.ttf",
    "NotoSansCJK-Regular.ttc",  # Hangul, Chinese, Japanese (fonts-noto-cjk)
    "NotoSansArabic-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf",
    "NotoSansThai-Regular.ttf",
    "DroidSansFallbackFull.ttf",  # fonts-droid-fallback: a last resort for CJK
)
#: Where systems keep fonts (Linux, macOS, Windows).
FOLDERS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "~/Library/Fonts",
    os.path.join(os.environ.get("WINDIR", "C:/Windows"), "Fonts"),
)
INSTALL_HINT = "apt-get install fonts-noto-core fonts-noto-cjk"


@functools.cache
def installed() -> tuple[Path, ...]:
    """The files of :data:`PREFERRED` found on this machine, in that order."""
    import matplotlib

    found = {"DejaVuSans.ttf": Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")}
    for folder in FOLDERS:
        for root, _, files in os.walk(os.path.expanduser(folder)):
            for name in set(files).intersection(PREFERRED):
                found.setdefault(name, Path(root, name))
    return tuple(found[name] for name in PREFERRED if name in found)


@functools.cache
def _charset(path: Path) -> frozenset[int]:
    """The code points ``path`` has glyphs for (the first font of a collection); none when
    the file cannot be read as a font.
    """
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(path, fontNumber=0, lazy=True) as font:
            return frozenset(font.getBestCmap() or ())
    except (OSError, TTLibError):
        return frozenset()


def _letters(text: str) -> set[int]:
    """The code points of ``text`` that need a glyph (not spaces or invisible controls)."""
    return {ord(c) for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")}


def font_for(text: str) -> Path | None:
    """The first installed font with every letter of ``text``; None when there is none."""
    need = _letters(text)
    return next((p for p in installed() if need <= _charset(p)), None)


def missing(texts: Iterable[str], per_glyph: bool = False) -> list[str]:
    """The texts no installed font can write whole (``per_glyph``: not even all together)."""
    if per_glyph:  # matplotlib takes each letter from the first font of its list that has it
        every = frozenset().union(*(_charset(p) for p in installed()))
        return [t for t in texts if not _letters(t) <= every]
    return [t for t in texts if font_for(t) is None]


def pil_font(text: str, size: int) -> FreeTypeFont:
    """A PIL font that writes ``text``: the first that can, else the one with most of it."""
    path = font_for(text)
    if path is None:
        need = _letters(text)
        path = max(installed(), key=lambda p: len(need & _charset(p)))
    return _truetype(path, size)


@functools.cache
def _truetype(path: Path, size: int) -> FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


@functools.cache
def matplotlib_families() -> list[str]:
    """The installed fonts' family names, registered with matplotlib, for ``font.family``.

    Registered by file, since matplotlib's font cache does not see fonts installed after
    it was built.
    """
    from matplotlib import font_manager

    names = []
    for path in filter(_charset, installed()):  # readable ones
        font_manager.fontManager.addfont(path)
        names.append(font_manager.FontProperties(fname=path).get_name())
    return list(dict.fromkeys(names))


def report_missing(texts: Iterable[str], per_glyph: bool = False) -> None:
    """One line on stderr when some of ``texts`` will show empty boxes for letters."""
    lacking = missing(dict.fromkeys(texts), per_glyph)
    if lacking:
        more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
        click.echo(
            f"no installed font has every letter of {lacking[0]!r}{more}, so some letters "
            f"show as boxes (on Debian/Ubuntu: {INSTALL_HINT})",
            err=True,
        )

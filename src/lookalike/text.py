"""Text as it is laid out: in a terminal some characters take two columns, some none; in a
left-to-right line a right-to-left name must not carry its neighbours along.
"""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and fullwidth characters two,
    combining marks and invisible format characters none, the rest one.
    """
    return sum(_width(c) for c in text)


def _width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def embed(name: str) -> str:
    """``name`` ready to go inside a left-to-right line.

    A right-to-left name (Arabic, Hebrew) would pull the numbers around it into its own
    direction ("4. مريم (0.88)" drawn as "(0.88) مريم .4"); left-to-right marks on either side
    keep them in place.  Other names are left as they are, so fonts without the mark never
    meet it.
    """
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in name):
        return f"\u200e{name}\u200e"
    return name

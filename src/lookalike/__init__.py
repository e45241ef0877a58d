"""lookalike: find the faces that look most like yours.

The data flow, one module a step: ``images`` (open a photo safely) -> ``faces`` (detect,
align, encode with dlib) -> ``index`` (the SQLite store) / ``indexer`` (a folder into it) ->
``search`` (rank by distance) -> ``cli`` (render).  ``api`` ties them together.
"""

from .api import Match, NoFaceError, distance, encode, index, info, match
from .faces import Face, Settings
from .images import ImageError

__all__ = [
    "Face",
    "ImageError",
    "Match",
    "NoFaceError",
    "Settings",
    "distance",
    "encode",
    "index",
    "info",
    "match",
]

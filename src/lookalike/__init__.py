"""lookalike: find the faces that look most like yours.

The data flow, one module a step: ``images`` (open a photo safely) -> ``faces`` (detect,
align, encode with dlib) -> ``index`` (the SQLite store) / ``indexer`` (a folder into it) ->
``search`` (rank by distance) -> ``cli`` (render).  ``api`` ties them together.

The names below are imported on first use (PEP 562), so that ``import lookalike`` is light
and the command's entry point (:mod:`lookalike.__main__`) can catch a Ctrl-C that comes
while numpy, dlib and the models load.
"""

from importlib import import_module

_WHERE = {
    "Match": "api",
    "NoFaceError": "api",
    "distance": "api",
    "encode": "api",
    "index": "api",
    "info": "api",
    "match": "api",
    "Face": "faces",
    "Settings": "faces",
    "ImageError": "images",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'lookalike' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)

"""What the tool remembers between runs: where the LFW photos are.

One small JSON file in the user config folder (``$LOOKALIKE_CONFIG`` names another file:
tests, or several setups side by side).  The built-in gallery ships no pixels; knowing the
LFW folder lets pictures of its matches show their faces, cut from the LFW photos.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

CONFIG_ENV = "LOOKALIKE_CONFIG"
LFW_ENV = "LOOKALIKE_LFW"


def path() -> Path:
    """The config file: ``$LOOKALIKE_CONFIG``, else ``config.json`` in the user config folder."""
    named = os.environ.get(CONFIG_ENV)
    return Path(named) if named else Path(platformdirs.user_config_dir("lookalike")) / "config.json"


def load() -> dict:
    """The remembered values ({} when there is no file yet, or an empty one)."""
    file = path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        values = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"{file}: not a lookalike config file ({e}); fix or delete it") from None
    if not isinstance(values, dict):
        raise ValueError(f"{file}: not a lookalike config file (a JSON object); fix or delete it")
    return values


def remember(key: str, value: str) -> bool:
    """Store ``key`` (written whole, atomically); True when that changed the file."""
    values = load()
    if values.get(key) == value:
        return False
    values[key] = value
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, file)
    return True


def lfw_root(folder: str | os.PathLike) -> Path:
    """The LFW folder (the one holding ``images/<Name>/<Name>_0001.jpg``), given it or its
    ``images/`` folder; ValueError when it is neither."""
    folder = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    if (folder / "images").is_dir():
        return folder
    if folder.name == "images" and folder.is_dir():
        return folder.parent
    raise ValueError(
        f"{folder} does not hold LFW: no images/ folder in it "
        "(the LFW folder holds images/<Name>/<Name>_0001.jpg)"
    )


def named_lfw(given: str | os.PathLike | None = None) -> str | None:
    """The LFW folder named for this run: ``given`` (``--lfw``), else ``$LOOKALIKE_LFW``."""
    return os.fspath(given) if given else os.environ.get(LFW_ENV) or None


def find_lfw(given: str | os.PathLike | None = None) -> Path | None:
    """Where the LFW photos are: the folder named for this run (:func:`named_lfw`; one that
    does not hold LFW is an error), else the remembered one while it still does, else None."""
    named = named_lfw(given)
    if named:
        return lfw_root(named)
    remembered = load().get("lfw")
    return Path(remembered) if remembered and (Path(remembered) / "images").is_dir() else None

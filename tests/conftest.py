"""Shared fixtures: the real photos in ../shared/data and one indexed celebs5 gallery."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lookalike import api, groups
from lookalike.index import Index

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LOOKALIKE_TEST_DATA", ROOT.parent / "shared" / "data"))
EXAMPLES = DATA / "examples"
CELEBS = DATA / "celebs5"
LFW = DATA / "lfw"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no test photos at {DATA}")


@pytest.fixture(autouse=True)
def _isolated_index(tmp_path, monkeypatch):
    """No test ever touches the user's real index, or their config (the LFW folder)."""
    monkeypatch.setenv("LOOKALIKE_INDEX", str(tmp_path / "default-index.db"))
    monkeypatch.setenv("LOOKALIKE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.delenv("LOOKALIKE_LFW", raising=False)


@pytest.fixture(scope="session")
def celebs_index(tmp_path_factory) -> Path:
    """celebs5/gallery indexed once for the whole session (read-only for tests)."""
    if not DATA.is_dir():
        pytest.skip(f"no test photos at {DATA}")
    path = tmp_path_factory.mktemp("celebs") / "celebs.db"
    api.index(CELEBS / "gallery", path, jobs=2)
    return path


@pytest.fixture
def unnamed_index(tmp_path) -> Path:
    """Eight celebs5 photos of two people, indexed --unnamed and grouped."""
    folder = tmp_path / "party"
    folder.mkdir()
    for person in ("madonna", "elton_john"):
        for photo in sorted((CELEBS / "gallery" / person).iterdir())[:4]:
            shutil.copy(photo, folder / f"{person}-{photo.name}")
    index = tmp_path / "party.db"
    api.index(folder, index, jobs=1, unnamed=True)
    with Index.open(index) as idx:
        groups.cluster_index(idx)
    return index

"""PLACEHOLDER until the open-set rule lands (branch openset)."""

from __future__ import annotations

SAME_PHOTO = 0.02


def same_person(first: float, second: float | None, people: int) -> bool:
    return first <= 0.6


def resemblance(d: float) -> str:
    if d < 0.4:
        return "very close lookalike"
    if d < 0.5:
        return "close lookalike"
    if d < 0.6:
        return "lookalike"
    return "some resemblance"

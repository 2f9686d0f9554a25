"""The package's data files (price table, fixed fees, IAM policies, upstream facts), kept in this one folder."""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).parent


def read_text(filename: str) -> str:
    """The text of one data file, by name."""
    return DIR.joinpath(filename).read_text(encoding="utf-8")

"""Counts in words as a reader expects them: "1 person", "3 files", never "1 people" or "3 file(s)"."""

from __future__ import annotations

IRREGULAR = {"person": "people", "face reading": "face readings"}


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: counted(1, "person") == "1 person"."""
    many = (
        plural
        or IRREGULAR.get(noun)
        or (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s")
    )
    return f"{n:,} {noun if n == 1 else many}"


def signed(value: float, digits: int = 1) -> str:
    """``value`` with its sign ("+3.2", "-0.4"), and "0.0" rather than "-0.0" where it rounds to zero."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text

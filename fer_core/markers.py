"""Markers imported from a CSV file (``file,start_s,end_s,label``), as spreadsheets and other tools write it.

Reads UTF-8 (with or without a byte-order mark), UTF-16 (Excel's "Unicode text") and Windows-1252/Latin-1;
commas, semicolons or tabs between columns (with a semicolon or a tab, "1,5" is 1.5 seconds); times as seconds
or as m:ss / h:mm:ss. Every good row is imported in one transaction; each other row is listed with its number
and why (an unknown file, a name two files share, a time that is not a number, not finite, negative, after the
file's end, an end before its start, a blank label, the same marker twice). A file too large or with too many
rows is refused whole, before any row is read into the database: memory stays bounded.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from sqlalchemy import Engine, select

from fer_core.storage import repository
from fer_core.storage.db import session_factory
from fer_core.storage.orm import Marker, MediaFile

COLUMNS = ("file", "start_s", "end_s", "label")
MAX_BYTES = 5 * 2**20  # far more than any session's markers: about 100,000 short rows
MAX_ROWS = 10_000
LISTED = 50  # problems listed one by one; the rest are counted
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


class MarkersFileError(ValueError):
    """The whole file is refused (nothing was imported), with the reason in words."""


def decode(data: bytes) -> str:
    """The file's text, whatever of the usual encodings a spreadsheet saved it in."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte is a character: never fails


def read_bytes(source: bytes | str | Path) -> bytes:
    """The file's bytes (a path is checked for size before it is read)."""
    if isinstance(source, (str, Path)):
        size = Path(source).stat().st_size
        if size > MAX_BYTES:
            raise MarkersFileError(_too_large(size))
        return Path(source).read_bytes()
    if len(source) > MAX_BYTES:
        raise MarkersFileError(_too_large(len(source)))
    return source


def _too_large(size: int) -> str:
    return f"the file has {size / 2**20:.1f} MB; a markers file may have at most {MAX_BYTES / 2**20:g} MB"


def seconds(text: str | None, *, decimal_comma: bool) -> float | None:
    """A time in seconds from "12.5", "12,5" (where commas are decimal), "1:05" or "0:01:05"; None if blank.
    ValueError for anything else, including NaN, infinities and negative times."""
    text = (text or "").strip()
    if not text:
        return None
    if decimal_comma:
        text = text.replace(",", ".")
    clock = _CLOCK.match(text)
    if clock:
        h, m, s = clock.groups()
        value = int(h or 0) * 3600 + int(m) * 60 + float(s)
    else:
        value = float(text)  # "nan", "inf" parse here and are refused below
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _dialect(text: str) -> tuple[str, bool]:
    """The column separator (from the header line) and whether commas are decimal commas."""
    header = text.split("\n", 1)[0]
    sep = max((";", ",", "\t"), key=header.count)
    return sep, sep != ","


def import_csv(session_id: int, source: bytes | str | Path, *, engine: Engine) -> dict:
    """Import the markers of ``source`` (bytes, or a path) into the session's files, matched by their names as
    uploaded. Returns {"imported": N, "problems": [...]}; MarkersFileError when the file is refused whole."""
    text = decode(read_bytes(source))
    sep, decimal_comma = _dialect(text)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise MarkersFileError(f"the file cannot be read as CSV ({exc})") from exc
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MarkersFileError(
            f"the CSV needs the columns {', '.join(COLUMNS)}; missing: {', '.join(missing)} "
            f"(columns found: {', '.join(header[:10]) or 'none'})"
        )
    rows = _Rows(header, decimal_comma)
    with session_factory(engine)() as db:
        for mid, name in db.execute(
            select(MediaFile.id, MediaFile.original_name).where(MediaFile.session_id == session_id)
        ):
            rows.media.setdefault(name, []).append(mid)
        for m in db.scalars(select(Marker).where(Marker.session_id == session_id)):
            rows.seen[_key(m.media_id, m.start_s, m.end_s, m.label)] = 0
        try:
            for row_no, row in enumerate(reader, start=2):  # row 1 is the header
                if row_no - 1 > MAX_ROWS:
                    raise MarkersFileError(f"the file has more than {MAX_ROWS:,} rows; split it")
                rows.add(db, row_no, row)
        except (csv.Error, MarkersFileError) as exc:  # a quoted field that never ends, too many rows...
            db.rollback()
            message = str(exc) if isinstance(exc, MarkersFileError) else f"the file cannot be read as CSV ({exc})"
            raise MarkersFileError(f"{message}; nothing was imported") from exc
        db.commit()
    if rows.unlisted:
        rows.problems.append(f"... and {rows.unlisted} more rows not imported")
    return {"imported": rows.imported, "problems": rows.problems}


def _key(media_id: int, start: float, end: float | None, label: str) -> tuple:
    return media_id, round(start, 3), None if end is None else round(end, 3), label


class _Rows:
    """The rows of one import: checks each, adds the good ones (uncommitted), says why of the others."""

    def __init__(self, header: list[str], decimal_comma: bool):
        self.where = {c: header.index(c) for c in COLUMNS}
        self.decimal_comma = decimal_comma
        self.media: dict[str, list[int]] = {}  # the session's files by name
        self.seen: dict[tuple, int] = {}  # each marker there or imported -> the row it came from (0: there before)
        self.problems: list[str] = []
        self.unlisted = 0
        self.imported = 0

    def problem(self, message: str) -> None:
        if len(self.problems) < LISTED:
            self.problems.append(message)
        else:
            self.unlisted += 1

    def add(self, db, row_no: int, row: list[str]) -> None:
        if not any(cell.strip() for cell in row):
            return  # a blank line
        cell = {c: (row[i] if i < len(row) else "") for c, i in self.where.items()}
        name = (repository.clean_text(cell["file"]) or "").strip()
        ids = self.media.get(name, [])
        if not ids:
            return self.problem(f"row {row_no}: no file named {name[:100]!r} in this session")
        if len(ids) > 1:
            return self.problem(f"row {row_no}: {len(ids)} files of this session are named {name[:100]!r}: ambiguous")
        try:
            start = seconds(cell["start_s"], decimal_comma=self.decimal_comma)
            end = seconds(cell["end_s"], decimal_comma=self.decimal_comma)
            if start is None:
                raise ValueError("no start")
        except ValueError:
            return self.problem(f"row {row_no}: start_s and end_s must be seconds, 0 or more (12.5 or 0:12.5)")
        label = (repository.clean_text(cell["label"]) or "").strip()[:200]
        key = _key(ids[0], start, end, label)
        if key in self.seen:
            first = self.seen[key]
            return self.problem(
                f"row {row_no}: the same marker as row {first}" if first else f"row {row_no}: already marked"
            )
        try:
            # add_marker checks before it adds: a refused row leaves nothing behind
            repository.add_marker(db, media_id=ids[0], start_s=start, end_s=end, label=label)
        except (TypeError, ValueError) as exc:
            return self.problem(f"row {row_no}: {exc}")
        self.seen[key] = row_no
        self.imported += 1

"""Tables leaving the product: CSV that a spreadsheet cannot mistake for formulas.

A text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is a formula to Excel,
LibreOffice and Google Sheets: a session or file name such as ``=HYPERLINK(...)`` would run when a researcher
opens the export. Such text gets a leading apostrophe, as OWASP advises; numbers (negative ones included)
stay numbers.
"""

from __future__ import annotations

import functools
import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# What a signed figure the product writes itself is made of ("+53.5 pp [-8.5, +98.0]", "-0.10", "+3.2%"): with
# nothing else in a cell, a spreadsheet can call no function and reach no other cell or program.
_FIGURE = re.compile(r"[+-]?[\d.,]+ ?(pp|%)?( \[[+-]?[\d.,]+ ?(pp|%)?, [+-]?[\d.,]+ ?(pp|%)?\])?")


def neutralise_text(value, *, figures_as_they_are: bool = False):
    """``value`` with a leading apostrophe if it is text that a spreadsheet would run; anything else as is.
    ``figures_as_they_are`` leaves signed figures alone (for the screen: a table's own download still gets
    every other formula neutralised)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if figures_as_they_are and _FIGURE.fullmatch(value):
            return value
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame, *, figures_as_they_are: bool = False) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as formulas (only text columns are touched)."""
    out = df.copy()
    fix = functools.partial(neutralise_text, figures_as_they_are=figures_as_they_are)
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(fix)
    out.columns = [fix(c) for c in out.columns]
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``df``, safe to open in a spreadsheet."""
    return neutralise_formulas(df).to_csv(index=False).encode()

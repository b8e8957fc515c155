"""Tables leaving the product: CSV that a spreadsheet cannot mistake for formulas.

A text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is a formula to Excel,
LibreOffice and Google Sheets: a session or file name such as ``=HYPERLINK(...)`` would run when a researcher
opens the export. Such text gets a leading apostrophe, as OWASP advises; numbers (negative ones included)
stay numbers.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_text(value):
    """``value`` with a leading apostrophe if it is text that a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as formulas (only text columns are touched)."""
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(neutralise_text)
    out.columns = [neutralise_text(c) for c in out.columns]
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``df``, safe to open in a spreadsheet."""
    return neutralise_formulas(df).to_csv(index=False).encode()

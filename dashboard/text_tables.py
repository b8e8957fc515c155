"""Tables of figures as plain HTML: text a researcher can select and paste into a deck, columns that wrap to
the page's width, and no data-grid code for a new tab to load (the grid and its Arrow readers are about a
megabyte of JavaScript: benchmarks/pages.py). Long lists that need scrolling and sorting use ``st.dataframe``
(``widgets.long_table``)."""

from __future__ import annotations

import html
import math
import numbers
import re

import numpy as np
import pandas as pd

CSS_CLASS = "fer-table"
_STYLE = f"""<style>
table.{CSS_CLASS} {{border-collapse: collapse; width: 100%; font-size: 0.9rem; margin: 0 0 1rem 0}}
table.{CSS_CLASS} th {{text-align: left; font-weight: 600; padding: 0.3rem 0.6rem; vertical-align: bottom;
  border-bottom: 2px solid rgba(128, 128, 128, 0.35)}}
table.{CSS_CLASS} td {{padding: 0.3rem 0.6rem; vertical-align: top; border-bottom: 1px solid rgba(128, 128, 128, 0.2);
  font-variant-numeric: tabular-nums}}
table.{CSS_CLASS} span.nb {{white-space: nowrap}}
</style>"""


def cell_text(value) -> str:
    """One value as the table shows it: blank for missing, yes/no, no long floats."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e12:
            return f"{int(v):,}"
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


# "11% [10-12]", "+0.02 [-0.01, +0.05]", "+3 pp [-1, +8]": a figure and its interval may go on two lines, but
# neither is broken inside
_FIGURE = re.compile(r"^(\S+(?: pp)?) (\[[^\]]*\])$")


def cell_html(text: str) -> str:
    figure = _FIGURE.match(text)
    if figure:
        return " ".join(f"<span class=nb>{html.escape(part)}</span>" for part in figure.groups())
    return html.escape(text)


def to_html(df: pd.DataFrame, *, hide_index: bool = True) -> str:
    """``df`` as an HTML table, every cell escaped."""
    if not hide_index:
        df = df.reset_index()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell_html(cell_text(v))}</td>" for v in values) + "</tr>"
        for values in df.itertuples(index=False)
    )
    return f"{_STYLE}<table class={CSS_CLASS}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

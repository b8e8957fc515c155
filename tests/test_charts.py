"""Chart builders and exports (PNG and SVG need Chromium, which .ci/run installs)."""

import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from fer_core.constants import EMOTIONS

import charts

has_chromium = pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="PNG/SVG export needs Chromium (apt-get install chromium)",
)


def _dist():
    rows = [
        {"session_id": 1, "model": m, "emotion": e, "faces": 1, "label_share": 1 / 7, "mean_prob": 1 / 7}
        for m in ("resnet50", "vgg16", "ensemble")
        for e in EMOTIONS
    ]
    return pd.DataFrame(rows)


def _timeline():
    return pd.DataFrame(
        [
            {"t_s": t, "faces": 2, "emotion": e, "share": 0.7 if e == "happy" else 0.05}
            for t in (0.0, 1.0, 2.0)
            for e in EMOTIONS
        ]
    )


def test_every_emotion_keeps_its_colour():
    fig = charts.distribution_figure(_dist())
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {e: charts.EMOTION_COLORS[e] for e in EMOTIONS}
    assert fig.layout.yaxis.title.text == "mean probability"
    tl = charts.timeline_figure(_timeline())
    assert {t.name: t.line.color for t in tl.data} == {e: charts.EMOTION_COLORS[e] for e in EMOTIONS}
    assert tl.layout.xaxis.title.text == "time in video (s)"


def test_satisfaction_index():
    sat = charts.satisfaction(_timeline(), by=["t_s"])
    assert sat["satisfaction"].tolist() == pytest.approx([0.7 + 0.05 - 4 * 0.05] * 3)


def test_other_figures_build():
    trend = _timeline().rename(columns={"t_s": "period"}).assign(period=datetime(2026, 11, 2), sessions=1)
    assert charts.trend_figure(trend).data
    cross = pd.DataFrame(1, index=list(EMOTIONS), columns=list(EMOTIONS))
    cross.index.name, cross.columns.name = "resnet50", "vgg16"
    assert charts.crosstab_figure(cross).layout.xaxis.title.text == "VGG16 label"
    recall = pd.DataFrame([{"model": "vgg16", "emotion": e, "recall": 0.5} for e in EMOTIONS])
    assert charts.recall_figure(recall).data


def test_html_export_is_standalone():
    html = charts.to_html(charts.distribution_figure(_dist())).decode()
    assert "<html>" in html[:100] and len(html) > 1_000_000  # plotly.js inlined: opens offline
    assert "<script src=" not in html


@has_chromium
def test_png_and_svg_export():
    fig = charts.timeline_figure(_timeline())
    png = charts.to_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    svg = charts.to_image(fig, "svg")
    assert b"<svg" in svg[:500]


def _people(n: int) -> list[dict]:
    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        shares = dict(zip(EMOTIONS, rng.dirichlet(np.ones(7))))
        ci = {e: (max(0.0, v - 0.08), min(1.0, v + 0.08)) for e, v in shares.items()}
        out.append({"person": f"P{i + 1}", "shares": shares, "ci95": ci})
    return out


def test_many_people_are_drawn_as_a_heat_map_with_their_intervals():
    from charts import MANY_GROUPS, shares_figure

    few = shares_figure(_people(MANY_GROUPS), key="person")
    assert {t.type for t in few.data} == {"bar"} and len(few.data) == MANY_GROUPS  # one bar series a person
    many = shares_figure(_people(24), key="person")
    [heat] = many.data
    assert (
        heat.type == "heatmap" and list(heat.y) == [f"P{i + 1}" for i in range(24)] and list(heat.x) == list(EMOTIONS)
    )
    cell = heat.text[0][0]
    low, high = _people(24)[0]["ci95"]["angry"]
    assert f"{low:.0%} to {high:.0%}" in cell  # every cell says its interval
    assert many.layout.height >= 24 * 30  # a readable row per person


def test_adjacent_segments_stay_two_on_the_timeline():
    import plotly.graph_objects as go

    markers = pd.DataFrame(
        {"label": ["intro", "product", "logo"], "start_s": [0.0, 7.0, 10.0], "end_s": [7.0, 14.0, np.nan]}
    )
    fig = charts.with_markers(go.Figure(go.Scatter(x=[0, 14], y=[0, 1])), markers)
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = sorted(s.x0 for s in fig.layout.shapes if s.type == "line")
    assert len(bands) == 2 and bands[0].fillcolor != bands[1].fillcolor  # two shades where they meet
    assert lines == [0.0, 7.0, 10.0]  # a line at each segment's start, and the point marker
    assert [a.text for a in fig.layout.annotations] == ["intro", "product", "logo"]


def test_points_and_bars_say_what_they_rest_on():
    """Issue 42, item 3: a week resting on one person is drawn open and says so; hovers carry the counts."""
    import pandas as pd

    import charts

    weekly = pd.DataFrame(
        [
            {"period": p, "emotion": e, "share": s, "people": n, "sessions": 1}
            for p, n in (("2026-11-23", 1), ("2026-11-30", 12))
            for e, s in (("happy", 0.5), ("sad", 0.2), ("neutral", 0.3))
        ]
    )
    sat = charts.satisfaction(weekly, by=["period"])
    assert sat["people"].tolist() == [1, 12] and sat["satisfaction"].tolist() == pytest.approx([0.3, 0.3])
    fig = charts.satisfaction_figure(sat, x="period")
    assert list(fig.data[0].marker.symbol) == ["circle-open", "circle"]
    assert "people: %{customdata[0]}" in fig.data[0].hovertemplate
    assert any("fewer than 3 people" in a.text for a in fig.layout.annotations)

    dist = pd.DataFrame(
        [
            {"session_id": 1, "model": "ensemble", "emotion": e, "people": n, "label_share": 0, "mean_prob": 0.5}
            for e, n in (("happy", 1), ("sad", 0))
        ]  # fmt: skip
    )
    bars = charts.distribution_figure(dist)
    assert bars.data[0].customdata[0][0] == "1 person"


def test_plain_tables_show_figures_as_a_reader_expects_and_escape_text():
    import text_tables
    from conftest import html_tables

    df = pd.DataFrame(
        {
            "file": ["<img src=x onerror=alert(1)>.mp4", "b.jpg"],
            "seconds": [45.50381234, np.nan],
            "readings": [12345, 3],
            "present": [True, False],
            "when": [pd.Timestamp("2026-12-07 10:15:30"), None],
            "happy": ["11% [10-12]", "+0.02 [-0.01, +0.05]"],
        }
    )
    page = text_tables.to_html(df)
    assert "<img" not in page and "&lt;img" in page
    (shown,) = html_tables(page)
    rows = [list(shown.columns), *shown.to_numpy().tolist()]
    assert rows[0] == list(df.columns)
    assert rows[1] == ["<img src=x onerror=alert(1)>.mp4", "45.5", "12,345", "yes", "2026-12-07 10:15", "11% [10-12]"]
    assert rows[2] == ["b.jpg", "", "3", "no", "", "+0.02 [-0.01, +0.05]"]  # blanks, not None or NaN
    assert "<span class=nb>[-0.01, +0.05]</span>" in page  # an interval is never broken across lines


def test_signed_figures_never_read_minus_zero():
    from fer_core.wording import signed

    assert [signed(-0.04), signed(0.04), signed(-0.4), signed(2, 2)] == ["0.0", "0.0", "-0.4", "+2.00"]


def test_a_long_table_scrolls_in_its_own_frame_and_a_short_one_stays_text():
    from streamlit.testing.v1 import AppTest

    def page(rows):
        import pandas as pd

        import widgets

        widgets.table(pd.DataFrame({"file": [f"f{i}.jpg" for i in range(rows)], "faces": range(rows)}))

    for rows, grids in ((5, 0), (31, 1)):
        at = AppTest.from_function(page, args=(rows,)).run()
        assert not at.exception
        assert len(at.dataframe) == grids
        if grids:
            assert len(at.dataframe[0].value) == rows

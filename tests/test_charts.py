"""Chart builders and exports (PNG and SVG need Chromium, which .ci/run installs)."""

import shutil
from datetime import datetime

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

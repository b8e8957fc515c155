"""Plotly figures from the query layer's DataFrames, one colour per emotion everywhere, and their exports.

Pure functions (DataFrame -> Figure, Figure -> bytes): no Streamlit, no database.
"""

from __future__ import annotations

import functools
import html
import threading

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from fer_core.constants import DISPLAY_NAMES, EMOTION_COLORS, EMOTIONS, ENSEMBLE, MODEL_NAMES, NEGATIVE, POSITIVE
from fer_core.wording import counted, signed

# Each model's name for users, the models first and the ensemble last in every chart's panels.
MODEL_LABELS = {m: DISPLAY_NAMES[m] for m in MODEL_NAMES + (ENSEMBLE,)}
SATISFACTION_HELP = (
    "Satisfaction index = P(happy) + P(surprise) - P(angry) - P(disgust) - P(fear) - P(sad), "
    "averaged over faces: from -1 (all negative) to +1 (all positive); neutral counts as 0."
)

SMOOTH_HELP = "A moving average over 2.5 s of each person's readings (the stored readings stay raw)."
PEOPLE_HELP = (
    "People seen: each face track in a video (one person followed from frame to frame) and each "
    "face in a photo counts once."
)
READINGS_HELP = "Face readings: one per face in each analysed video frame or photo."
UNIT_CHOICES = {"per person": "person", "per reading": "reading"}
UNIT_HELP = {
    "person": "Per person: each person's mean over their readings, then the mean over people, so "
    "everyone weighs the same however long they are on screen.",
    "reading": "Per reading: every face reading counts once, so people on screen longer weigh more.",
}

# Plotly builds figures from a process-wide template whose parts it fills in lazily, without a lock: two page
# runs building figures at once can collide ("ValueError: Invalid value", plotly/plotly.py#3441). Streamlit
# runs each browser tab's script in its own thread, so figures are built one at a time.
_FIGURES = threading.RLock()


def _one_at_a_time(build):
    @functools.wraps(build)
    def locked(*args, **kwargs):
        with _FIGURES:
            return build(*args, **kwargs)

    return locked


def _figure(build):
    """A chart builder, one at a time, and kept for the same data: Plotly Express takes 0.05-0.2 s to build a
    figure, most of a page's script run once its reads are cached (each caller gets its own copy)."""
    return st.cache_data(show_spinner=False, max_entries=256)(_one_at_a_time(build))


_common = dict(category_orders={"emotion": list(EMOTIONS)}, color_discrete_map=EMOTION_COLORS, template="plotly_white")


def plotly_text(text) -> str:
    """User text made literal for Plotly, which reads a little HTML in labels (links, bold, line breaks)."""
    return html.escape(str(text), quote=False)


@_figure
def sessions_figure(df: pd.DataFrame, *, value: str = "share", title: str = "Emotion shares per session"):
    """Stacked bars per session (df: session, emotion, ``value``; session names as the user typed them)."""
    fig = px.bar(
        df.assign(session=df["session"].map(plotly_text)),
        x="session",
        y=value,
        color="emotion",
        title=title,
        labels={"mean_prob": "mean probability", "share": "share", "session": "session"},
        **_common,
    )
    fig.update_layout(yaxis_tickformat=".0%")
    return fig


@_figure
def distribution_figure(df: pd.DataFrame, *, value: str = "mean_prob", title: str = "Emotion distribution"):
    """Bars per emotion, one panel per model (df from queries.emotion_distribution, per person or reading)."""
    d = df.assign(model=df["model"].map(MODEL_LABELS).fillna(df["model"]))
    share = "share of people (top emotion)" if "people" in df.columns else "share of readings (top label)"
    unit = "people" if "people" in df.columns else "faces"
    if unit in d.columns and len(d):  # what each bar rests on, in its hover
        keys = [k for k in ("session_id", "model") if k in d.columns]
        totals = d.groupby(keys)[unit].transform("sum").astype(int)
        d["rests on"] = [counted(n, "person" if unit == "people" else "reading") for n in totals]
    fig = px.bar(
        d,
        x="emotion",
        y=value,
        color="emotion",
        facet_col="model",
        title=title,
        hover_data=["rests on"] if "rests on" in d.columns else None,
        labels={
            "share": "share",
            "mean_prob": "mean probability",
            "label_share": share,
            "emotion": "emotion",
            "model": "model",
        },
        **{**_common, "category_orders": {"emotion": list(EMOTIONS), "model": list(MODEL_LABELS.values())}},
    )
    fig.update_layout(showlegend=False, yaxis_tickformat=".0%")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


@_figure
def timeline_figure(df: pd.DataFrame, *, title: str = "Emotions over the video"):
    """Stacked areas of mean probability per time bin (df from queries.video_timeline)."""
    return _area_timeline(df, title)


def _area_timeline(df: pd.DataFrame, title: str):
    fig = px.area(
        df,
        x="t_s",
        y="share",
        color="emotion",
        title=title,
        labels={"t_s": "time in video (s)", "share": "mean probability", "emotion": "emotion"},
        **_common,
    )
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1])
    return fig


@_figure
def track_timeline_figure(df: pd.DataFrame, *, title: str = "Emotions per face track"):
    d = df.assign(track=df["track"].map(lambda t: f"face {int(t) + 1}" if pd.notna(t) else "face"))
    fig = px.area(
        d,
        x="t_s",
        y="share",
        color="emotion",
        facet_row="track",
        title=title,
        labels={"t_s": "time in video (s)", "share": "mean probability"},
        **_common,
    )
    fig.update_layout(yaxis_tickformat=".0%")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


def satisfaction(df: pd.DataFrame, *, by: list[str]) -> pd.DataFrame:
    """Satisfaction index per group of a tidy (…, emotion, share) frame, with the group's people, readings
    ("faces") and sessions where the frame has them (what each point rests on)."""
    sign = df["emotion"].map(lambda e: 1 if e in POSITIVE else (-1 if e in NEGATIVE else 0))
    grouped = df.assign(v=sign * df["share"]).groupby(by, as_index=False)
    out = grouped["v"].sum().rename(columns={"v": "satisfaction"})
    counts = [c for c in ("people", "faces", "sessions") if c in df.columns]
    return out.merge(grouped[counts].first(), on=by) if counts else out


THIN_PEOPLE = 3  # a point resting on fewer people is drawn open: too few to speak for a group


@_figure
def satisfaction_figure(
    df: pd.DataFrame, *, x: str, color: str | None = None, title: str = "Satisfaction index", x_title: str = "time"
):
    fig = px.line(
        df,
        x=x,
        y="satisfaction",
        color=color,
        markers=True,
        title=title,
        template="plotly_white",
        labels={x: x_title, "satisfaction": "satisfaction index (-1 to +1)", "model": "model"},
    )
    fig.add_hline(y=0, line_dash="dot", line_color="#999")
    fig.update_layout(yaxis_range=[-1, 1])
    counts = [c for c in ("people", "faces", "sessions") if c in df.columns]
    if counts:
        custom = df[counts].to_numpy()
        lines = "".join(f"<br>{c if c != 'faces' else 'readings'}: %{{customdata[{i}]}}" for i, c in enumerate(counts))
        fig.update_traces(customdata=custom, hovertemplate="%{x}<br>satisfaction %{y:+.2f}" + lines + "<extra></extra>")
        if "people" in counts and color is None:
            thin = (df["people"] < THIN_PEOPLE).to_numpy()
            fig.update_traces(marker_symbol=["circle-open" if t else "circle" for t in thin], marker_size=9)
            if thin.any():
                fig.add_annotation(
                    text=f"open points: fewer than {THIN_PEOPLE} people",
                    xref="paper",
                    yref="paper",
                    x=1,
                    y=1.02,
                    showarrow=False,
                    font_size=11,
                    xanchor="right",
                )
    return fig


@_figure
def trend_figure(df: pd.DataFrame, *, title: str = "Emotion shares over time"):
    """Stacked bars per period (df from queries.distribution_over_time, one model)."""
    fig = px.bar(
        df,
        x="period",
        y="share",
        color="emotion",
        title=title,
        labels={"period": "period", "share": "mean probability", "emotion": "emotion"},
        hover_data=[c for c in ("people", "faces", "sessions") if c in df.columns],
        **_common,
    )
    fig.update_layout(yaxis_tickformat=".0%", barmode="stack")
    return fig


@_figure
def crosstab_figure(cross: pd.DataFrame, *, title: str = "ResNet50 label against VGG16 label"):
    fig = px.imshow(
        cross,
        text_auto=True,
        color_continuous_scale="Blues",
        title=title,
        template="plotly_white",
        labels={
            "x": f"{MODEL_LABELS.get(cross.columns.name, cross.columns.name)} label",
            "y": f"{MODEL_LABELS.get(cross.index.name, cross.index.name)} label",
            "color": "faces",
        },
    )
    return fig


@_figure
def confidence_bars_figure(df: pd.DataFrame, *, title: str = "Confidence of the top label"):
    """Faces per confidence bin, the models side by side (df from queries.confidence_histogram)."""
    fig = px.bar(
        df.assign(model=df.model.map(MODEL_LABELS)),
        x="confidence",
        y="faces",
        color="model",
        barmode="group",
        title=title,
        template="plotly_white",
        labels={"confidence": "confidence (bin start)"},
    )
    return fig


@_figure
def confidence_figure(df: pd.DataFrame, *, title: str = "Confidence of the top label"):
    d = df.assign(model=df["model"].map(MODEL_LABELS).fillna(df["model"]))
    fig = px.histogram(
        d,
        x="confidence",
        color="model",
        barmode="overlay",
        nbins=20,
        title=title,
        template="plotly_white",
        labels={"confidence": "confidence (top-label probability)"},
    )
    fig.update_layout(yaxis_title="faces")
    return fig


@_figure
def recall_figure(df: pd.DataFrame, *, title: str = "Per-class recall on FER-2013 PublicTest (model cards)"):
    d = df.assign(model=df["model"].map(MODEL_LABELS).fillna(df["model"]))
    fig = px.bar(
        d,
        x="emotion",
        y="recall",
        color="model",
        barmode="group",
        title=title,
        template="plotly_white",
        category_orders={"emotion": list(EMOTIONS)},
        labels={"recall": "recall"},
    )
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1])
    return fig


# ----------------------------------------------------------------------------- export
def to_html(fig: go.Figure) -> bytes:
    """A standalone interactive page (plotly.js inlined: opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


_kaleido_started = False


def _start_kaleido() -> None:
    """Start kaleido's browser once per process (else every export pays about 4 s of start-up)."""
    global _kaleido_started
    if _kaleido_started:
        return
    import atexit
    import os
    import shutil

    import kaleido

    if "BROWSER_PATH" not in os.environ:
        found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if found:
            os.environ["BROWSER_PATH"] = found
    kaleido.start_sync_server(silence_warnings=True)
    atexit.register(kaleido.stop_sync_server, silence_warnings=True)
    _kaleido_started = True


def to_image(fig: go.Figure, fmt: str = "png") -> bytes:
    """PNG or SVG through kaleido (needs Chromium: see README)."""
    _start_kaleido()
    return fig.to_image(format=fmt, width=1100, height=550, scale=2 if fmt == "png" else 1)


@_one_at_a_time
def with_markers(fig, markers: pd.DataFrame):
    """``fig`` (time in seconds on x) with the file's markers: a dashed line at each point; each segment a
    shaded band, alternately lighter and darker so that two segments that meet stay two, with a solid line
    at its start, labelled. Returns the figure."""
    segments = markers[markers["end_s"].notna()].sort_values("start_s") if len(markers) else markers
    shade = {m.Index: ("#888", 0.16) if i % 2 == 0 else ("#4c78a8", 0.10) for i, m in enumerate(segments.itertuples())}
    for m in markers.itertuples():
        label = plotly_text(m.label)
        if pd.isna(m.end_s):
            fig.add_vline(x=m.start_s, line_dash="dash", line_color="#333", annotation_text=label, row="all", col="all")
        else:
            colour, opacity = shade[m.Index]
            fig.add_vrect(
                x0=m.start_s,
                x1=m.end_s,
                fillcolor=colour,
                opacity=opacity,
                line_width=0,
                annotation_text=label,
                annotation_position="top left",
                row="all",
                col="all",
            )
            fig.add_vline(x=m.start_s, line_width=1, line_color="#777", row="all", col="all")
    return fig


STATE_HELP = (
    "Looking: the share of readings whose head and eyes point at the camera, within 25 degrees of a point 10 "
    "degrees below it (a screen under a camera on top; FER_LOOKING_CONE_DEG, FER_LOOKING_BELOW_DEG). Head turn: "
    "how far the face points away from the camera, in degrees. Eyes and mouth open: 0 (closed) to 1 (wide open). "
    "Brows raised or lowered: against the person's own typical brow height in this session. Blinks need video "
    "analysed at 10 frames a second or more (FER_FPS=10). Readings: those with facial states. Values in [brackets]: "
    "95% intervals."
)


@_figure
def states_timeline_figure(df: pd.DataFrame, *, title: str = "Head and eyes over the video"):
    """Head yaw and pitch (degrees, top) and looking, eyes and mouth open (0-1, bottom) per time bin
    (df from ``attention.timeline``)."""
    panel = df["measure"].map(lambda m: "degrees" if m in ("yaw", "pitch") else "0 to 1")
    names = {"yaw": "head yaw (+ right)", "pitch": "head pitch (+ up)", "looking": "looking (share)",
             "eyes_open": "eyes open", "mouth_open": "mouth open"}  # fmt: skip
    fig = px.line(
        df.assign(panel=panel, measure=df["measure"].map(names)),
        x="t_s",
        y="value",
        color="measure",
        facet_row="panel",
        title=title,
        template="plotly_white",
        labels={"t_s": "time in video (s)", "value": "", "measure": ""},
        category_orders={"panel": ["degrees", "0 to 1"]},
    )
    fig.update_yaxes(matches=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


def states_table(records: list[dict], *, key: str) -> pd.DataFrame:
    """The facial states of summary records, one row per person or segment, each measure with its interval."""
    rows = []
    for r in records:
        s = r.get("states") or {}
        name = r.get(key) if key != "segment" else f"{r['segment']} ({r['start_s']:g}-{r['end_s']:g} s)"
        row = {key: name, "readings": s.get("readings_with_states", 0)}  # with states; short names fit 1400 px
        for m, unit in (("looking", "%"), ("head_turn", "°"), ("eyes_open", ""), ("mouth_open", ""),
                        ("brows_raised", "%"), ("brows_lowered", "%")):  # fmt: skip
            v, (low, high) = (s.get(m) or {}).get("value"), (s.get(m) or {}).get("ci95", [None, None])
            scale = 100 if unit == "%" else 1
            fmt = "{:.0f}" if unit in ("%", "°") else "{:.2f}"
            row[m.replace("_", " ")] = (
                "" if v is None
                else fmt.format(scale * v) + unit
                + ("" if low is None else f" [{fmt.format(scale * low)}-{fmt.format(scale * high)}]")
            )  # fmt: skip
        row["blinks/min"] = "" if s.get("blinks_per_min") is None else f"{s['blinks_per_min']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def states_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """``attention.compare``'s table as words: shares in %, angles in degrees, differences with intervals."""
    rows = []
    for r in df.itertuples():
        pct = r.measure in ("looking", "brows_raised", "brows_lowered")
        scale, unit = (100, " pp") if pct else (1, "°" if r.measure == "head_turn" else "")

        def fmt(v, sign=False):
            if v != v:
                return ""
            return (
                f"{scale * v:+.1f}" if sign else f"{scale * v:.1f}" if pct or r.measure == "head_turn" else f"{v:.2f}"
            )

        rows.append(
            {
                "measure": STATE_NAMES.get(r.measure, r.measure),
                "A": fmt(r.a) + ("%" if pct and r.a == r.a else ""),
                "B": fmt(r.b) + ("%" if pct and r.b == r.b else ""),
                "A - B [95% interval]": "" if r.difference != r.difference
                else f"{fmt(r.difference, True)}{unit} [{fmt(r.low, True)}, {fmt(r.high, True)}]",
                "p-value": "n/a" if r.p != r.p else f"{r.p:.3f}",
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


STATE_NAMES = {
    "looking": "looking at the camera",
    "head_turn": "head turned away",
    "eyes_open": "eyes open (0-1)",
    "mouth_open": "mouth open (0-1)",
    "brows_raised": "brows raised",
    "brows_lowered": "brows lowered",
}


def states_export(records: list[dict], *, key: str) -> pd.DataFrame:
    """The same as numbers for the CSV download."""
    rows = []
    for r in records:
        s = r.get("states") or {}
        row = {key: r.get(key), "file": r["file"], "readings_with_states": s.get("readings_with_states", 0)}
        if key == "segment":
            row.update(start_s=r["start_s"], end_s=r["end_s"])
        for m in ("looking", "head_turn", "eyes_open", "mouth_open", "brows_raised", "brows_lowered"):
            item = s.get(m) or {}
            low, high = item.get("ci95", [None, None])
            row.update({m: item.get("value"), f"{m}_low": low, f"{m}_high": high})
        row["blinks_per_min"] = s.get("blinks_per_min")
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(records: list[dict], *, key: str, delta: bool = False) -> pd.DataFrame:
    """Summary records (``fer_core.statistics.study.summary``) as a table for people: one row each, each emotion as a
    whole percentage (or, with a baseline, a difference in percentage points) with its 95% interval, short enough
    that every column fits a 1400 px page (the CSV keeps the decimals)."""
    rows = []
    for r in records:
        values = r["delta" if delta else "shares"]
        row = {key: r.get(key) if key != "segment" else f"{r['segment']} ({r['start_s']:g}-{r['end_s']:g} s)"}
        if r.get("role"):
            row["role"] = r["role"]
        row["file"] = r["file"]
        if key != "person":  # one person a row: always 1
            row["people"] = r["people"]
        row["readings"] = r["readings"]
        for e in EMOTIONS:
            low, high = r["ci95"][e]
            v = values[e]
            if v is None:
                row[e] = "no reading"
            elif delta:
                ci = f" [{signed(100 * low, 0)}, {signed(100 * high, 0)}]" if low is not None else ""
                row[e] = f"{signed(100 * v, 0)} pp{ci}"
            else:
                ci = f" [{100 * low:.0f}-{100 * high:.0f}]" if low is not None else ""
                row[e] = f"{100 * v:.0f}%{ci}"
        s = r["satisfaction"]
        low, high = r["ci95"]["satisfaction"]
        row["satisfaction"] = (
            "no reading"
            if s is None
            else signed(s, 2) + (f" [{signed(low, 2)}, {signed(high, 2)}]" if low is not None else "")
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if key == "segment" and table["file"].nunique() == 1:
        table = table.drop(columns="file")  # one video: the segment's times say where it is
    if key == "person" and all(str(f) in str(p) for f, p in zip(table["file"], table["person"])):
        table = table.drop(columns="file")  # unnamed people's labels name their file already
    return table


def summary_export(records: list[dict], *, key: str, delta: bool = False) -> pd.DataFrame:
    """Summary records as numbers for the CSV download: each emotion's share (corrected where ``shares_are``
    says so) with its interval, and beside it the raw mean probability with its own interval."""
    rows = []
    for r in records:
        row = {key: r.get(key), "file": r["file"], "people": r["people"], "readings": r["readings"]}
        if key == "segment":
            row.update(start_s=r["start_s"], end_s=r["end_s"])
        if delta:
            row["values_are"] = "difference from baseline"
            for m in (*EMOTIONS, "satisfaction"):
                v = r["delta"].get(m) if m != "satisfaction" else r["satisfaction"]
                row.update({f"{m}_difference": v, f"{m}_low": r["ci95"][m][0], f"{m}_high": r["ci95"][m][1]})
        else:
            row["shares_are"] = r.get("correction", "raw mean probabilities")
            for e in EMOTIONS:
                low, high = r["ci95"][e]
                raw_low, raw_high = r["raw_ci95"][e]
                row.update({f"{e}_share": r["shares"][e], f"{e}_share_low": low, f"{e}_share_high": high})
                row.update({f"{e}_raw_mean": r["raw_shares"][e], f"{e}_raw_low": raw_low, f"{e}_raw_high": raw_high})
            row["satisfaction"] = r["satisfaction"]
            row["satisfaction_low"], row["satisfaction_high"] = r["ci95"]["satisfaction"]
        rows.append(row)
    return pd.DataFrame(rows)


MANY_GROUPS = 6  # beyond this many people or segments, grouped bars and their legend stop being readable


@_figure
def shares_figure(records: list[dict], *, key: str, delta: bool = False, title: str = ""):
    """Each person's or segment's share of each emotion with its 95% interval: grouped bars with error bars for
    up to ``MANY_GROUPS`` of them, else a heat map (a row each, a column per emotion, the value and its
    interval written in each cell)."""
    rows = []
    for r in records:
        name = r[key] if key != "segment" else f"{r['segment']} ({r['start_s']:g}-{r['end_s']:g} s)"
        for e in EMOTIONS:
            v, (low, high) = r["delta" if delta else "shares"][e], r["ci95"][e]
            if v is None:
                continue
            rows.append(
                {
                    key: plotly_text(name),
                    "emotion": e,
                    "value": v,
                    "low": low,
                    "high": high,
                    "plus": (high - v) if high is not None else 0.0,
                    "minus": (v - low) if low is not None else 0.0,
                    "people": r.get("people"),
                    "readings": r.get("readings"),
                }
            )
    columns = [key, "emotion", "value", "low", "high", "plus", "minus", "people", "readings"]
    df = pd.DataFrame(rows, columns=columns)
    measure = "difference from baseline" if delta else "share (mean probability)"
    if df[key].nunique() > MANY_GROUPS:
        return _shares_heatmap(df, key=key, delta=delta, title=title, measure=measure)
    fig = px.bar(
        df,
        x="emotion",
        y="value",
        color=key,
        barmode="group",
        error_y="plus",
        error_y_minus="minus",
        title=title,
        hover_data={"people": True, "readings": True, "plus": False, "minus": False},
        labels={"value": measure, "emotion": "emotion"},
        category_orders={"emotion": list(EMOTIONS)},
        template="plotly_white",
    )
    fig.update_layout(yaxis_tickformat="+.0%" if delta else ".0%", legend_title_text=key)
    return fig


def _shares_heatmap(df: pd.DataFrame, *, key: str, delta: bool, title: str, measure: str):
    names = list(dict.fromkeys(df[key]))
    value = df.pivot(index=key, columns="emotion", values="value").reindex(index=names, columns=list(EMOTIONS))
    fmt = "{:+.0%}" if delta else "{:.0%}"

    def cell(r) -> str:
        if pd.isna(r["low"]) or pd.isna(r["high"]):
            return fmt.format(r["value"])
        return f"{fmt.format(r['value'])}<br>{fmt.format(r['low'])} to {fmt.format(r['high'])}"

    text = (
        df.assign(text=df.apply(cell, axis=1))
        .pivot(index=key, columns="emotion", values="text")
        .reindex(index=names, columns=list(EMOTIONS))
        .fillna("")
    )
    fig = go.Figure(
        go.Heatmap(
            z=value.to_numpy(),
            x=list(EMOTIONS),
            y=names,
            text=text.to_numpy(),
            texttemplate="%{text}",
            textfont={"size": 10},
            colorscale="RdBu" if delta else "Blues",
            zmid=0 if delta else None,
            colorbar={"title": {"text": measure}, "tickformat": "+.0%" if delta else ".0%"},
            hovertemplate=f"{key} %{{y}}<br>%{{x}}: %{{text}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or f"{measure} with 95% intervals, one row per {key}",
        template="plotly_white",
        height=120 + 34 * len(names),
        yaxis={"autorange": "reversed", "title": key},
        xaxis={"side": "top", "title": ""},
    )
    return fig


@_figure
def weekly_ticks(fig):
    """One tick a week (the Monday each week's point stands for), not one a day."""
    fig.update_xaxes(dtick=7 * 24 * 3600 * 1000, tick0="2026-01-05", tickformat="%d %b %Y")
    return fig


def comparison_figure(table: pd.DataFrame, *, a: str, b: str):
    """The difference (a - b) of each emotion's share and of satisfaction, with 95% intervals."""
    d = table.assign(plus=table["high"] - table["difference"], minus=table["difference"] - table["low"])
    fig = px.bar(
        d,
        x="difference",
        y="measure",
        orientation="h",
        error_x="plus",
        error_x_minus="minus",
        color="measure",
        color_discrete_map={**EMOTION_COLORS, "satisfaction": "#2ca02c"},
        title=f"{plotly_text(a)} minus {plotly_text(b)}, with 95% intervals",
        labels={"difference": "difference", "measure": ""},
        category_orders={"measure": list(table["measure"])},
        template="plotly_white",
    )
    fig.add_vline(x=0, line_color="#333")
    fig.update_layout(showlegend=False)
    return fig


def binned(rows: pd.DataFrame, *, bin_s: float) -> pd.DataFrame:
    """Readings (columns per emotion, t_s) as a tidy timeline: t_s (bin start), faces, emotion, share."""
    if rows.empty:
        return pd.DataFrame(columns=["t_s", "faces", "emotion", "share"])
    b = rows.assign(t_s=(rows["t_s"] // bin_s) * bin_s)
    df = b.groupby("t_s").agg(faces=("t_s", "size"), **{e: (e, "mean") for e in EMOTIONS}).reset_index()
    out = df.melt(id_vars=["t_s", "faces"], value_vars=list(EMOTIONS), var_name="emotion", value_name="share")
    return out.sort_values(["t_s", "emotion"]).reset_index(drop=True)


@_one_at_a_time
def live_figure(window: pd.DataFrame, *, now_s: float, span_s: float = 60.0, markers: pd.DataFrame | None = None):
    """The last ``span_s`` seconds of a live run: the ensemble's mean probability per emotion in 1 s bins
    (``window`` from ``LiveRecording.window``), with the moments marked so far."""
    tidy = binned(window[window["model"] == ENSEMBLE], bin_s=1.0)
    # not the cached builder: a live run's window changes at every redraw, and caching it costs on that path
    fig = _area_timeline(tidy, f"The last {span_s:.0f} s (ensemble)")
    fig.update_layout(xaxis_range=[max(0.0, now_s - span_s), max(now_s, 10.0)], xaxis_title="time in run (s)")
    if markers is not None:
        with_markers(fig, markers)
    return fig

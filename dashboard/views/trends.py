"""Trends: emotion shares and satisfaction over calendar time, filtered by tags and dates; sessions side by side."""

from datetime import datetime, time

import streamlit as st

from fer_core.constants import OPINIONS

import charts
import reads
from widgets import chart, everyone_switch, plain

st.title("Trends")
sessions = reads.sessions_overview()
if sessions.empty:
    st.info("No sessions yet: add one on the Upload page.")
    st.stop()

all_tags = reads.all_tags()
when = sessions["recorded_at"].fillna(sessions["created_at"])
c1, c2, c3, c4, c5 = st.columns(5)
freq = c1.selectbox("Period", ["day", "week", "month"], index=1)
unit = charts.UNIT_CHOICES[c5.radio("Count", list(charts.UNIT_CHOICES))]
model = c2.selectbox("Model", OPINIONS, format_func=charts.MODEL_LABELS.get)
tags = c3.multiselect("Tags (any of)", all_tags)
dates = c4.date_input("Recorded between", value=(when.min().date(), when.max().date()))
start, end = dates if isinstance(dates, tuple) and len(dates) == 2 else (when.min().date(), when.max().date())
everyone = everyone_switch("everyone-trends") if unit == "person" else True
who = (
    " Per reading, everyone seen counts."
    if unit != "person"
    else " Everyone seen counts (but excluded people)."
    if everyone
    else " Participants only."
)

trend = reads.distribution_over_time(
    freq=freq,
    tags=tags or None,
    model=model,
    per=unit,
    everyone=everyone,
    start=datetime.combine(start, time.min),
    end=datetime.combine(end, time.max),
)
if trend.empty:
    st.info("No faces in the sessions that match these filters.")
    st.stop()
# one chart at a time: each Plotly chart costs a new tab about 1.4 s here (benchmarks/pages.py)
VIEWS = ("Emotion shares", "Satisfaction", "Sessions side by side")
view = st.segmented_control("Chart", VIEWS, default=VIEWS[0], key="trends-view") or VIEWS[0]
if view == "Emotion shares":
    said = trend.attrs.get("correction", "raw mean probabilities")
    st.caption(charts.UNIT_HELP[unit] + who + plain(f" Shares: {said}."))
    chart(
        charts.trend_figure(trend, title=f"Emotion shares per {freq} ({charts.MODEL_LABELS[model]}, {unit})"),
        trend,
        f"trend-{freq}-{model}-per-{unit}",
    )
elif view == "Satisfaction":
    all_models = reads.distribution_over_time(
        freq=freq,
        tags=tags or None,
        per=unit,
        everyone=everyone,
        start=datetime.combine(start, time.min),
        end=datetime.combine(end, time.max),
    )
    sat = charts.satisfaction(all_models, by=["period", "model"])
    st.caption(charts.SATISFACTION_HELP + who)
    chart(
        charts.satisfaction_figure(
            sat, x="period", color="model", title=f"Satisfaction index per {freq}", x_title=freq
        ),
        sat,
        f"satisfaction-trend-{freq}",
    )
else:
    names = dict(zip(sessions["id"], sessions["name"]))
    picked = st.multiselect("Sessions", list(names), default=list(names)[:4], format_func=lambda i: names[i])
    if picked:
        dist = reads.emotion_distribution(per=unit, everyone=everyone)
        said = dist.attrs.get("correction", {})
        dist = dist[dist.session_id.isin(picked) & (dist.model == model)].assign(
            session=lambda d: d.session_id.map(names), share=lambda d: d["corrected_share"].fillna(d["mean_prob"])
        )
        fixed = [names[i] for i in picked if not str(said.get(i, "raw")).startswith("raw")]
        st.caption(
            plain(
                "Each session's shares are corrected for the models' known confusions with its own population's "
                f"reviewed faces where it has enough: here {', '.join(fixed) or 'none'}; the others show the raw "
                "mean." + who
            )
        )
        export = dist.rename(columns={"mean_prob": "raw_mean_share"})
        chart(charts.sessions_figure(dist), export, "sessions-side-by-side")

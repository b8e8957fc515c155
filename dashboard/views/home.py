"""Home: what the product does, totals, the latest sessions, the models in use."""

import pandas as pd
import streamlit as st

from fer_core.constants import MODEL_NAMES
from fer_core.models.registry import spec
from fer_core.trust import access
from fer_core.wording import counted

import charts
import reads
from charts import PEOPLE_HELP, READINGS_HELP
from widgets import chart, everyone_switch, plain, table

st.title("Feedback emotions")
st.write(
    "Upload the photos and videos of a customer-feedback session: every face is found and its expression "
    "classified by two deep models (ResNet50 and VGG16) and their ensemble. Charts show how customers "
    "felt, per session and over time, and whether the two models agree."
)

totals = reads.totals()
if not totals["sessions"]:
    if access.may("upload"):
        st.info("No sessions yet. Start by uploading a session's photos and videos.")
        st.page_link("views/upload.py", label="Upload your first session", icon=":material/upload:")
    else:
        st.info("No sessions yet: a researcher's account adds them.")
else:
    cols = st.columns(4)
    cols[0].metric("Sessions", f"{int(totals['sessions']):,}")
    cols[1].metric("Media files", f"{int(totals['media']):,}")
    cols[2].metric("People seen", f"{int(totals['people']):,}", help=PEOPLE_HELP)
    cols[3].metric("Face readings", f"{int(totals['faces']):,}", help=READINGS_HELP)
    st.caption(f"Recorded from {pd.Timestamp(totals['first']):%Y-%m-%d} to {pd.Timestamp(totals['last']):%Y-%m-%d}.")
    everyone = everyone_switch("everyone-home")
    weekly = reads.distribution_over_time(freq="week", model="ensemble", per="person", everyone=everyone)
    if not weekly.empty:
        weekly = weekly[weekly["period"] >= weekly["period"].max() - pd.Timedelta(weeks=12)]
        sat = charts.satisfaction(weekly, by=["period"])
        said = weekly.attrs.get("correction", "raw mean probabilities")
        st.caption(
            f"Satisfaction per week over the last 12 weeks (ensemble, per {'person seen' if everyone else 'participant'}"
            f"; {plain(said)}). " + charts.SATISFACTION_HELP
        )
        chart(
            charts.weekly_ticks(charts.satisfaction_figure(sat, x="period", x_title="week")),
            sat,
            "satisfaction-per-week",
        )
    st.subheader("Latest sessions")
    latest = reads.sessions_overview(limit=10)
    for r in latest.itertuples():
        when = pd.Timestamp(r.recorded_at if pd.notna(r.recorded_at) else r.created_at)
        c1, c2 = st.columns([2, 3])
        c1.page_link(
            "views/session.py", label=plain(r.name), query_params={"session": int(r.id)}, icon=":material/movie:"
        )
        c2.caption(
            f"{when:%Y-%m-%d} · {counted(int(r.media), 'file')} · {counted(int(r.people), 'person')} seen · "
            f"{counted(int(r.faces), 'face reading')}" + (f" · {int(r.failed)} failed" if r.failed else "")
        )

st.subheader("Models in use")
rows = []
for name in MODEL_NAMES:
    s = spec(name)
    card = s.card()
    rows.append(
        {
            "model": name,
            "parameters": f"{s.params:,}",
            "version": s.version,
            "PublicTest accuracy %": card.get("publictest", {}).get("accuracy"),
            "weights present": s.weights_file.is_file(),
        }
    )
table(pd.DataFrame(rows), hide_index=True)
st.caption("Accuracy on FER-2013 PublicTest (3,589 faces), from each model's card in weights/.")

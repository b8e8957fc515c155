"""Compare models: agreement, Cohen's kappa, cross-table, confidence, model-card accuracy, disagreement gallery."""

import pandas as pd
import streamlit as st

from fer_core.constants import EMOTIONS, MODEL_NAMES
from fer_core.models.registry import spec

import charts
import reads
from widgets import chart, face_gallery, labels_caption, table

st.title("Compare models")
sessions = reads.sessions_overview()
names = {None: "All sessions", **dict(zip(sessions["id"], sessions["name"]))}
session_id = st.selectbox("Sessions", list(names), format_func=names.get)

agreement = reads.model_agreement(session_id=session_id)
if agreement["faces"]:
    kappa = agreement["kappa"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Faces seen by both models", agreement["faces"])
    c2.metric("Same top label", f"{agreement['agreement']:.1%}")
    c3.metric("Cohen's kappa", f"{kappa:.2f}", help="Agreement beyond chance: 0 = chance, 1 = always the same.")
    cross = agreement["crosstab"]
    chart(charts.crosstab_figure(cross), cross.reset_index(), "crosstab")
    per_class = agreement["per_class"]
    table(per_class.rename(columns={"faces_a": "faces (ResNet50 label)", "agree": "VGG16 agrees"}), hide_index=True)
    conf = reads.confidence_histogram(session_id=session_id)
    fig = charts.confidence_bars_figure(conf)
    chart(fig, conf, "confidence")
else:
    st.info("No faces analysed yet: the live comparison appears after the first upload.")

st.subheader("Validation on FER-2013 PublicTest (model cards)")
rows, recall = [], []
for name in MODEL_NAMES:
    card = spec(name).card()
    pt = card.get("publictest", {})
    rows.append(
        {
            "model": name,
            "version": card.get("version", "untrained"),
            "accuracy %": pt.get("accuracy"),
            "accuracy % without near-duplicates": card.get("publictest_without_near_dups", {}).get("accuracy"),
            "calibration error (ECE)": pt.get("ece"),
            "temperature": card.get("temperature"),
        }
    )
    for e in EMOTIONS:
        recall.append({"model": name, "emotion": e, "recall": (pt.get("per_class_recall") or {}).get(e)})
table(pd.DataFrame(rows), hide_index=True)
recall = pd.DataFrame(recall).dropna()
if not recall.empty:
    chart(charts.recall_figure(recall), recall, "per-class-recall")

st.subheader("Gallery of disagreements")
dis = reads.disagreements(session_id=session_id, limit=18)
if dis.empty:
    st.write("No disagreement to show.")
face_gallery(dis, labels_caption)

"""Compare groups (sessions, tags, segments, people) with intervals and a permutation test; compare models:
agreement, Cohen's kappa, cross-table, confidence, model-card accuracy, disagreement gallery."""

import pandas as pd
import streamlit as st

from fer_core.constants import EMOTIONS, ENSEMBLE, MODEL_NAMES, OPINIONS
from fer_core.exports import to_csv
from fer_core.models.registry import spec
from fer_core.statistics import study
from fer_core.wording import counted, signed

import charts
import reads
from widgets import chart, correction_switch, everyone_switch, face_gallery, labels_caption, plain, table


def _pct(v: float, measure: str) -> str:
    return f"{v:+.2f}" if measure == "satisfaction" else f"{100 * v:.1f}%"


def _diff(d: float, low: float, high: float, measure: str) -> str:
    scale, unit, digits = (1, "", 2) if measure == "satisfaction" else (100, " pp", 1)
    shown = f"{signed(scale * d, digits)}{unit}"
    if low != low:
        return shown
    if abs(low) == float("inf"):
        return f"{shown} (no interval: too few people)"
    return f"{shown} [{signed(scale * low, digits)}, {signed(scale * high, digits)}]"


st.title("Compare")
sessions = reads.sessions_overview()
GROUPS = {"sessions": "two sessions", "tags": "two tags", "segments": "two segments", "people": "two people"}

st.subheader("Compare two groups")
c1, c2 = st.columns(2)
kind = c1.radio("Compare", list(GROUPS), format_func=GROUPS.get, horizontal=True, key="group-kind")
model = c2.radio(
    "Model", OPINIONS, index=OPINIONS.index(ENSEMBLE), format_func=charts.MODEL_LABELS.get, horizontal=True
)
within, options, label = None, [], str
if kind == "sessions":
    options, label = list(sessions["id"]), dict(zip(sessions["id"], sessions["name"])).get
elif kind == "tags":
    options = reads.all_tags()
elif len(sessions):
    names = dict(zip(sessions["id"], sessions["name"]))
    within = st.selectbox("In the session", list(names), format_func=names.get, key="group-session")
    if kind == "segments":
        options = sorted(set(study.segments(reads.markers(within))["label"]))
    else:
        options = list(dict.fromkeys(study.with_participants(reads.readings(within, model))["participant"]))
if len(options) < 2:
    st.info(f"Comparing {GROUPS[kind]} needs at least two of them.")
else:
    c1, c2 = st.columns(2)
    a = c1.selectbox("A", options, index=0, format_func=label, key=f"group-a-{kind}")
    b = c2.selectbox("B", options, index=1, format_func=label, key=f"group-b-{kind}")
    correct = correction_switch("correct-compare", reads.correction_available(kind, [a, b], session_id=within))
    everyone = everyone_switch("everyone-compare") if kind != "people" else True
    result = (
        reads.compare_groups(kind, a, b, session_id=within, model=model, correct=correct, everyone=everyone)
        if a != b
        else None
    )
    if a == b:
        st.info("Choose two different groups.")
    elif result is None:
        st.info(
            "One of the two groups has no reading."
            + ("" if everyone else " Only participants count: count everyone, or set roles on the Session page.")
        )
    else:
        name_a, name_b = str(label(a)), str(label(b))
        p_any = result.attrs["p_any"]
        c1, c2, c3 = st.columns(3)
        who = "People" if everyone else "Participants"
        c1.metric(f"{who} in A", result.attrs["people_a"])
        c2.metric(f"{who} in B", result.attrs["people_b"])
        c3.metric(
            "Do they differ? (p-value)",
            "n/a" if p_any != p_any else f"{p_any:.3f}",
            help="Permutation test of all emotions together: the chance of a difference this large if A and B "
            "came from one population. Below 0.05 is the usual threshold for 'they differ'.",
        )
        shown = pd.DataFrame(
            {
                "measure": result["measure"],
                "A": [_pct(v, m) for v, m in zip(result["a"], result["measure"])],
                "B": [_pct(v, m) for v, m in zip(result["b"], result["measure"])],
                "A - B [95% interval]": [
                    _diff(d, lo, hi, m)
                    for d, lo, hi, m in zip(result["difference"], result["low"], result["high"], result["measure"])
                ],
                "p-value": result["p"].map(lambda p: "n/a" if p != p else f"{p:.3f}"),
            }
        )
        fewest = min(result.attrs["people_a"], result.attrs["people_b"])
        if result.attrs["units"] == "people" and fewest < study.FEW_PEOPLE:
            st.warning(study.few_people_warning(result.attrs["people_a"], result.attrs["people_b"]))
        st.caption(
            plain(
                f"A: {name_a}; B: {name_b}. Shares: {result.attrs.get('correction', 'raw mean probabilities')}. "
                "A share starts from the mean over people of each person's mean probability. Each interval and "
                f"p-value come from one permutation test over {result.attrs['units']} (the interval holds every "
                "difference the test does not reject), so p is below 0.05 exactly when the 95% interval leaves "
                "out 0. Satisfaction is on its -1 to +1 scale; differences are in percentage points (pp)."
            )
        )
        table(shown, hide_index=True)
        export = result.assign(shares_are=result.attrs.get("correction", "raw mean probabilities"))
        chart(charts.comparison_figure(result, a=name_a, b=name_b), export, f"compare-{kind}")
        states = reads.compare_states(kind, a, b, session_id=within)
        if states is not None and states["a"].notna().any():
            st.markdown("**Attention**")
            st.caption(charts.STATE_HELP)
            table(charts.states_comparison(states), hide_index=True)
            st.download_button(
                "CSV", data=to_csv(states), file_name=f"compare-attention-{kind}.csv", mime="text/csv", key="states-csv"
            )

st.divider()
st.subheader("Compare models")
names = {None: "All sessions", **dict(zip(sessions["id"], sessions["name"]))}
session_id = st.selectbox("Sessions", list(names), format_func=names.get)

agreement = reads.model_agreement(session_id=session_id)
if agreement["faces"]:
    kappa = agreement["kappa"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Faces seen by both models", f"{agreement['faces']:,}")
    c2.metric("Same top label", f"{agreement['agreement']:.1%}")
    c3.metric(
        "Cohen's kappa",
        f"{round(kappa, 2) + 0.0:.2f}",
        help="Agreement beyond chance: 0 = chance, 1 = always the same.",
    )
    cross = agreement["crosstab"]
    per_class = agreement["per_class"]
    shown = per_class.assign(agreement=per_class["agreement"].map(lambda v: "" if v != v else f"{v:.1%}"))
    table(
        shown.rename(columns={"faces_a": "faces (ResNet50 label)", "agree": "VGG16 agrees", "agreement": "same label"}),
        hide_index=True,
    )
    # charts on demand: each Plotly chart costs a new tab about 1.4 s here (benchmarks/pages.py)
    shown_chart = st.segmented_control("Chart", ("ResNet50 against VGG16", "Confidence"), key="model-chart")
    if shown_chart == "ResNet50 against VGG16":
        chart(charts.crosstab_figure(cross), cross.reset_index(), "crosstab")
    elif shown_chart == "Confidence":
        conf = reads.confidence_histogram(session_id=session_id)
        chart(charts.confidence_bars_figure(conf), conf, "confidence")
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
if not recall.empty and st.toggle("Per-class recall chart", key="recall-chart"):
    chart(charts.recall_figure(recall), recall, "per-class-recall")

st.subheader("Accuracy on your reviewed faces")
population = st.selectbox(
    "Of the sessions tagged",
    [None, *reads.all_tags()],
    format_func=lambda t: "(the sessions above)" if t is None else t,
)
acc = reads.review_accuracy(session_id=None if population else session_id, tag=population)
if not acc["n"]:
    st.info("No reviewed face here yet: set the true expression of faces on the Review page.")
else:
    st.caption(
        f"{counted(acc['n'], 'reviewed face')} ({acc['not_a_face']} marked no face and {acc['unclear']} unclear are left "
        "out). 95% intervals: Wilson's score interval."
    )
    cards = {name: spec(name).card().get("publictest", {}).get("accuracy") for name in MODEL_NAMES}
    rows = []
    for name, m in acc["models"].items():
        low, high = m["ci95"]
        rows.append(
            {
                "model": charts.MODEL_LABELS[name],
                "accuracy on your faces": f"{m['accuracy']:.1f}% [{low:.1f}-{high:.1f}]",
                "FER-2013 PublicTest (card)": "" if cards.get(name) is None else f"{cards[name]:.1f}%",
                "calibration error": "" if m["ece"] is None else f"{m['ece']:.3f}",
                **{e: "" if m["per_class_recall"][e] is None else f"{m['per_class_recall'][e]:.0%}" for e in EMOTIONS},
            }
        )
    st.caption("Per-class columns: the share of each true expression the model got right (recall).")
    table(pd.DataFrame(rows), hide_index=True)
    which = st.segmented_control(
        "Confusion chart of", list(acc["models"]), format_func=charts.MODEL_LABELS.get, key="confusion-of"
    )
    if which is not None:
        confusion = pd.DataFrame(acc["models"][which]["confusion"], index=list(EMOTIONS), columns=list(EMOTIONS))
        confusion.index.name, confusion.columns.name = "true (review)", charts.MODEL_LABELS[which]
        fig = charts.crosstab_figure(confusion, title=f"True expression against {charts.MODEL_LABELS[which]}")
        chart(fig, confusion.reset_index(), f"review-confusion-{which}")

st.subheader("Gallery of disagreements")
dis = reads.disagreements(session_id=session_id, limit=18)
if dis.empty:
    st.write("No disagreement to show.")
face_gallery(dis, labels_caption)

"""Jobs: every uploaded file's analysis, where it runs, how far it is; failed ones can be retried."""

import streamlit as st

from fer_core import WeightsError, jobs, service
from fer_core.storage import queries as Q

from resources import get_analyzer, get_engine, get_runner

st.title("Jobs")
engine = get_engine()
broker = jobs.broker_url()
st.caption(
    f"Analysis runs on the task-queue workers at `{broker}`."
    if broker
    else "Analysis runs inside this app (no BROKER_URL is set), one file after another, whichever page is open."
)


@st.fragment(run_every=2.0)
def job_table() -> None:
    """Redrawn every 2 s, so progress moves without reloading the page."""
    counts = Q.job_counts(engine)
    cols = st.columns(4)
    for col, status in zip(cols, ("queued", "running", "done", "failed")):
        col.metric(status.capitalize(), counts.get(status, 0))
    table = Q.jobs_overview(engine, limit=500)
    if table.empty:
        st.info("No jobs yet: files uploaded on the Upload page appear here.")
        return
    st.dataframe(
        table[
            [
                "id",
                "session",
                "file",
                "status",
                "progress",
                "message",
                "worker",
                "attempts",
                "faces",
                "error",
                "created_at",
                "finished_at",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0),
            "created_at": st.column_config.DatetimeColumn("submitted", format="YYYY-MM-DD HH:mm:ss"),
            "finished_at": st.column_config.DatetimeColumn("finished", format="YYYY-MM-DD HH:mm:ss"),
        },
    )


job_table()

retryable = jobs.retryable(engine, include_queued=bool(broker))
if retryable:
    st.subheader("Retry")
    chosen = st.multiselect("Jobs to run again", list(retryable), default=list(retryable), format_func=retryable.get)
    if st.button("Retry", type="primary", disabled=not chosen):
        ids = jobs.retry(chosen, engine=engine)
        if broker:
            service.dispatch(ids, engine=engine)
            st.success(f"{len(ids)} job(s) sent to the workers again.")
        else:
            bar = st.progress(0.0, text="Starting...")
            try:
                get_analyzer().load_models()
            except WeightsError as exc:
                st.error(str(exc))
                st.stop()
            service.dispatch(ids, engine=engine, runner=get_runner())
            results = jobs.wait(ids, engine=engine, on_progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
            bar.progress(1.0, text="Done")
            bad = [r for r in results if r is not None and r.status == "failed"]
            (st.warning if bad else st.success)(
                f"{len(results) - len(bad)} of {len(results)} job(s) finished; {len(bad)} failed again."
            )

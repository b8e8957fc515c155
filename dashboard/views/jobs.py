"""Jobs: every uploaded file's analysis, where it runs, how far it is; failed ones can be retried."""

import streamlit as st

from fer_core import WeightsError, jobs, service, settings
from fer_core.constants import JobStatus, Outcome
from fer_core.wording import counted

import reads
from resources import get_analyzer, get_engine, get_runner
from widgets import long_table, plain, progress_of

st.title("Jobs")
engine = get_engine()
broker = jobs.broker_url()
st.caption(
    f"Analysis runs on the task-queue workers at `{settings.masked(broker)}`."
    if service.on_workers()
    else "Analysis runs inside this app (no BROKER_URL is set), one file after another, whichever page is open."
)


@st.fragment(run_every=2.0)
def job_table() -> None:
    """Redrawn every 2 s, so progress moves without reloading the page."""
    counts = reads.job_counts()
    cols = st.columns(len(JobStatus))
    for col, status in zip(cols, JobStatus):
        col.metric(status.capitalize(), counts.get(status, 0))
    rows = reads.jobs_overview(limit=500)
    if rows.empty:
        st.info("No jobs yet: files uploaded on the Upload page appear here.")
        return
    rows = rows.fillna({"message": "", "worker": "", "error": ""})  # no "None" where nothing went wrong
    # one column for what happened (the error where there is one), the time taken instead of a second date:
    # every column fits a 1400 px page
    rows["message"] = rows["error"].where(rows["error"] != "", rows["message"])
    took = (rows["finished_at"] - rows["created_at"]).dt.total_seconds()
    rows["took"] = [f"{t:.0f} s" if t == t else "" for t in took]
    long_table(
        rows[
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
                "created_at",
                "took",
            ]
        ],
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(rows), 700),
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, width="small"),
            "created_at": st.column_config.DatetimeColumn("submitted", format="MM-DD HH:mm"),
            "message": st.column_config.TextColumn("message", width="medium"),
        },
    )


job_table()

retryable = jobs.retryable(engine, include_queued=True, busy=get_runner().pending())
if retryable:
    st.subheader("Retry")
    chosen = st.multiselect("Jobs to run again", list(retryable), default=list(retryable), format_func=retryable.get)
    if st.button("Retry", type="primary", disabled=not chosen):
        try:
            ids = service.retry(chosen, engine=engine, analyzer=get_analyzer(), runner=get_runner())
        except WeightsError as exc:
            st.error(plain(exc))
            st.stop()
        reads.changed()
        if service.on_workers():
            st.success(f"{counted(len(ids), 'job')} sent to the workers again.")
        else:
            bar = st.progress(0.0, text="Starting...")
            results = jobs.wait(ids, engine=engine, on_progress=progress_of(bar))
            bar.progress(1.0, text="Done")
            bad = [r for r in results if r is not None and r.status == Outcome.FAILED]
            (st.warning if bad else st.success)(
                f"{len(results) - len(bad)} of {counted(len(results), 'job')} finished; {len(bad)} failed again."
            )

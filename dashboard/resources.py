"""The only glue between Streamlit and fer_core: process-wide engine, analyzer and job runner."""

from __future__ import annotations

import logging
import threading

import streamlit as st

from fer_core import Analyzer, AnalyzerConfig, cleanup, service, settings
from fer_core.runner import LocalRunner
from fer_core.storage.db import make_engine, upgrade
from fer_core.trust import access

settings.mask_logs()  # no password of DATABASE_URL or BROKER_URL in the dashboard's logs


@st.cache_resource
def get_engine():
    """One engine per process, on DATABASE_URL (or the default SQLite file), schema upgraded to head."""
    engine = make_engine()
    upgrade(engine)
    return engine


@st.cache_resource
def get_analyzer() -> Analyzer:
    return Analyzer(AnalyzerConfig.from_env())


@st.cache_resource
def get_runner() -> LocalRunner:
    """Runs analysis jobs on a thread of this process (no broker): they outlive the page that started them."""
    return LocalRunner(engine=get_engine(), analyzer=get_analyzer())


@st.cache_resource
def warm_up() -> threading.Thread:
    """Once per process, in the background: clean up after a killed run, load the models (run once) so that
    the first upload or live frame does not wait for them, and store the live runs a killed dashboard left."""
    analyzer, engine = get_analyzer(), get_engine()

    def load() -> None:
        try:
            cleanup.sweep(engine)  # what a killed dashboard left: temporary uploads, stray copies
        except Exception:
            logging.getLogger("dashboard").exception("could not clean up after an earlier run")
        try:
            with access.acting_as(access.Actor("retention", access.ADMIN, "dashboard start")):
                service.apply_retention(engine=engine, why="dashboard start")
        except Exception:
            logging.getLogger("dashboard").exception("could not apply the retention period")
        try:
            analyzer.warm_up()
        except Exception:  # missing weights and the like: the Upload page says so when it needs them
            return
        try:
            service.recover_live(engine, analyzer=analyzer)  # live runs a killed dashboard had not stored
        except Exception:
            logging.getLogger("dashboard").exception("could not store the live runs a killed dashboard left")

    thread = threading.Thread(target=load, name="fer-warm-up", daemon=True)
    thread.start()
    return thread

"""The only glue between Streamlit and fer_core: process-wide engine, analyzer and job runner."""

from __future__ import annotations

import streamlit as st

from fer_core import Analyzer, AnalyzerConfig
from fer_core.runner import LocalRunner
from fer_core.storage.db import make_engine, upgrade


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

"""Corrected shares where researchers read them: two reviewed populations (real FER-2013 faces classified by the
shipped models), compared, charted per session and over time, and on the Session and Compare pages with the
switch to the raw mean."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fer_core import Analyzer, AnalyzerConfig
from fer_core.constants import EMOTIONS
from fer_core.statistics import groups
from fer_core.storage import queries
from fer_core.storage.db import make_engine, upgrade

from conftest import REPO, needs_data, needs_weights, page_tables

pytestmark = [needs_weights, needs_data]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    from test_adapt import _population

    url = f"sqlite:///{tmp_path_factory.mktemp('corrected') / 'fer.db'}"
    engine = make_engine(url)
    upgrade(engine)
    analyzer = Analyzer(AnalyzerConfig())
    _population(engine, analyzer, tag="shifted", angry_looks_like="sad", seed=5)
    _population(engine, analyzer, tag="plain", angry_looks_like="angry", seed=6)
    ids = dict(zip(queries.sessions_overview(engine)["name"], queries.sessions_overview(engine)["id"]))
    return {"url": url, "engine": engine, "shifted": int(ids["shifted study"]), "plain": int(ids["plain study"])}


@pytest.fixture
def dashboard(studies, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", studies["url"])
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    from resources import get_engine, get_runner

    get_engine.clear()
    get_runner.clear()
    st.cache_data.clear()
    return studies


def test_comparisons_distributions_and_trends_are_corrected_and_say_so(studies):
    engine = studies["engine"]
    table = groups.compare_groups("tags", "shifted", "plain", engine=engine)
    assert table.attrs["corrected"] and "384 reviewed faces" in table.attrs["correction"]
    assert table["measure"].tolist() == [*EMOTIONS, "satisfaction"]
    shares = table[table["measure"] != "satisfaction"]
    assert shares["a"].sum() == pytest.approx(1.0) and shares["b"].sum() == pytest.approx(1.0)
    assert ((table["low"] <= table["difference"]) & (table["difference"] <= table["high"])).all()
    assert table["p"].between(0, 1).all() and 0 < table.attrs["p_any"] <= 1
    raw = groups.compare_groups("tags", "shifted", "plain", engine=engine, correct=False)
    assert not raw.attrs["corrected"] and raw.attrs["correction"] == "raw mean probabilities"
    assert not np.allclose(raw["difference"], table["difference"])

    dist = groups.distribution(engine, per="person")
    assert dist["corrected_share"].notna().all()
    assert dist.groupby(["session_id", "model"])["corrected_share"].sum().to_numpy() == pytest.approx(1.0)
    assert "192 reviewed faces" in dist.attrs["correction"][studies["shifted"]]
    trend = groups.over_time(engine, freq="week", model="ensemble", per="reading")
    assert trend["corrected"].all() and trend.groupby("period")["share"].sum().to_numpy() == pytest.approx(1.0)
    assert (trend["share"] != trend["raw_mean_share"]).any() and "reviewed faces" in trend.attrs["correction"]
    off = groups.over_time(engine, freq="week", model="ensemble", correct=False)
    assert not off["corrected"].any() and (off["share"] == off["raw_mean_share"]).all()


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption).replace("\\", "")


def test_session_and_compare_pages_show_corrected_shares_and_switch_to_the_raw_mean(dashboard):
    shifted = dashboard["shifted"]
    at = AppTest.from_file(str(REPO / "dashboard" / "router.py"), default_timeout=180).run()
    at.switch_page("views/session.py").run()
    at.selectbox[0].select(shifted).run()
    assert not at.exception, at.exception
    assert "Shares: corrected for the models' known confusions, learnt on 192 reviewed faces" in _captions(at)
    at.radio(key=f"section-{shifted}").set_value("People").run()
    # each person has 16 readings: too few to correct alone, and the page says so
    assert "Shares: raw mean probabilities: fewer than 20 readings to correct." in _captions(at)
    at.toggle(key=f"correct-{shifted}").set_value(False).run()
    assert "Shares: raw mean probabilities." in _captions(at)

    at.switch_page("views/compare.py").run()
    at.radio(key="group-kind").set_value("tags").run()
    assert not at.exception, at.exception
    assert "Shares: corrected for the models' known confusions" in _captions(at)
    corrected = page_tables(at)[0]["A - B [95% interval]"].tolist()
    at.toggle(key="correct-compare").set_value(False).run()
    assert "Shares: raw mean probabilities." in _captions(at)
    assert page_tables(at)[0]["A - B [95% interval]"].tolist() != corrected

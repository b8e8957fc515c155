"""Adapting the models to a population (the sessions with one tag): gathers the tag's reviewed faces with their
participants and stored probabilities, runs ``adapt`` with the method asked for, or chooses it ("auto": both
where the faces' pictures are kept, the one with the better cross-validated ensemble accuracy), saves the
version and says what was chosen and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fer_core import adapt as adaptation
from fer_core.analyzer import Analyzer
from fer_core.config import AnalyzerConfig
from fer_core.constants import DISPLAY_NAMES, ENSEMBLE
from fer_core.faces import reviewed_crops
from fer_core.models.registry import spec
from fer_core.statistics import study
from fer_core.storage import queries, repository
from fer_core.storage.db import session_factory

CHOICES = ("auto", *adaptation.METHODS)


def reviewed_faces(engine: Engine, tag: str) -> pd.DataFrame:
    """The reviewed faces of the sessions tagged ``tag``, each with its participant (its person, by name where
    named, in its session) and each model's stored probabilities."""
    parts = []
    for sid in queries.sessions_with_tag(engine, tag=tag):
        reviewed = queries.reviewed_faces(engine, session_id=sid)
        if reviewed.empty:
            continue
        people = study.with_participants(queries.readings(engine, session_id=sid))
        who = dict(zip(people["detection_id"], f"{sid}: " + people["participant"].astype(str)))
        parts.append(reviewed.assign(participant=reviewed["detection_id"].map(who)))
    if not parts:
        raise ValueError(f"no reviewed face in the sessions tagged {tag!r}: review some on the Review page first")
    reviewed = pd.concat(parts, ignore_index=True)
    probs = queries.face_probabilities(engine, detection_ids=[int(d) for d in reviewed["detection_id"]])
    return reviewed.merge(probs, on="detection_id")


def _finetune(reviewed: pd.DataFrame, crops: list, *, tag: str, analyzer: Analyzer, versions: dict) -> dict:
    kept = np.array([c is not None for c in crops], dtype=bool)
    reviewed = reviewed[kept].reset_index(drop=True)
    faces = np.stack([c for c in crops if c is not None])
    straight, mirrored = analyzer.features(faces), analyzer.features(faces[:, :, ::-1])
    heads = {}
    for m in straight:
        s = spec(m, analyzer.config.weights_dir)
        heads[m] = (*adaptation.shipped_head(s.weights_file), s.temperature)
    features = {m: (straight[m], mirrored[m]) for m in straight}
    return adaptation.adapt(reviewed, tag=tag, method="finetune", versions=versions, features=features, heads=heads)


def adapt_tag(tag: str, *, engine: Engine, method: str = "auto", analyzer: Analyzer | None = None, store=None) -> dict:
    """Fit, cross-validate (by participant) and save an adapted version for ``tag``; returns its card, with
    ``chosen_because`` (which method and why) and ``verdict`` (whether it beats the original)."""
    if method not in CHOICES:
        raise ValueError(f"method must be one of {CHOICES}; received {method!r}")
    reviewed = reviewed_faces(engine, tag)
    analyzer = analyzer or Analyzer(AnalyzerConfig.from_env())
    versions = {m: v["version"] for m, v in analyzer.model_info().items()}
    crops = reviewed_crops(reviewed, store=store) if method != "calibrate" else []
    missing = sum(c is None for c in crops)
    if method == "finetune" and missing == len(crops):
        raise ValueError(
            f"fine-tuning needs the reviewed faces' pictures, and the sessions tagged {tag!r} kept none "
            "(they keep nothing but the results): calibrate instead (--method calibrate)"
        )
    if method == "finetune":
        card = _finetune(reviewed, crops, tag=tag, analyzer=analyzer, versions=versions)
        card["chosen_because"] = "fine-tuning, as asked"
    elif method == "calibrate":
        card = adaptation.adapt(reviewed, tag=tag, method="calibrate", versions=versions)
        card["chosen_because"] = "calibration, as asked"
    else:
        card = adaptation.adapt(reviewed, tag=tag, method="calibrate", versions=versions)
        if missing:  # compared on other faces the two would not be comparable
            card["chosen_because"] = (
                f"calibration: fine-tuning needs the faces' pictures, and {missing} of {len(crops)} reviewed faces "
                "have none kept"
            )
        else:
            tuned = _finetune(reviewed, crops, tag=tag, analyzer=analyzer, versions=versions)
            cal, fin = card["cv_accuracy"][ENSEMBLE], tuned["cv_accuracy"][ENSEMBLE]
            base = card["baseline_accuracy"][ENSEMBLE]
            if fin > cal:
                card, (won, lost) = tuned, (("fine-tuning", fin), ("calibration", cal))
            else:
                (won, lost) = ("calibration", cal), ("fine-tuning", fin)
            card["chosen_because"] = (
                f"{won[0]}: {DISPLAY_NAMES[ENSEMBLE]} {won[1]:.1f}% on held-out participants, against "
                f"{lost[0]}'s {lost[1]:.1f}% (original {base:.1f}%)"
            )
    adaptation.save(card)
    with session_factory(engine)() as db:
        repository.save_adapted(db, card)
        db.commit()
    return card

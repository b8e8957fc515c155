"""Adaptation to a population: calibration fitted on reviewed faces gains where the population looks different,
and loses (almost) nothing where it does not, measured by cross-validation grouped by participant."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.cli import main
from fer_core.constants import EMOTIONS
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import MediaFile
from fer_core.storage.repository import get_or_create_session, name_person, save_faces

from conftest import DATA_DIR, needs_data, needs_weights

PEOPLE, EACH = 12, 4  # participants, faces of each class per participant
CLASSES = ("angry", "happy", "surprise", "neutral")


FACE_SIDE = 114  # each face's crop square in the participants' photos: a 100 px detector box (crop.CROP_SCALE)


def _photo(crops: np.ndarray, path) -> list[list[int]]:
    """One photo of a participant's faces side by side, each enlarged so that its detector box (returned)
    crops back to the face (``crop.crop_box``: 1.14 times the box, 5% of it above the centre)."""
    import cv2

    big = [cv2.resize(c, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC) for c in crops]
    cv2.imwrite(str(path), np.hstack(big))
    return [[FACE_SIDE * i + 7, 12, 100, 100] for i in range(len(crops))]


def _population(engine, analyzer, *, tag: str, angry_looks_like: str, seed: int, photos=None) -> None:
    """A study of 12 people, each with 4 faces of each of 4 classes (real FER-2013 faces, classified by the
    shipped models), reviewed with their true class. The population's "angry" faces are FER-2013 faces of
    ``angry_looks_like``: with "sad", this population's anger looks like what the models learned as sadness.
    With ``photos`` (a folder), each participant's faces are kept as a photo there, as keep=media keeps them;
    else nothing of them is kept."""
    data = np.load(DATA_DIR / "fer2013_publictest.npz")
    rng = np.random.default_rng(seed)
    pools = {c: list(rng.permutation(np.flatnonzero(data["y"] == EMOTIONS.index(c)))) for c in EMOTIONS}
    with session_factory(engine)() as db:
        fs = get_or_create_session(db, name=f"{tag} study", tags=[tag])
        for person in range(PEOPLE):
            truth, idx = [], []
            for c in CLASSES:
                source = angry_looks_like if c == "angry" else c
                idx += [pools[source].pop() for _ in range(EACH)]
                truth += [c] * EACH
            crops = data["x"][idx]
            probs = analyzer.classify(crops)
            stored = photos / f"{tag}{person}.png" if photos else None
            boxes = _photo(crops, stored) if photos else [[60 * i, 0, 48, 48] for i in range(len(idx))]
            faces = []
            for i in range(len(idx)):
                preds = {}
                for model, p in probs.items():
                    top = int(p[i].argmax())
                    preds[model] = {
                        "label": EMOTIONS[top],
                        "confidence": float(p[i, top]),
                        "probs": dict(zip(EMOTIONS, map(float, p[i]))),
                    }
                faces.append(
                    {
                        "frame": 0,
                        "t_s": 0.0,
                        "box": boxes[i],
                        "det_score": 0.9,
                        "track": None,
                        "predictions": preds,
                    }
                )
            media = MediaFile(
                session_id=fs.id,
                original_name=f"P{person}.jpg",
                kind="photo",
                sha256=f"{tag}{person}",
                bytes=1,
                status="done",
                stored_path=str(stored) if stored else None,
            )
            db.add(media)
            db.flush()
            ids = save_faces(db, media=media, run_id=None, faces=faces, versions={m: "test" for m in probs})
            for det_id in ids:  # one person's faces, named as one participant
                name_person(db, media_id=media.id, person=-det_id, label=f"P{person}")
            db.commit()
            service.review_faces(list(zip(ids, truth)), reviewer="Mia", engine=engine)


def _database(tmp_path, monkeypatch):
    """A fresh SQLite study database that the CLI uses too, with FER_HOME (adapted cards) in ``tmp_path``."""
    url = f"sqlite:///{tmp_path / 'fer.db'}"
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    return engine


def _analyse_tagged_and_untagged(engine, analyzer, photo, tmp_path):
    """The group photo analysed in a new session tagged "shifted" and in an untagged one: their faces'
    predictions, and the model versions the tagged one's readings carry."""

    common = dict(engine=engine, analyzer=analyzer, keep="none", media_root=tmp_path / "media")
    service.ingest([photo], session_name="new shifted panel", tags=["shifted"], **common)
    service.ingest([photo], session_name="untagged panel", **common)
    sessions = Q.sessions_overview(engine).set_index("name")["id"]
    adapted = Q.face_predictions(engine, session_id=int(sessions["new shifted panel"]))
    original = Q.face_predictions(engine, session_id=int(sessions["untagged panel"]))
    versions = Q.model_versions(engine, session_id=int(sessions["new shifted panel"]))
    return adapted, original, versions, int(sessions["untagged panel"])


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(AnalyzerConfig())


@needs_weights
@needs_data
def test_calibration_gains_on_a_shifted_population_and_keeps_an_unshifted_one(
    tmp_path, analyzer, monkeypatch, capsys, group_photo
):
    engine = _database(tmp_path, monkeypatch)
    _population(engine, analyzer, tag="shifted", angry_looks_like="sad", seed=1)
    _population(engine, analyzer, tag="control", angry_looks_like="angry", seed=2)

    assert main(["adapt", "--tag", "shifted"]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["n"] == PEOPLE * EACH * len(CLASSES) and shifted["folds"] == 5
    for model in ("resnet50", "vgg16", "ensemble"):
        # the models call this population's anger sadness; calibrated on other participants, they learn it
        assert shifted["cv_accuracy"][model] > shifted["baseline_accuracy"][model] + 5, shifted
    card = json.loads((tmp_path / "adapted" / f"{shifted['version']}.json").read_text())
    assert card["tag"] == "shifted" and card["participants"] == PEOPLE and len(card["models"]["ensemble"]["bias"]) == 7

    assert main(["adapt", "--tag", "control"]) == 0
    control = json.loads(capsys.readouterr().out)
    for model in ("resnet50", "vgg16", "ensemble"):
        # with no shift, adaptation must not lose more than 1 point
        assert control["cv_accuracy"][model] >= control["baseline_accuracy"][model] - 1, control

    assert main(["adapt", "--tag", "nobody"]) == 1
    assert "no reviewed face" in capsys.readouterr().err
    assert main(["adapt", "--tag", "shifted", "--method", "finetune"]) == 1
    assert "kept none" in capsys.readouterr().err  # fine-tuning needs the faces' pictures

    # chosen for the tag, the adapted version analyses its new sessions; the original stays for the others
    assert main(["adapt", "--tag", "shifted", "--use", shifted["version"]]) == 0
    assert main(["adapt", "--tag", "control", "--use", shifted["version"]]) == 1  # another tag's version
    capsys.readouterr()

    adapted, original, versions, untagged = _analyse_tagged_and_untagged(engine, analyzer, group_photo[0], tmp_path)
    assert len(adapted) == len(original) > 0
    assert all(v.endswith("+" + shifted["version"]) for vs in versions.values() for v in vs), versions
    assert not any("+shifted" in v for vs in Q.model_versions(engine, session_id=untagged).values() for v in vs)
    assert (adapted["confidence_ensemble"].to_numpy() != original["confidence_ensemble"].to_numpy()).any()
    listed = Q.adapted_versions(engine)
    assert listed.set_index("version").loc[shifted["version"], "chosen"]
    assert main(["adapt", "--tag", "shifted", "--original"]) == 0


@needs_weights
@needs_data
def test_finetuned_heads_gain_on_a_shifted_population_keep_an_unshifted_one_and_analyse_its_sessions(
    tmp_path, analyzer, monkeypatch, capsys, group_photo
):
    from fer_core import adapt

    engine = _database(tmp_path, monkeypatch)
    (tmp_path / "kept").mkdir()
    _population(engine, analyzer, tag="shifted", angry_looks_like="sad", seed=3, photos=tmp_path / "kept")
    _population(engine, analyzer, tag="control", angry_looks_like="angry", seed=4, photos=tmp_path / "kept")

    assert main(["adapt", "--tag", "shifted", "--method", "finetune"]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["n"] == PEOPLE * EACH * len(CLASSES) and shifted["folds"] == 5
    for model in ("resnet50", "vgg16", "ensemble"):
        assert shifted["cv_accuracy"][model] > shifted["baseline_accuracy"][model] + 5, shifted
    card = json.loads((tmp_path / "adapted" / f"{shifted['version']}.json").read_text())
    assert card["method"] == "finetune" and set(card["base_versions"]) == {"resnet50", "vgg16"}
    assert np.shape(card["models"]["resnet50"]["kernel"]) == (2048, 7)
    assert np.shape(card["models"]["vgg16"]["kernel"]) == (512, 7)

    # without --method, where the pictures are kept, both methods are tried and the better one is kept
    assert main(["adapt", "--tag", "control"]) == 0
    control = json.loads(capsys.readouterr().out)
    for model in ("resnet50", "vgg16", "ensemble"):
        assert control["cv_accuracy"][model] >= control["baseline_accuracy"][model] - 1, control
    won, lost = re.findall(r"(\d+\.\d)%", control["chosen_because"])[:2]
    assert control["chosen_because"].startswith(
        {"calibrate": "calibration", "finetune": "fine-tuning"}[control["method"]]
    )
    assert float(won) >= float(lost) and float(won) == pytest.approx(control["cv_accuracy"]["ensemble"], abs=0.05)
    assert len(Q.adapted_versions(engine).query("tag == 'control'")) == 1  # only the chosen one is kept

    # the fine-tuned heads analyse the tag's new sessions on the default engine; the original stays
    assert main(["adapt", "--tag", "shifted", "--use", shifted["version"]]) == 0
    capsys.readouterr()
    tuned, original, versions, _ = _analyse_tagged_and_untagged(engine, analyzer, group_photo[0], tmp_path)
    assert len(tuned) == len(original) > 0
    assert all(v.endswith("+" + shifted["version"]) for vs in versions.values() for v in vs), versions
    for model in ("resnet50", "vgg16"):
        assert (tuned[f"confidence_{model}"].to_numpy() != original[f"confidence_{model}"].to_numpy()).any()

    # fitted on other weights, an adapted version is not applied
    other = {**card, "base_versions": {"resnet50": "other", "vgg16": card["base_versions"]["vgg16"]}}
    assert adapt.usable(other, card["base_versions"]) is None
    assert adapt.usable(card, card["base_versions"]) is card


@needs_weights
@needs_data
def test_the_pooled_features_through_the_shipped_head_give_the_engines_probabilities(analyzer):
    from fer_core.adapt import shipped_head
    from fer_core.analyzer import head_probabilities
    from fer_core.models.metrics import apply_temperature
    from fer_core.models.registry import spec

    faces = np.load(DATA_DIR / "fer2013_publictest.npz")["x"][:40]
    probs, features = analyzer.classify(faces, tta=False), analyzer.features(faces)
    for model in ("resnet50", "vgg16"):
        s = spec(model)
        again = apply_temperature(head_probabilities(features[model], *shipped_head(s.weights_file)), s.temperature)
        np.testing.assert_allclose(again, probs[model], atol=1e-4)

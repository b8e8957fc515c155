import json
import shutil

import numpy as np
import pytest

from fer_core.analyzer import Analyzer
from fer_core.config import AnalyzerConfig
from fer_core.models.registry import WEIGHTS_DIR, WeightsError, load_model, sha256, spec

from conftest import needs_weights


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match=str(tmp_path / "vgg16.npz")):
        load_model("vgg16", tmp_path)


def test_analyze_refuses_to_guess_without_weights(tmp_path):
    analyzer = Analyzer(AnalyzerConfig(models=("resnet50",), weights_dir=str(tmp_path)))
    with pytest.raises(WeightsError, match="no trained weights"):
        analyzer.load_models()


def test_truncated_weights_give_a_clear_error(tmp_path):
    (tmp_path / "vgg16.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError, match="vgg16.npz"):
        load_model("vgg16", tmp_path)


def test_foreign_weights_give_a_clear_error(tmp_path):
    np.savez(tmp_path / "resnet50.npz", w000=np.zeros((3, 3), np.float16))
    with pytest.raises(WeightsError, match="cannot load"):
        load_model("resnet50", tmp_path)


@needs_weights
def test_weights_not_matching_their_card_are_refused(tmp_path):
    shutil.copy(WEIGHTS_DIR / "vgg16.json", tmp_path / "vgg16.json")
    data = dict(np.load(WEIGHTS_DIR / "vgg16.npz"))
    data["w000"] = data["w000"] + np.float16(0.5)  # same shapes, other values
    np.savez(tmp_path / "vgg16.npz", **data)
    with pytest.raises(WeightsError, match="sha256"):
        load_model("vgg16", tmp_path)


@needs_weights
@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_shipped_cards_describe_their_weights(name):
    s = spec(name)
    card = json.loads(s.card_file.read_text())
    assert card["sha256"] == sha256(s.weights_file)
    assert card["params"] == s.params
    assert card["preprocessing"] == s.preprocessing
    assert set(card["publictest"]["per_class_recall"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert s.weights_file.stat().st_size < 50_000_000  # float16: compact enough to ship in git
    model = load_model(name)
    assert load_model(name) is model  # loaded once per process

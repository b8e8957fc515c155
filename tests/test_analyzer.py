import numpy as np
import pytest

from fer_core import EMOTIONS, Analyzer, AnalyzerConfig, WeightsError
from fer_core.constants import PREDICTION_COLUMNS
from fer_core.models.metrics import apply_temperature

from conftest import needs_weights


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(AnalyzerConfig())


@needs_weights
def test_batched_and_single_inference_agree(analyzer, faces):
    batch = analyzer.classify(faces[:10])
    assert set(batch) == {"resnet50", "vgg16", "ensemble"}
    for i in (0, 4, 9):
        single = analyzer.classify(faces[i : i + 1])
        for name in batch:
            np.testing.assert_allclose(single[name][0], batch[name][i], atol=1e-4)
    np.testing.assert_allclose(batch["ensemble"], (batch["resnet50"] + batch["vgg16"]) / 2, atol=1e-6)
    for p in batch.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)


@needs_weights
def test_photo_analysis_gives_every_face_every_model(analyzer, group_photo):
    path, spots = group_photo
    result = analyzer.analyze_image(path)
    assert result.kind == "photo" and (result.width, result.height) == (4000, 3000)
    assert len(spots) <= len(result.faces) <= len(spots) + 1
    face = result.faces[0]
    assert face["frame"] == 0 and face["t_s"] == 0.0 and face["track"] is None
    for name in ("resnet50", "vgg16", "ensemble"):
        p = face["predictions"][name]
        assert list(p["probs"]) == list(EMOTIONS)
        assert p["label"] == max(p["probs"], key=p["probs"].get)
        assert p["confidence"] == p["probs"][p["label"]]
    df = result.to_frame()
    assert list(df.columns) == list(PREDICTION_COLUMNS)
    assert len(df) == 3 * len(result.faces)


@needs_weights
def test_video_timestamps_and_tracks(analyzer, two_face_video):
    progress = []
    result = analyzer.analyze_video(two_face_video, on_progress=lambda f, m: progress.append(f))
    assert result.kind == "video" and result.fps == pytest.approx(30)
    assert result.frames_analyzed == 6  # 3 s at 2 frames per second
    times = sorted({f["t_s"] for f in result.faces})
    assert times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert {f["frame"] for f in result.faces} == {0, 15, 30, 45, 60, 75}
    # two people, each followed by one track over the whole clip
    left = {f["track"] for f in result.faces if f["box"][0] < 320}
    right = {f["track"] for f in result.faces if f["box"][0] >= 320}
    assert len(left) == 1 and len(right) == 1 and left != right
    assert len(result.faces) == 12
    assert progress and progress[-1] == 1.0


def test_temperature_keeps_the_ranking():
    p = np.array([[0.7, 0.2, 0.1, 0, 0, 0, 0]], np.float32) + 1e-3
    p /= p.sum()
    soft = apply_temperature(p, 2.0)
    assert soft.argmax() == p.argmax() and soft.max() < p.max()
    np.testing.assert_allclose(soft.sum(), 1.0, atol=1e-6)


def test_config_from_environment(monkeypatch):
    monkeypatch.setenv("FER_FPS", "5")
    monkeypatch.setenv("FER_MODELS", "vgg16")
    cfg = AnalyzerConfig.from_env(min_face_px=40)
    assert (cfg.fps, cfg.models, cfg.min_face_px) == (5.0, ("vgg16",), 40)
    with pytest.raises(ValueError, match="models"):
        AnalyzerConfig.from_env(models=("alexnet",))
    monkeypatch.setenv("FER_ENGINE", "litert-int8")
    assert AnalyzerConfig.from_env().engine == "litert-int8"
    with pytest.raises(ValueError, match="engine must be one of auto, openvino, litert, keras, litert-int8"):
        AnalyzerConfig.from_env(engine="int4")


def test_engines_without_their_package_say_what_to_install(monkeypatch):
    import sys

    assert Analyzer(AnalyzerConfig(engine="auto")).engine() == "openvino"  # installed by requirements.txt
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if openvino were not installed
    assert Analyzer(AnalyzerConfig(engine="auto")).engine() == "litert"  # auto falls back quietly
    with pytest.raises(WeightsError, match="needs the openvino package"):
        Analyzer(AnalyzerConfig(engine="openvino")).engine()
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # and as if ai-edge-litert were not either
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    assert Analyzer(AnalyzerConfig(engine="auto")).engine() == "keras"
    for engine in ("litert", "litert-int8"):
        with pytest.raises(WeightsError, match="needs the ai-edge-litert package"):
            Analyzer(AnalyzerConfig(engine=engine)).engine()


@needs_weights
def test_faces_per_frame_limit_is_reported(group_photo):
    path, spots = group_photo
    result = Analyzer(AnalyzerConfig(max_faces=2)).analyze_image(path)
    assert len(result.faces) == 2
    assert result.warnings and "only the 2 clearest were analysed" in result.warnings[0]


@needs_weights
def test_litert_gives_the_keras_numbers(faces):
    """The fast inference path (LiteRT) must give the same predictions as the Keras models (issue 7: 1e-3)."""
    lite = Analyzer(AnalyzerConfig(engine="litert")).classify(faces)
    keras = Analyzer(AnalyzerConfig(engine="keras")).classify(faces)
    for model in ("resnet50", "vgg16", "ensemble"):
        assert np.abs(lite[model] - keras[model]).max() < 1e-3, model


@needs_weights
def test_openvino_gives_the_litert_numbers(faces):
    """The default engine (OpenVINO, from the same converted file) gives LiteRT's and so Keras' predictions
    (issue 7: 1e-3), whatever the batch size (one network serves them all)."""
    fast = Analyzer(AnalyzerConfig(engine="openvino"))
    lite = Analyzer(AnalyzerConfig(engine="litert"))
    for n in (1, 3, len(faces)):
        a, b = fast.classify(faces[:n]), lite.classify(faces[:n])
        for model in ("resnet50", "vgg16", "ensemble"):
            assert a[model].shape == (n, 7)
            assert np.abs(a[model] - b[model]).max() < 1e-3, (model, n)


@needs_weights
def test_the_converted_model_is_kept_per_input_size(tmp_path):
    """The same weights with a card that enlarges the face to another size inside the net are another model:
    they must not be served the converted file of the first size."""
    import json
    import shutil

    from fer_core.models.engines import cached_file
    from fer_core.models.registry import sha256, spec

    from conftest import REPO

    for suffix in (".npz", ".json"):
        shutil.copy(REPO / "weights" / f"vgg16{suffix}", tmp_path / f"vgg16{suffix}")
    digest = sha256(tmp_path / "vgg16.npz")
    at_48 = cached_file(spec("vgg16", tmp_path), digest)
    card = json.loads((tmp_path / "vgg16.json").read_text())
    (tmp_path / "vgg16.json").write_text(json.dumps({**card, "backbone_size": 64}))
    at_64 = cached_file(spec("vgg16", tmp_path), digest)
    assert at_48 != at_64 and at_48.parent == at_64.parent
    assert cached_file(spec("vgg16", tmp_path), digest, int8=True) not in (at_48, at_64)


@needs_weights
def test_int8_engine_stays_close_to_keras():
    """The opt-in int8 engine (FER_ENGINE=litert-int8) really is quantized, and on 600 labelled PublicTest
    faces it gives the Keras models' label on almost every face and the same accuracy within a point."""
    from fer_core.models.engines import lite_file

    from conftest import DATA_DIR

    for model in ("resnet50", "vgg16"):
        assert lite_file(model, int8=True).stat().st_size < 0.4 * lite_file(model).stat().st_size, model
    data = np.load(DATA_DIR / "fer2013_publictest.npz")
    x, y = data["x"][:600], data["y"][:600]
    int8 = Analyzer(AnalyzerConfig(engine="litert-int8")).classify(x)
    keras = Analyzer(AnalyzerConfig(engine="keras")).classify(x)
    for model in ("resnet50", "vgg16", "ensemble"):
        agree = np.mean(int8[model].argmax(1) == keras[model].argmax(1))
        assert agree >= 0.95, (model, agree)
        accuracy_gap = abs(np.mean(int8[model].argmax(1) == y) - np.mean(keras[model].argmax(1) == y))
        assert accuracy_gap <= 0.01, (model, accuracy_gap)


@needs_weights
def test_parallel_and_pipelined_video_equals_one_step_at_a_time(two_face_video):
    fast = Analyzer(AnalyzerConfig()).analyze_video(two_face_video)
    slow = Analyzer(AnalyzerConfig(parallel_models=False, pipeline_video=False)).analyze_video(two_face_video)
    assert [(f["frame"], f["box"], f["track"]) for f in fast.faces] == [
        (f["frame"], f["box"], f["track"]) for f in slow.faces
    ]
    for a, b in zip(fast.faces, slow.faces):
        for model in ("resnet50", "vgg16", "ensemble"):
            assert a["predictions"][model]["label"] == b["predictions"][model]["label"]
            pa, pb = a["predictions"][model]["probs"], b["predictions"][model]["probs"]
            assert max(abs(pa[e] - pb[e]) for e in pa) < 1e-5


@needs_weights
def test_flip_tta_on_video_is_a_setting(two_face_video):
    plain = Analyzer(AnalyzerConfig(video_tta=False)).analyze_video(two_face_video)
    tta = Analyzer(AnalyzerConfig(video_tta=True)).analyze_video(two_face_video)
    assert len(plain.faces) == len(tta.faces)
    diffs = [
        abs(a["predictions"]["vgg16"]["confidence"] - b["predictions"]["vgg16"]["confidence"])
        for a, b in zip(plain.faces, tta.faces)
    ]
    assert max(diffs) > 1e-4  # the mirrored faces were classified too


@needs_weights
def test_analysing_does_not_import_tensorflow(group_photo):
    """Start-up stays short: with the default engine, neither the detector nor the classifiers need TensorFlow."""
    import subprocess
    import sys

    code = (
        "import sys; from fer_core import Analyzer; a = Analyzer(); r = a.analyze_file(sys.argv[1]); "
        "print(len(r.faces), a.engine(), 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(group_photo[0])], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[1:] == ["openvino", "False"]


@needs_weights
def test_a_file_without_a_face_says_why_and_what_to_try(faces, tmp_path):
    """A dark photo, faces smaller than the smallest face analysed, and a photo with no face at all: each gets
    no reading and a sentence with the likely cause. (The detector finds a frontal face even at 3% of full
    brightness, so "dark" is said where nothing was found in a dark picture.)"""
    import cv2

    from conftest import background, paste

    analyzer = Analyzer(AnalyzerConfig(min_face_px=120))
    cv2.imwrite(str(tmp_path / "dark.jpg"), (background(600, 800, seed=3) * 0.12).astype(np.uint8))
    small = background(600, 800, seed=4)
    paste(small, faces[1], 300, 200, 70)
    cv2.imwrite(str(tmp_path / "small.jpg"), small)
    cv2.imwrite(str(tmp_path / "none.jpg"), background(600, 800, seed=5))
    said = {}
    for name in ("dark", "small", "none"):
        result = analyzer.analyze_file(tmp_path / f"{name}.jpg")
        assert result.face_count == 0, name
        said[name] = result.no_face
    assert "the picture is dark" in said["dark"]
    assert "smaller than the smallest face analysed (120 px)" in said["small"] and "Smallest face" in said["small"]
    assert "looks towards the camera" in said["none"]
    found = Analyzer(AnalyzerConfig()).analyze_file(tmp_path / "small.jpg")
    assert found.face_count == 1 and found.no_face is None  # the face was real: found at the default settings

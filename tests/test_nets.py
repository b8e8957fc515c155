import numpy as np
import pytest

from fer_core.constants import EMOTIONS
from fer_core.models.nets import EXPECTED_PARAMS, build_classifier, preprocess


@pytest.mark.parametrize("backbone", ["resnet50", "vgg16"])
def test_builders_match_the_study(backbone):
    model = build_classifier(backbone=backbone)
    assert model.count_params() == EXPECTED_PARAMS[backbone]
    assert [layer.name for layer in model.layers[-3:]] == ["gap", "head_dropout", "emotion"]
    probs = np.asarray(model.predict_on_batch(preprocess(np.zeros((2, 48, 48), np.uint8))))
    assert probs.shape == (2, len(EMOTIONS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="xception"):
        build_classifier(backbone="xception")


def test_preprocess_scales_to_three_equal_channels():
    crops = np.array([[[0, 255] * 24] * 48], np.uint8)
    x = preprocess(crops)
    assert x.shape == (1, 48, 48, 3) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert np.array_equal(x[..., 0], x[..., 2])
    with pytest.raises(ValueError, match="48, 48"):
        preprocess(np.zeros((1, 64, 64), np.uint8))


def test_enlarging_inside_the_net_adds_no_parameters():
    model = build_classifier(backbone="resnet50", backbone_size=96)
    assert model.count_params() == EXPECTED_PARAMS["resnet50"]
    assert model.input_shape == (None, 48, 48, 3)  # callers still hand it 48x48 crops
    assert model.get_layer("enlarge").output.shape[1:3] == (96, 96)
    assert [w.shape for w in model.get_weights()] == [
        w.shape for w in build_classifier(backbone="resnet50").get_weights()
    ]
    with pytest.raises(ValueError, match="at least 48"):
        build_classifier(backbone="vgg16", backbone_size=32)

import cv2
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, needs_weights

HOME = str(REPO / "dashboard" / "Home.py")


def test_home_renders_models():
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Feedback emotions"
    table = at.dataframe[0].value
    assert list(table["model"]) == ["resnet50", "vgg16"]


@needs_weights
def test_home_analyzes_an_uploaded_photo(group_photo):
    path, spots = group_photo
    at = AppTest.from_file(HOME, default_timeout=300).run()
    at.file_uploader[0].upload(path.name, path.read_bytes(), mime_type="image/jpeg")
    at.run()
    assert not at.exception
    assert any("face(s) found" in t.value for t in at.text)
    assert len(at.dataframe) == 2 and len(at.dataframe[1].value) >= 3 * len(spots)


def test_home_reports_a_broken_upload():
    at = AppTest.from_file(HOME, default_timeout=300).run()
    at.file_uploader[0].upload("broken.png", b"not really a png", mime_type="image/png")
    at.run()
    assert not at.exception
    assert at.error and "broken.png" in at.error[0].value

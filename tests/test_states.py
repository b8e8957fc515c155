"""Facial states: the geometry that must hold on real faces (mirror, in-plane turn), empty values with a reason
for faces that cannot be read, the analyze JSON's names, and the states stored, summarised and shown."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_core.vision.detection import FaceDetector
from fer_core.vision.states import FaceCut, StateReader

from conftest import DATA_DIR, REPO, background, needs_data, needs_weights, page_tables, paste, write_video

FACES = 24  # real movie frames (SFEW test) read whole, mirrored and turned


@pytest.fixture(scope="module")
def reader():
    return StateReader()


@pytest.fixture(scope="module")
def frames():
    if not (DATA_DIR / "sfew2_test.npz").exists():
        pytest.skip("SFEW data not found")
    x = np.load(DATA_DIR / "sfew2_test.npz")["x_full"]
    out = []
    for grey in x[:: max(1, len(x) // FACES)][:FACES]:
        image = cv2.cvtColor(cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        out.append(cv2.copyMakeBorder(image, 60, 60, 60, 60, cv2.BORDER_REPLICATE))
    return out


def _read(reader, detector, image):
    faces = detector.detect(image)
    return reader.read(image, max(faces, key=lambda f: f.w)) if faces else None


@needs_data
def test_a_mirrored_photo_gives_the_opposite_yaw_and_roll_and_the_same_pitch(reader, frames):
    detector = FaceDetector()
    errors = []
    for image in frames:
        a, b = _read(reader, detector, image), _read(reader, detector, np.ascontiguousarray(image[:, ::-1]))
        if a is None or b is None or a.yaw is None or b.yaw is None:
            continue
        errors.append((abs(a.yaw + b.yaw), abs(a.pitch - b.pitch), abs(a.roll + b.roll)))
    errors = np.array(errors)
    assert len(errors) >= 0.8 * len(frames)
    within = (errors <= 3.0).all(axis=1).mean()
    # measured: benchmarks/states_check.py (docs/states.md); the mesh is not exactly symmetric on every face
    assert within >= 0.85 and np.median(errors) <= 1.0, (within, np.median(errors, axis=0), errors.max(axis=0))


@needs_data
def test_a_photo_turned_in_its_plane_changes_the_roll_by_the_turn(reader, frames):
    detector = FaceDetector()
    errors = []
    for image in frames:
        h, w = image.shape[:2]
        for turn in (-15.0, 15.0):  # positive: clockwise as seen (OpenCV turns counter-clockwise for positive)
            m = cv2.getRotationMatrix2D((w / 2, h / 2), -turn, 1.0)
            turned = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            a, b = _read(reader, detector, image), _read(reader, detector, turned)
            if a is None or b is None or a.yaw is None or b.yaw is None:
                continue
            errors.append((abs(b.roll - a.roll - turn), abs(b.yaw - a.yaw), abs(b.pitch - a.pitch)))
    errors = np.array(errors)
    assert len(errors) >= 0.8 * 2 * len(frames)
    within = ((errors[:, 0] <= 3.0) & (errors[:, 1] <= 5.0) & (errors[:, 2] <= 5.0)).mean()
    assert within >= 0.85 and np.median(errors[:, 0]) <= 1.5, (within, np.median(errors, axis=0))


@needs_data
def test_unreadable_faces_get_empty_values_and_say_why(reader, faces):
    from fer_core.vision.detection import Face

    image = background(480, 640, seed=3)
    paste(image, faces[0], 100, 100, 200)
    small = reader.read(image, Face(100, 100, 30, 30, 0.9))
    assert small.missing == "face too small" and small.yaw is None and small.looking is None
    cut = reader.read(image, Face(560, 100, 80, 80, 0.9, full_box=(560, 100, 200, 200)))
    assert cut.missing == "face cut by the frame's edge" and cut.eyes_open is None
    blurred = cv2.GaussianBlur(image, (0, 0), 12)
    soft = reader.read(blurred, Face(100, 100, 200, 200, 0.9))
    assert soft.missing == "face too blurred" and soft.record()["head"] is None
    assert soft.record()["states_missing"] == "face too blurred"
    sharp = reader.read(image, Face(100, 100, 200, 200, 0.9))
    assert sharp.missing is None and -90 <= sharp.yaw <= 90 and 0 <= sharp.eyes_open <= 1


@needs_data
def test_faces_turned_45_to_60_degrees_are_found_and_their_yaw_reported(reader):
    """FER-2013 Training faces whose yaw reads 45-60 degrees on the face itself (on the box its crop implies, so
    that faces the detector misses are chosen too), pasted into photos at 180 px: most are found (87% of 100 in
    benchmarks/detectors.py --turned-far) and report a turned head."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from detectors import faces_by_yaw, found_pasted

    x = np.load(DATA_DIR / "fer2013_train.npz")["x"]
    chosen = faces_by_yaw(x, {"45-60": (45, 60)}, 24, seed=1)["45-60"]
    detector, scene, found = FaceDetector(), background(960, 1280, seed=1), []
    for face in chosen:
        image, hits = found_pasted(detector, scene, face, 180)
        if hits:
            found.append(reader.read(image, hits[0]))
    # 22 of these 24 found, 18 without the FaceMesh-confirmed low-scoring boxes
    assert len(found) >= 20, f"{len(found)} of {len(chosen)} found"
    yaws = [abs(s.yaw) for s in found if s.yaw is not None]
    assert len(yaws) >= 0.8 * len(found) and np.median(yaws) >= 35, yaws


@needs_data
def test_a_video_frame_face_reads_the_same_from_its_cut_as_from_the_whole_frame(reader, frames):
    """Video keeps only the pixels around each face until the face is read (StateReader.cut): nothing else."""
    detector = FaceDetector()
    compared = 0
    for image in frames[:8]:
        for frame in (image, np.ascontiguousarray(image[40:, 60:])):  # the second cuts the frame near the face
            for face in detector.detect(frame):
                cut = reader.cut(frame, face, quick=True)
                if cut.missing:
                    continue
                assert cut.image.size <= frame.size
                h, w = frame.shape[:2]
                whole = reader.read_cut(FaceCut(frame, face, (0, 0), (w, h), quick=True))
                assert reader.read_cut(cut) == whole
                compared += 1
    assert compared >= 8


@needs_weights
@needs_data
def test_the_analyze_json_carries_each_face_states_with_their_names(tmp_path, faces):
    from test_cli import run_cli

    image = background(480, 640, seed=4)
    paste(image, faces[2], 200, 100, 220)
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), image)
    out = run_cli("analyze", photo)
    assert out.returncode == 0, out.stderr
    face = json.loads(out.stdout.splitlines()[0])
    assert set(face["head"]) == {"yaw", "pitch", "roll"} and all(isinstance(v, float) for v in face["head"].values())
    assert isinstance(face["looking"], bool) and 0 <= face["eyes_open"] <= 1 and 0 <= face["mouth_open"] <= 1
    assert face["brows"] is None  # a photo's person has no typical brow height to compare with
    assert "states_missing" not in face


@pytest.fixture(scope="module")
def session_with_states(tmp_path_factory, faces):
    """A 4 s video at 10 frames a second (blinks can be seen), two people, a segment; analysed and stored."""
    from fer_core import Analyzer, AnalyzerConfig, service
    from fer_core.storage.db import make_engine, upgrade

    folder = tmp_path_factory.mktemp("states")
    frames = []
    for i in range(40):
        img = background(360, 640, seed=2)
        paste(img, faces[0], 40 + i, 80, 170)
        paste(img, faces[1], 400, 100, 160)
        frames.append(img)
    video = write_video(folder / "panel.mp4", frames, 10)
    url = f"sqlite:///{folder / 'fer.db'}"
    engine = make_engine(url)
    upgrade(engine)
    service.ingest([video], engine=engine, analyzer=Analyzer(AnalyzerConfig(fps=10)), session_name="panel")
    from fer_core.storage import queries

    session = int(queries.sessions_overview(engine)["id"].iloc[0])
    media = int(queries.session_media(engine, session_id=session)["id"].iloc[0])
    service.add_marker(media, start_s=1.0, end_s=3.0, label="price shown", engine=engine)
    return {"url": url, "engine": engine, "session": session, "folder": folder}


@needs_weights
@needs_data
def test_states_are_stored_summarised_with_intervals_and_exported(session_with_states):
    from fer_core import service
    from fer_core.storage import queries

    engine, session = session_with_states["engine"], session_with_states["session"]
    stored = queries.face_states(engine, session_id=session)
    assert len(stored) == 80 and stored["yaw"].notna().all() and stored["looking"].notna().all()
    people = service.session_summary(session, by="person", engine=engine)
    assert len(people) == 2
    for r in people:
        s = r["states"]
        assert s["readings_with_states"] == 40
        for m in ("looking", "head_turn", "eyes_open", "mouth_open", "brows_raised", "brows_lowered"):
            low, high = s[m]["ci95"]
            assert low <= s[m]["value"] <= high, (m, s[m])
        assert s["blinks_per_min"] is not None  # 10 readings a second: blinks can be counted
    segment = service.session_summary(session, by="segment", engine=engine)[0]
    assert segment["segment"] == "price shown" and segment["states"]["readings_with_states"] == 40
    compared = service.compare_states("people", people[0]["person"], people[1]["person"], engine=engine,
                                      session_id=session)  # fmt: skip
    assert compared["measure"].tolist()[0] == "looking" and compared["p"].dropna().between(0, 1).all()
    from fer_core.report import session_report

    html = session_report(engine, session, fmt="html").decode()
    assert "Attention: head, eyes, mouth and brows" in html and "all participants" in html
    assert session_report(engine, session, fmt="pdf").startswith(b"%PDF")


@needs_weights
@needs_data
def test_session_page_attention_section_and_video_head_chart(session_with_states, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", session_with_states["url"])
    monkeypatch.setenv("FER_HOME", str(session_with_states["folder"]))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    from resources import get_engine, get_runner

    get_engine.clear()
    get_runner.clear()
    st.cache_data.clear()
    session = session_with_states["session"]
    at = AppTest.from_file(str(REPO / "dashboard" / "router.py"), default_timeout=180).run()
    at.switch_page("views/session.py").run()
    at.radio(key=f"section-{session}").set_value("Attention").run()
    assert not at.exception, at.exception
    per_person, per_segment = page_tables(at)[0], page_tables(at)[1]
    assert len(per_person) == 2 and per_person["looking"].str.endswith("]").all()
    assert per_segment["segment"].tolist() == ["price shown (1-3 s)"]
    assert any(b.label == "CSV" for b in at.get("download_button"))
    at.radio(key=f"section-{session}").set_value("Videos").run()
    assert not at.exception, at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Head and eyes over the video" in titles


@needs_data
def test_the_hand_marked_check_set(reader):
    """Real movie frames marked by hand (tests/data/states_check.csv): the eyes and the mouth are read as marked
    most of the time; "looking" agrees with marks of eye contact only at the 10-degree cone (docs/states.md)."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from states_check import check_set

    x = np.load(DATA_DIR / "sfew2_test.npz")["x_full"]
    detector = FaceDetector()
    for quick in (False, True):  # read as a photo is, and as a video frame is
        result = check_set(x, reader, detector, quick=quick)
        assert result["check_frames_without_states"] == 0
        assert result["eyes_accuracy"] >= 0.85 and result["mouth_accuracy"] >= 0.65, (quick, result)
        assert result["eye_contact_cone_accuracy"] >= 0.6, (quick, result)

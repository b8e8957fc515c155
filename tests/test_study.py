"""The study: people's names and merges, markers (added and imported), segments, baselines, summaries with
intervals and comparisons, on real analysed media in SQLite and PostgreSQL; and the statistics themselves,
against SciPy and on simulated groups."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from scipy import stats as scipy_stats

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.cli import main
from fer_core.constants import EMOTIONS
from fer_core.statistics import stats, study
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, upgrade

from conftest import PG_URL, ScratchPostgres, background, db_backends, needs_weights, paste, write_video

CLIP = "two people.mp4"


# ----------------------------------------------------------------------------- statistics
def test_interval_is_scipys_percentile_bootstrap_with_the_same_seed():
    units = np.random.default_rng(5).dirichlet(np.ones(8), size=15)
    mean, low, high = stats.mean_ci(units, seed=42, n_resamples=999)
    # expanded for 15 units (Hesterberg): the percentiles of a 97.4% interval
    assert stats.expanded_level(15) == pytest.approx(0.9736, abs=1e-4)
    ref = scipy_stats.bootstrap(
        (units,),
        np.mean,
        axis=0,
        method="percentile",
        n_resamples=999,
        confidence_level=stats.expanded_level(15),
        random_state=np.random.default_rng(42),
    )
    np.testing.assert_allclose(low, ref.confidence_interval.low)
    np.testing.assert_allclose(high, ref.confidence_interval.high)
    np.testing.assert_allclose(mean, units.mean(axis=0))
    assert np.all(low < mean) and np.all(mean < high)


def test_intervals_cover_the_true_share_about_95_times_in_100():
    rng = np.random.default_rng(7)
    alpha = np.array([2.0, 0.5, 1.0, 3.0, 1.5, 1.0, 4.0])
    truth = alpha / alpha.sum()
    covered = []
    for _ in range(300):
        people = rng.dirichlet(alpha, size=20)  # 20 people's mean shares
        _, low, high = stats.mean_ci(people, seed=int(rng.integers(1 << 31)), n_resamples=1000)
        covered.append((low <= truth) & (truth <= high))
    coverage = np.mean(covered, axis=0)
    assert np.all((coverage > 0.915) & (coverage < 0.985)), coverage


def test_permutation_test_says_differ_about_5_times_in_100_when_groups_do_not():
    rng = np.random.default_rng(11)
    alpha = np.array([2.0, 0.5, 1.0, 3.0, 1.5, 1.0, 4.0])
    p_each, p_any = [], []
    for _ in range(300):
        a, b = rng.dirichlet(alpha, size=15), rng.dirichlet(alpha, size=12)
        res = stats.compare(a, b, seed=int(rng.integers(1 << 31)), n_resamples=500)
        p_each.append(res["p"][3])
        p_any.append(res["p_any"])
    assert 0.02 < np.mean(np.array(p_each) < 0.05) < 0.09
    assert 0.02 < np.mean(np.array(p_any) < 0.05) < 0.09
    # ... and when they do differ, it says so
    shifted = alpha.copy()
    shifted[3] += 3
    res = stats.compare(rng.dirichlet(shifted, size=15), rng.dirichlet(alpha, size=15), seed=1)
    assert res["p"][3] < 0.01 and res["p_any"] < 0.01 and res["low"][3] > 0


def test_one_person_is_resampled_by_blocks_of_consecutive_readings():
    t = np.arange(0, 60, 0.5)  # 60 s at 2 readings a second
    values = np.column_stack([np.where(t < 30, 0.8, 0.2), np.where(t < 30, 0.2, 0.8)])
    blocks = stats.block_means(values, t, block_s=5.0)
    assert blocks.shape == (12, 2)
    np.testing.assert_allclose(blocks[:6, 0], 0.8)
    np.testing.assert_allclose(blocks[6:, 0], 0.2)


# ----------------------------------------------------------------------------- the study on real media
@pytest.fixture(scope="module")
def clip(tmp_path_factory, faces):
    """14 s at 10 fps: on the left one person all along (expression changes at 5 s and 10 s); on the right
    another, seen 0-4 s and 8-11 s (two tracks)."""
    frames = []
    for i in range(140):
        t = i / 10
        img = background(360, 640, seed=4)
        paste(img, faces[6] if t < 5 else faces[7] if t < 10 else faces[8], 60, 90, 170)
        if t < 4 or 8 <= t < 11:
            paste(img, faces[9], 400, 80, 150)
        frames.append(img)
    return write_video(tmp_path_factory.mktemp("study") / CLIP, frames, 10)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, faces):
    """Two different photos that go by the same name (two cameras' IMG_0001.jpg)."""
    d = tmp_path_factory.mktemp("photos")
    out = []
    for i, face in enumerate((faces[3], faces[4])):
        img = background(480, 640, seed=20 + i)
        paste(img, face, 200, 100, 200)
        cv2.imwrite(str(d / f"p{i}.jpg"), img)
        out.append(d / f"p{i}.jpg")
    return out


@pytest.fixture(scope="module", params=list(db_backends()))
def analysed(request, tmp_path_factory, clip, photos):
    """A session "panel" with the clip and the two photos, analysed for real."""
    if request.param == "sqlite":
        url, pg = f"sqlite:///{tmp_path_factory.mktemp('db') / 'fer.db'}", None
    else:
        pg = ScratchPostgres(PG_URL)
        url = pg.url
    engine = make_engine(url)
    upgrade(engine)
    summary = service.ingest(
        [clip, *photos],
        engine=engine,
        analyzer=Analyzer(AnalyzerConfig(fps=2)),
        session_name="panel",
        keep="media",
        media_root=tmp_path_factory.mktemp("media"),
        display_names=[CLIP, "IMG_0001.jpg", "IMG_0001.jpg"],
    )
    assert [f.status for f in summary.files] == ["done"] * 3
    yield engine, url, summary.session_id
    engine.dispose()
    if pg:
        pg.drop()


def _video_people(engine, session_id):
    people = Q.people(engine, session_id=session_id)
    media = Q.session_media(engine, session_id=session_id)
    video = int(media[media.original_name == CLIP]["id"].iloc[0])
    return video, people[people.media_id == video].sort_values("t_first").reset_index(drop=True)


def _cli(url, *argv, capsys):
    os.environ["DATABASE_URL"] = url
    try:
        rc = main(list(argv))
    finally:
        del os.environ["DATABASE_URL"]
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()], err


@needs_weights
def test_markers_from_csv_and_by_hand(analysed, tmp_path, capsys):
    engine, url, session_id = analysed
    video, _ = _video_people(engine, session_id)
    csv_file = tmp_path / "markers.csv"
    csv_file.write_text(
        "file,start_s,end_s,label\n"
        f"{CLIP},0,4,intro\n"
        f"{CLIP},4,8,product\n"
        f"{CLIP},7.5,,price shown\n"
        "missing.mp4,1,2,nowhere\n"
        "IMG_0001.jpg,0,,photo moment\n"
        f"{CLIP},abc,3,broken\n"
        f"{CLIP},900,,too late\n"
    )
    rc, out, err = _cli(url, "markers", "import", "--session", "panel", str(csv_file), capsys=capsys)
    assert rc == 0 and out == [{"imported": 3}]
    assert "row 5: no file named 'missing.mp4'" in err
    assert "row 6: 2 files of this session are named 'IMG_0001.jpg': ambiguous" in err
    assert "row 7: start_s and end_s must be seconds" in err and "row 8:" in err and "after the end" in err

    marker_id = service.add_marker(video, start_s=12.0, end_s=None, label="goodbye", engine=engine)
    with pytest.raises(ValueError, match="ends after it starts"):
        service.add_marker(video, start_s=3.0, end_s=2.0, label="backwards", engine=engine)
    marks = Q.markers(engine, session_id=session_id)
    assert list(marks["label"]) == ["intro", "product", "price shown", "goodbye"]
    assert marks["end_s"].isna().tolist() == [False, False, True, True]
    assert service.delete_marker(marker_id, engine=engine)
    assert len(Q.markers(engine, session_id=session_id)) == 3


@needs_weights
def test_summaries_by_person_segment_and_file_with_intervals(analysed, capsys):
    engine, url, session_id = analysed
    rc, by_person, _ = _cli(url, "summary", "--session", "panel", "--by", "person", capsys=capsys)
    assert rc == 0
    video_people = [r for r in by_person if r["file"] == CLIP]
    assert len(video_people) == 3  # left, and right seen twice (not yet merged)
    photo_people = sorted(r["person"] for r in by_person if r["file"] == "IMG_0001.jpg")
    assert len(photo_people) == 2 and photo_people[0] != photo_people[1]  # two files, one name: two people
    for r in by_person:
        assert sum(r["shares"].values()) == pytest.approx(1.0, abs=1e-3)
        assert r["people"] == 1
        if r["ci95"]["happy"][0] is not None:  # over 2 s of readings: two blocks or more, an interval
            for e in EMOTIONS:
                low, high = r["ci95"][e]
                assert low - 1e-6 <= r["shares"][e] <= high + 1e-6
    left = max(video_people, key=lambda r: r["readings"])
    assert left["readings"] >= 26 and left["ci95"]["happy"][0] is not None

    rc, by_segment, _ = _cli(url, "summary", "--session", "panel", "--by", "segment", capsys=capsys)
    assert [(r["segment"], r["start_s"], r["end_s"]) for r in by_segment] == [("intro", 0, 4), ("product", 4, 8)]
    intro, product = by_segment
    assert intro["people"] == 2 and product["people"] == 1  # the right person is away from 4 s to 8 s
    readings = Q.readings(engine, session_id=session_id)
    in_intro = readings[(readings.file == CLIP) & (readings.t_s >= 0) & (readings.t_s < 4)]
    expected = in_intro.groupby("person")[list(EMOTIONS)].mean().mean()
    for e in EMOTIONS:
        assert intro["shares"][e] == pytest.approx(expected[e], abs=1e-4)
        low, high = intro["ci95"][e]
        assert low <= intro["shares"][e] + 1e-6 and intro["shares"][e] <= high + 1e-6

    rc, by_file, _ = _cli(url, "summary", "--session", "panel", "--by", "file", "--model", "vgg16", capsys=capsys)
    assert sorted(r["file"] for r in by_file) == sorted([CLIP, "IMG_0001.jpg", "IMG_0001.jpg"])
    video = next(r for r in by_file if r["file"] == CLIP)
    assert video["people"] == 3 and sum(video["shares"].values()) == pytest.approx(1.0, abs=1e-3)


@needs_weights
def test_names_merge_people_and_survive_analysing_again(analysed, capsys):
    engine, url, session_id = analysed
    video, people = _video_people(engine, session_id)
    assert len(people) == 3
    left = people.loc[people["readings"].idxmax()]
    right = people.drop(index=people["readings"].idxmax())
    service.name_people([(video, int(left.person))], "Anna", engine=engine)
    service.name_people([(video, int(p)) for p in right.person], "Ben", engine=engine)  # one person, two tracks

    rc, by_person, _ = _cli(url, "summary", "--session", "panel", "--by", "person", capsys=capsys)
    named = {r["person"]: r for r in by_person if r["file"] == CLIP}
    assert set(named) == {"Anna", "Ben"}
    assert named["Ben"]["readings"] == int(right["readings"].sum())
    assert named["Anna"]["readings"] == int(left["readings"])

    service.reanalyse_session(session_id, engine=engine, analyzer=Analyzer(AnalyzerConfig(fps=2)))
    _, again = _video_people(engine, session_id)
    readings = study.with_participants(Q.readings(engine, session_id=session_id))
    names = readings[readings.file == CLIP].groupby("participant").size()
    assert set(names.index) == {"Anna", "Ben"}, names
    assert names["Anna"] == int(left["readings"]) and names["Ben"] == int(right["readings"].sum())
    assert len(Q.markers(engine, session_id=session_id)) == 3  # markers stay with their file

    service.name_people([(video, int(p)) for p in again.person], "", engine=engine)  # names removed
    readings = study.with_participants(Q.readings(engine, session_id=session_id))
    assert not set(readings.participant) & {"Anna", "Ben"}


@needs_weights
def test_baselines_give_differences_not_shares(analysed, capsys):
    engine, url, session_id = analysed
    rc, rows, _ = _cli(url, "summary", "--session", "panel", "--by", "person", "--baseline-first-s", "2", capsys=capsys)
    assert rc == 0 and rows and all("delta" in r and "shares" not in r for r in rows)
    readings = study.with_participants(Q.readings(engine, session_id=session_id))
    for r in rows:
        mine = readings[readings.participant == r["person"]]
        start = mine.groupby("media_id")["t_s"].transform("min")
        base = mine[mine.t_s < start + 2][list(EMOTIONS)].mean()
        expected = mine[list(EMOTIONS)].mean() - base
        for e in EMOTIONS:
            assert r["delta"][e] == pytest.approx(expected[e], abs=1e-4)
        assert sum(r["delta"].values()) == pytest.approx(0.0, abs=1e-3)  # differences of shares sum to 0
    assert any(v < 0 for r in rows for v in r["delta"].values())

    rc, rows, _ = _cli(url, "summary", "--session", "panel", "--by", "segment", "--baseline", "intro", capsys=capsys)
    product = next(r for r in rows if r["segment"] == "product")
    assert "delta" in product and product["people"] == 1
    rc, _, err = _cli(url, "summary", "--session", "panel", "--baseline-first-s", "0", capsys=capsys)
    assert rc == 1 and "more than 0" in err


def test_moments_are_named_for_what_they_are():
    import pandas as pd

    gloomy = pd.DataFrame({"detection_id": range(8), "satisfaction": np.linspace(-0.9, -0.1, 8)})
    names = study.key_moments(gloomy, n=3).set_index("detection_id")["moment"]
    assert set(names) == {"least negative", "most negative"} and names[7] == "least negative"
    mixed = gloomy.assign(satisfaction=np.linspace(-0.5, 0.5, 8))
    assert set(study.key_moments(mixed, n=3)["moment"]) == {"most positive", "most negative"}
    sunny = gloomy.assign(satisfaction=np.linspace(0.1, 0.9, 8))
    assert set(study.key_moments(sunny, n=3)["moment"]) == {"most positive", "least positive"}


def test_a_difference_is_significant_exactly_when_its_interval_leaves_out_zero():
    """The interval inverts the permutation test that gives p: the two never disagree, whatever the groups'
    sizes; 3 people against 3 cannot be told apart at 5% (20 splits), and the interval says so (no bound)."""
    rng = np.random.default_rng(5)
    alpha = np.array([2.0, 0.5, 1.0, 3.0, 1.5, 1.0, 4.0])
    shifted = alpha + np.array([0, 0, 0, 4.0, 0, 0, 0])
    outcomes = []
    for n_a, n_b in ((2, 5), (3, 4), (6, 7), (12, 10), (30, 25)):
        for seed in range(6):
            a, b = rng.dirichlet(alpha, size=n_a), rng.dirichlet(shifted if seed % 2 else alpha, size=n_b)
            res = stats.compare(a, b, seed=seed)
            assert ((res["low"] > 0) | (res["high"] < 0) == (res["p"] < 0.05)).all(), (n_a, n_b, res)
            assert (res["low"] <= res["difference"]).all() and (res["difference"] <= res["high"]).all()
            outcomes += list(res["p"] < 0.05)
    assert 0 < sum(outcomes) < len(outcomes)  # both verdicts happen, so the agreement is not empty
    tiny = stats.compare(rng.dirichlet(alpha, size=3), rng.dirichlet(shifted, size=3) * 0 + np.eye(7)[3])
    assert (tiny["p"] >= 0.1).all() and np.isinf(tiny["low"]).all() and np.isinf(tiny["high"]).all()
    assert stats.smallest_p(3, 3) >= 0.05 > stats.smallest_p(3, 4)
    assert "no difference can reach p < 0.05" in study.few_people_warning(3, 3)
    assert "no difference can reach" not in study.few_people_warning(7, 6) and "fewer than 10" in (
        study.few_people_warning(7, 6)
    )


@needs_weights
def test_two_segments_compared_with_intervals_and_a_p_value(analysed):
    engine, _, session_id = analysed
    readings = study.with_participants(Q.readings(engine, session_id=session_id))
    segs = study.segments(Q.markers(engine, session_id=session_id)).set_index("label")
    intro = study.in_segment(readings, segs.loc["intro"])
    product = study.in_segment(readings, segs.loc["product"])
    table = study.compare(intro, product, seed=3)
    assert list(table["measure"]) == [*EMOTIONS, "satisfaction"]
    assert table.attrs["units"].startswith("blocks")  # the product segment has one person
    assert ((table["low"] <= table["difference"] + 1e-9) & (table["difference"] <= table["high"] + 1e-9)).all()
    assert table["p"].between(0, 1).all() and 0 < table.attrs["p_any"] <= 1
    np.testing.assert_allclose(table["a"] - table["b"], table["difference"])


@needs_weights
def test_reviews_give_accuracy_on_own_faces_and_survive_analysing_again(analysed, capsys):
    engine, url, session_id = analysed
    faces = Q.face_predictions(engine, session_id=session_id).sort_values("detection_id").reset_index(drop=True)
    truth = {}
    for i, f in enumerate(faces.itertuples()):  # a reviewer's verdicts: the ensemble right on every third face
        truth[int(f.detection_id)] = (
            f.label_ensemble if i % 3 == 0 else ("sad" if f.label_ensemble != "sad" else "fear")
        )
    first = int(faces.detection_id.iloc[0])
    truth[first] = "not_a_face"
    for face, label in truth.items():
        rc, out, _ = _cli(url, "review", "set", str(face), label, "--reviewer", "Mia", capsys=capsys)
        assert rc == 0 and out == [{"face": face, "review": label}]
    rc, _, err = _cli(url, "review", "set", "999999", "happy", capsys=capsys)
    assert rc == 1 and "no face 999999" in err
    rc, listed, _ = _cli(url, "review", "list", "--session", "panel", capsys=capsys)
    assert rc == 0 and sorted(f["face_id"] for f in listed) == sorted(truth)
    one = next(f for f in listed if f["face_id"] == first)
    row = faces.iloc[0]
    assert one["review"] == "not_a_face" and one["t_s"] == round(float(row.t_s), 3)
    assert one["box"] == [int(row.x), int(row.y), int(row.w), int(row.h)] and isinstance(one["file"], str)
    assert one["labels"] == {m: row[f"label_{m}"] for m in ("ensemble", "resnet50", "vgg16")}

    rc, (acc,), _ = _cli(url, "review", "accuracy", "--session", "panel", capsys=capsys)
    judged = faces[faces.detection_id != first]
    y = judged.detection_id.map(truth)
    assert acc["n"] == len(judged) and acc["not_a_face"] == 1
    for model in ("ensemble", "resnet50", "vgg16"):
        right = int((judged[f"label_{model}"] == y).sum())
        n = len(judged)
        assert acc["models"][model]["accuracy"] == pytest.approx(100 * right / n, abs=0.01)
        z = 1.959964  # Wilson's interval, written out
        p_hat = right / n
        centre = (p_hat + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert acc["models"][model]["ci95"] == pytest.approx([100 * (centre - half), 100 * (centre + half)], abs=0.02)
        conf = judged[f"confidence_{model}"].to_numpy()
        hit = (judged[f"label_{model}"] == y).to_numpy()
        bins = np.minimum((conf * 10).astype(int), 9)
        ece = sum(abs(conf[bins == b].mean() - hit[bins == b].mean()) * (bins == b).sum() for b in set(bins)) / n
        assert acc["models"][model]["ece"] == pytest.approx(ece, abs=1e-4)
        confusion = np.array(acc["models"][model]["confusion"])
        assert confusion.sum() == n and np.trace(confusion) == right

    service.reanalyse_session(session_id, engine=engine, analyzer=Analyzer(AnalyzerConfig(fps=2)))
    again = Q.reviewed_faces(engine, session_id=session_id)
    assert len(again) == len(truth)  # every review found its face again
    assert set(again["reviewer"]) == {"Mia"}
    rc, (acc2,), _ = _cli(url, "review", "accuracy", "--session", "panel", capsys=capsys)
    assert acc2["n"] == acc["n"]

    # the reviewed set for the team's own research: labels, and the 48x48 crops the models saw
    import io
    import zipfile

    import pandas as pd

    z = zipfile.ZipFile(io.BytesIO(service.export_reviews(engine=engine, session_id=session_id)))
    table = pd.read_csv(z.open("reviews.csv"))
    assert len(table) == len(truth) and set(table["reviewer"]) == {"Mia"}
    crop = cv2.imdecode(np.frombuffer(z.read(table["crop"].iloc[0]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (48, 48)
    os.environ["FER_BLUR_FACES"] = "1"
    try:
        blurred = zipfile.ZipFile(io.BytesIO(service.export_reviews(engine=engine, session_id=session_id)))
    finally:
        del os.environ["FER_BLUR_FACES"]
    assert blurred.namelist() == ["reviews.csv"]  # faces are pixelated on this server: no crop leaves it


def _flatness(img) -> float:
    """The share of pixels equal to their right-hand neighbour: high where a face is pixelated into blocks."""
    gray = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2GRAY).astype(int)
    return float(np.mean(np.abs(np.diff(gray, axis=1)) <= 1))


@needs_weights
def test_the_report_names_the_session_models_and_date_stays_in_its_margins_and_pixelates(analysed, tmp_path, capsys):
    import datetime as dt

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    engine, url, session_id = analysed
    versions = Q.model_versions(engine, session_id=session_id)
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    pictures = {}
    for blur in ("", "1"):
        out = tmp_path / f"report{blur}.pdf"
        os.environ["FER_BLUR_FACES"] = blur
        try:
            rc, lines, _ = _cli(
                url, "report", "--session", "panel", "--format", "pdf", "--out", str(out), capsys=capsys
            )
        finally:
            del os.environ["FER_BLUR_FACES"]
        assert rc == 0 and lines[0]["format"] == "pdf"
        doc = pdfium.PdfDocument(str(out))
        text = " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        assert "panel" in text and today in text
        assert all(v in text for vs in versions.values() for v in vs) and "ResNet50" in text
        assert "Per segment" in text and "intro" in text and "product" in text  # each segment, with intervals
        margin = round(18 / 25.4 * 72) - 4  # 18 mm, in points (1 px each at scale 1), less a little
        images = []
        for i in range(len(doc)):
            page = np.asarray(doc[i].render(scale=1).to_pil().convert("L"))
            h, w = page.shape
            outside = np.concatenate([page[:margin].ravel(), page[:, :margin].ravel(), page[:, w - margin :].ravel()])
            assert outside.min() > 245, f"page {i + 1}: ink in the margins"
            images += [o.get_bitmap().to_pil() for o in doc[i].get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))]
        assert images, "no key moment pictured"
        pictures[blur] = np.mean([_flatness(im) for im in images])
        doc.close()
    assert pictures["1"] > pictures[""] + 0.15, pictures  # the faces are pixelated

    html_out = tmp_path / "report.html"
    rc, _, _ = _cli(url, "report", "--session", "panel", "--format", "html", "--out", str(html_out), capsys=capsys)
    page = html_out.read_text()
    assert rc == 0 and "Session report: panel" in page and today in page and page.count("<img") >= 2
    assert "<h2>Per segment (ensemble)</h2>" in page and "<bdi>intro (" in page and "<bdi>product (" in page
    assert page.count("<svg") >= 2  # the shares with their intervals, and the video's timeline with its markers
    header = page.split("<p class='small'>", 1)[1].split("</p>", 1)[0]
    assert "ResNet50 and VGG16" in header and not any(v in header for vs in versions.values() for v in vs)
    import re

    for caption in re.findall(r"<td><img[^>]*><br><span class='small'>(.*?)</span></td>", page):
        assert caption.count(CLIP) <= 1, caption  # the file named once


@needs_weights
def test_a_kept_video_gets_a_browser_copy_that_goes_with_its_session(analysed, tmp_path, monkeypatch):
    from fer_core.vision.playback import plays_in_browser

    engine, _, session_id = analysed
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    media = Q.session_media(engine, session_id=session_id)
    video = media[media.original_name == CLIP].iloc[0]
    assert not plays_in_browser(video.stored_path)  # OpenCV wrote it as MPEG-4 Part 2
    copy = service.playable_video(video.stored_path, sha256=video.sha256)
    assert copy.parent == tmp_path / "playable" and plays_in_browser(copy)
    import av

    with av.open(str(copy)) as c:
        assert abs(float(c.duration / 1e6) - 14.0) < 0.3  # the whole clip, at its own pace
    assert service.playable_video(video.stored_path, sha256=video.sha256) == copy  # made once
    assert service.delete_session(session_id, engine=engine)
    assert not copy.exists()

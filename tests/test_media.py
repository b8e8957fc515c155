import numpy as np
import pytest
from PIL import Image

from fer_core.vision.media import (
    MediaError,
    media_kind,
    read_image,
    sample_video,
    video_info,
)

from conftest import REPO, background, write_vfr_video, write_video

REPO_WEIGHTS = REPO / "weights"


def _marked(h=60, w=80):
    """RGB test image with a red block at the top-left corner (to check orientation)."""
    a = np.full((h, w, 3), 200, np.uint8)
    a[:20, :20] = (255, 0, 0)
    return a


@pytest.mark.parametrize(
    "ext,mode",
    [
        (".png", "RGB"),
        (".jpg", "RGB"),
        (".webp", "RGB"),
        (".bmp", "RGB"),
        (".tiff", "RGB"),
        (".png", "RGBA"),
        (".png", "L"),
        (".png", "I;16"),
        (".jpg", "CMYK"),
        (".png", "P"),
    ],
)
def test_photos_of_every_kind_decode_to_bgr(tmp_path, ext, mode):
    img = Image.fromarray(_marked())
    if mode == "I;16":
        img = Image.fromarray((np.asarray(img.convert("L")).astype(np.uint16) * 257))
    elif mode != "RGB":
        img = img.convert(mode)
    path = tmp_path / f"photo {mode.replace(';', '')}{ext}"
    img.save(path)
    bgr = read_image(path)
    assert bgr.shape == (60, 80, 3) and bgr.dtype == np.uint8
    assert bgr[5, 5].astype(int).sum() != bgr[50, 70].astype(int).sum()  # the corner mark survived


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.fromarray(_marked(60, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif.tobytes())
    bgr = read_image(path)
    assert bgr.shape[:2] == (80, 60)  # upright: portrait
    # the red mark moves from top-left to top-right
    assert bgr[5, 55, 2] > 200 and bgr[5, 55, 0] < 80


def test_pixel_limit_guards_against_bombs(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(MediaError, match="megapixels"):
        read_image(path, max_pixels=1_000_000)


@pytest.mark.parametrize(
    "content,match", [(b"", "empty"), (b"hello, not an image", "not an image"), (None, "truncated|damaged")]
)
def test_unreadable_photos_raise_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.png"
    if content is None:
        Image.fromarray(background(200, 200)).save(path)
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(MediaError, match=match):
        read_image(path)


def test_video_sampling_timestamps(tmp_path):
    frames = [background(120, 160, seed=i % 3) for i in range(75)]  # 3 s at 25 fps
    path = write_video(tmp_path / "clip.mp4", frames, 25)
    info = video_info(path)
    assert (info.width, info.height, info.frame_count) == (160, 120, 75)
    sampled = list(sample_video(path, fps=2))
    # first frame at or after each half second: 0, 13/25, 25/25, 38/25, 50/25, 63/25
    assert [f.index for f in sampled] == [0, 13, 25, 38, 50, 63]
    assert [f.t_s for f in sampled] == [0.0, 0.52, 1.0, 1.52, 2.0, 2.52]
    assert [f.index for f in sample_video(path, fps=1)] == [0, 25, 50]


def _vfr_clip(tmp_path):
    """12 s: 30 fps for 2 s, 5 fps from 2 to 11 s, 30 fps to the end; each frame shows its index in binary."""
    times = [i / 30 for i in range(60)] + [2 + i / 5 for i in range(45)] + [11 + i / 30 for i in range(30)]
    frames = []
    for i in range(len(times)):
        img = np.zeros((120, 160, 3), np.uint8)
        for bit in range(8):
            img[:, 20 * bit : 20 * bit + 20] = 255 * ((i >> bit) & 1)
        frames.append(img)
    return write_vfr_video(tmp_path / "phone vfr.mp4", frames, times), times


def _shown_index(image) -> int:
    return sum(1 << bit for bit in range(8) if image[60, 20 * bit + 10].mean() > 128)


def test_variable_frame_rate_video_gets_its_true_times(tmp_path):
    path, times = _vfr_clip(tmp_path)
    info = video_info(path)
    assert info.duration_s == pytest.approx(12.0, abs=0.05)  # the stream's, not frame count / average rate
    sampled = list(sample_video(path, fps=2))
    # the first frame shown at or after each half second, whatever the rate does, at its presentation time
    first = [min(i for i, t in enumerate(times) if t >= k / 2 - 1e-6) for k in range(24)]
    assert [f.index for f in sampled] == first  # `frame` stays the decoded frame's index
    assert [f.t_s for f in sampled] == pytest.approx([times[i] for i in first], abs=1e-3)
    assert sampled[5].t_s == pytest.approx(2.6) and sampled[-1].t_s == pytest.approx(11.5)
    assert [_shown_index(f.image) for f in sampled] == first  # the picture shown at that time


def test_a_stored_frame_is_read_again_by_its_time(tmp_path):
    from fer_core.vision.media import read_video_frame

    path, times = _vfr_clip(tmp_path)
    for t in (0.5, 4.4, 7.0, 11.5):
        image = read_video_frame(path, t)
        assert image.shape == (120, 160, 3) and times[_shown_index(image)] == pytest.approx(t)


def test_a_rotated_phone_video_stays_upright_when_sampled_and_seeked(tmp_path):
    """Phones store portrait video as landscape frames plus a display matrix (the track header's)."""
    import struct

    from fer_core.vision.media import read_video_frame

    frames = []
    for _ in range(30):
        img = np.zeros((120, 160, 3), np.uint8)
        img[:40, :40] = 255  # a mark in the stored frame's top-left corner
        frames.append(img)
    data = bytearray(write_vfr_video(tmp_path / "landscape.mp4", frames, [i / 10 for i in range(30)]).read_bytes())
    matrix = data.find(b"tkhd") + 4 + 40  # version 0 track header: the matrix follows 40 bytes of fields
    assert struct.unpack(">9i", data[matrix : matrix + 36]) == (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # 90 degrees
    path = tmp_path / "portrait.mp4"
    path.write_bytes(bytes(data))

    info = video_info(path)
    assert (info.width, info.height) == (120, 160)
    sampled = list(sample_video(path, fps=2))
    seeked = read_video_frame(path, sampled[2].t_s)
    for image in (sampled[2].image, seeked):  # turned clockwise: the mark is now top-right
        assert image.shape == (160, 120, 3)
        assert image[:40, 80:].mean() > 200 and image[:, :80].mean() < 30


def test_constant_rate_video_times_stay_within_a_frame(tmp_path):
    frames = [background(120, 160, seed=i % 3) for i in range(50)]
    path = write_vfr_video(tmp_path / "cfr.mp4", frames, [i / 25 for i in range(50)])
    assert [f.t_s for f in sample_video(path, fps=2)] == pytest.approx([0.0, 0.52, 1.0, 1.52], abs=1 / 25)


def test_heic_and_avif_photos_decode(tmp_path):
    import pillow_heif

    pillow_heif.register_heif_opener()
    for ext in (".heic", ".avif"):
        path = tmp_path / f"iphone{ext}"
        Image.fromarray(_marked()).save(path, quality=95)
        assert media_kind(path) == "photo"
        bgr = read_image(path)
        assert bgr.shape == (60, 80, 3) and bgr[5, 5, 2] > 200 and bgr[5, 5, 0] < 80


def test_a_multi_page_tiff_says_only_its_first_page_was_analysed(tmp_path):
    path = tmp_path / "scan.tiff"
    Image.fromarray(_marked()).save(path, save_all=True, append_images=[Image.new("RGB", (80, 60))] * 2)
    notes = []
    assert read_image(path, notes=notes).shape == (60, 80, 3)
    assert notes == ["scan.tiff: the file holds 3 images; only the first was analysed"]


def test_video_length_limit(tmp_path):
    path = write_video(tmp_path / "clip.avi", [background(64, 64)] * 50, 10, fourcc="MJPG")
    with pytest.raises(MediaError, match="limit"):
        list(sample_video(path, fps=2, max_seconds=2))


@pytest.mark.parametrize("content", [b"", b"\x00" * 5000, b"not a video at all" * 100])
def test_broken_videos_raise_clear_errors(tmp_path, content):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError):
        list(sample_video(path))


def test_media_kind(tmp_path):
    assert media_kind("a.JPG") == "photo" and media_kind("b.mov") == "video"
    path = tmp_path / "no_extension"
    Image.new("RGB", (10, 10)).save(path, format="PNG")
    assert media_kind(path) == "photo"


def test_blur_faces_hides_the_face_and_nothing_else():
    from fer_core.vision.pictures import blur_faces

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (100, 120, 3)).astype(np.uint8)
    out = blur_faces(image, [(10, 20, 40, 40)])
    assert np.array_equal(out[:20], image[:20]) and np.array_equal(out[:, 60:], image[:, 60:])
    face = out[20:60, 10:50].astype(int)
    assert face.std() < image[20:60, 10:50].std() / 2  # detail gone
    assert not np.array_equal(out, image)


@pytest.mark.skipif(not (REPO_WEIGHTS / "vgg16.npz").exists(), reason="trained weights are not in weights/ yet")
def test_a_video_lasts_as_far_as_its_frames_run(tmp_path):
    """Issue 42, item 4: a variable-frame-rate video whose container says 10.1 s while its frames run to 12 s
    (as a phone's did) is stored as long as its frames run, not as the container says."""
    import fractions
    import struct

    import av

    from fer_core import Analyzer, AnalyzerConfig
    from fer_core.vision.media import video_info

    times = [i / 30 for i in range(60)] + [2 + i / 5 for i in range(45)] + [11 + i / 30 for i in range(30)]
    path, tb = tmp_path / "phone.mkv", fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = tb
        for t in times:
            frame = av.VideoFrame.from_ndarray(background(120, 160, seed=1), format="bgr24")
            frame.pts, frame.time_base = int(round(t * 1000)), tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Matroska's segment Duration (milliseconds, an 8-byte float)
    assert at > 0 and struct.unpack(">d", bytes(data[at + 3 : at + 11]))[0] == pytest.approx(12000, abs=50)
    data[at + 3 : at + 11] = struct.pack(">d", 10100.0)
    path.write_bytes(bytes(data))
    assert video_info(path).duration_s == pytest.approx(10.1)  # what the container now says
    result = Analyzer(AnalyzerConfig(fps=2)).analyze_video(path)
    assert result.duration_s == pytest.approx(11.5)  # the last frame analysed, at 2 a second

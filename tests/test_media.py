import numpy as np
import pytest
from PIL import Image

from fer_core.media import MediaError, media_kind, read_image, sample_video, video_info

from conftest import background, write_video


def _marked(h=60, w=80):
    """RGB test image with a red block at the top-left corner (to check orientation)."""
    a = np.full((h, w, 3), 200, np.uint8)
    a[:20, :20] = (255, 0, 0)
    return a


@pytest.mark.parametrize("ext,mode", [(".png", "RGB"), (".jpg", "RGB"), (".webp", "RGB"), (".bmp", "RGB"),
                                      (".tiff", "RGB"), (".png", "RGBA"), (".png", "L"), (".png", "I;16"),
                                      (".jpg", "CMYK"), (".png", "P")])
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


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"hello, not an image", "not an image"),
                                           (None, "truncated|damaged")])
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
    from fer_core.media import blur_faces

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (100, 120, 3)).astype(np.uint8)
    out = blur_faces(image, [(10, 20, 40, 40)])
    assert np.array_equal(out[:20], image[:20]) and np.array_equal(out[:, 60:], image[:, 60:])
    face = out[20:60, 10:50].astype(int)
    assert face.std() < image[20:60, 10:50].std() / 2  # detail gone
    assert not np.array_equal(out, image)

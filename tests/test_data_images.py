"""Opening images: every mode becomes 8-bit RGB; broken files name themselves."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from infocam.data.images import image_size, open_mask, open_rgb
from infocam.errors import InputError


def _gradient(h=6, w=8) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) * 5).astype(np.uint8)


def test_rgb_passes_through(tmp_path):
    arr = np.stack([_gradient(), _gradient()[::-1], np.full((6, 8), 7, np.uint8)], axis=-1)
    Image.fromarray(arr).save(tmp_path / "a.png")
    out = open_rgb(tmp_path / "a.png")
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), arr)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(_gradient(), mode="L").save(tmp_path / "g.png")
    out = np.asarray(open_rgb(tmp_path / "g.png"))
    assert out.shape == (6, 8, 3)
    assert np.array_equal(out[..., 0], _gradient()) and np.array_equal(out[..., 2], _gradient())


def test_sixteen_bit_grayscale_is_scaled(tmp_path):
    arr16 = np.array([[0, 257, 65535], [32896, 1000, 514]], dtype=np.uint16)
    Image.fromarray(arr16).save(tmp_path / "d.png")
    out = np.asarray(open_rgb(tmp_path / "d.png"))
    assert out[..., 0].tolist() == [[0, 1, 255], [128, 4, 2]]


def test_rgba_drops_alpha(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 200
    arr[..., 3] = 0  # fully transparent, colour kept
    Image.fromarray(arr, mode="RGBA").save(tmp_path / "t.png")
    out = np.asarray(open_rgb(tmp_path / "t.png"))
    assert out.shape == (4, 4, 3) and (out[..., 0] == 200).all() and (out[..., 1] == 0).all()


def test_palette_with_and_without_transparency(tmp_path):
    img = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    img.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    img.save(tmp_path / "p.png")
    img.save(tmp_path / "pt.png", transparency=0)
    for name in ("p.png", "pt.png"):
        out = np.asarray(open_rgb(tmp_path / name))
        assert out[0, 0].tolist() == [10, 20, 30] and out[0, 1].tolist() == [200, 100, 50]


def test_cmyk_and_bilevel(tmp_path):
    Image.new("CMYK", (3, 2), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert np.asarray(open_rgb(tmp_path / "c.jpg")).mean() > 240
    Image.new("1", (3, 2), 1).save(tmp_path / "b.png")
    assert np.asarray(open_rgb(tmp_path / "b.png")).tolist() == [[[255] * 3] * 3] * 2


def test_missing_file_names_the_file_and_listing(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jpg: image file not found \(listed at images\.txt:4\)"):
        open_rgb(tmp_path / "nope.jpg", listed_at="images.txt:4")


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "empty file"), (b"GIF89a garbage", "cannot read image"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "cannot read image")],
)
def test_broken_files(tmp_path, content, why):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=why) as info:
        open_rgb(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert image_size(path) == (64, 64)  # the header is intact ...
    with pytest.raises(InputError, match=r"cut\.jpg: cannot read image: .*truncated"):
        open_rgb(path)  # ... the pixels are not


def test_open_mask(tmp_path):
    arr = np.array([[0, 255], [3, 0]], np.uint8)
    Image.fromarray(arr).save(tmp_path / "m.png")
    assert open_mask(tmp_path / "m.png").tolist() == [[False, True], [True, False]]
    Image.fromarray(np.stack([arr] * 3, -1)).save(tmp_path / "m3.png")
    assert open_mask(tmp_path / "m3.png").tolist() == [[False, True], [True, False]]
    with pytest.raises(InputError, match="mask file not found"):
        open_mask(tmp_path / "none.png")

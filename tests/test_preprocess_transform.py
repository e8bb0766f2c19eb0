"""Step 1's transform on one file: bit-identical to torchvision (Pillow path) and to the original script (squash)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from preprocess_images import KINDS, SIZES, needs_cv2, original_squash, torchvision_uint8, write_kind

from senet_infer.errors import PipelineError
from senet_infer.preprocess.transform import EvalTransform, preprocess_file

# Silences PIL's advice to convert palette+transparency images to RGBA in the torchvision reference.
pytestmark = pytest.mark.filterwarnings("ignore:Palette images with Transparency:UserWarning")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.torch
def test_uint8_is_bit_identical_to_torchvision(tmp_path: Path, kind: str) -> None:
    for i, size in enumerate(SIZES):
        suffix = ".png" if kind.startswith(("palette", "rgba")) else ".JPEG"
        path = write_kind(tmp_path / f"{kind}_{i}{suffix}", kind, size, seed=i)
        array = preprocess_file(path, EvalTransform())
        assert array.shape == (256, 256, 3) and array.dtype == np.uint8
        assert array.tobytes() == torchvision_uint8(path), f"{kind} {size}"


def test_palette_transparency_really_present(tmp_path: Path) -> None:
    path = write_kind(tmp_path / "p.png", "palette_transparent", (120, 90), seed=3)
    with Image.open(path) as image:
        assert image.mode == "P" and "transparency" in image.info


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.torch
@needs_cv2
def test_squash_is_byte_identical_to_the_original_script(tmp_path: Path, kind: str) -> None:
    for i, size in enumerate(SIZES):
        suffix = ".png" if kind.startswith(("palette", "rgba")) else ".JPEG"
        path = write_kind(tmp_path / f"{kind}_{i}{suffix}", kind, size, seed=i)
        array = preprocess_file(path, EvalTransform(resize="squash"))
        assert array.shape == (256, 256, 3) and array.dtype == np.uint8
        assert array.tobytes() == original_squash(path), f"{kind} {size}"
        if kind == "rgb":
            assert array.tobytes() != torchvision_uint8(path)  # the two protocols really differ


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("junk.JPEG", b"not an image at all" * 20, "OpenCV cannot decode"),
    ("empty.png", b"", "OpenCV cannot decode"),
    ("half.png", None, "OpenCV cannot decode"),
    ("half.JPEG", None, "truncated"),
])
@needs_cv2
def test_squash_refuses_what_the_original_crashes_on_or_writes_grey(
        tmp_path: Path, name: str, content: bytes | None, needle: str) -> None:
    path = tmp_path / name
    if content is None:
        whole = write_kind(tmp_path / ("whole" + Path(name).suffix), "rgb" if name.endswith("JPEG") else "rgba",
                           (200, 150), seed=4).read_bytes()
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=needle) as info:
        preprocess_file(path, EvalTransform(resize="squash"))
    assert str(path) in str(info.value)


@needs_cv2
def test_squash_accepts_a_jpeg_with_bytes_after_its_end(tmp_path: Path) -> None:
    path = write_kind(tmp_path / "tail.JPEG", "rgb", (200, 150), seed=5)
    path.write_bytes(path.read_bytes() + b"camera trailer")
    assert preprocess_file(path, EvalTransform(resize="squash")).tobytes() == original_squash(path)

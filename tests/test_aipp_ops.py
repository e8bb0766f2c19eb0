"""The AIPP arithmetic: :func:`apply_aipp` by hand, against torchvision, and on inputs that do not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aipp_configs import GUIDE_CONFIG
from PIL import Image

from senet_infer.aipp import AippOp, apply_aipp, parse_aipp_config
from senet_infer.errors import PipelineError
from senet_infer.imagenet import MEAN, STD


def _small_op(**changes: object) -> AippOp:
    fields: dict[str, object] = dict(
        src_image_size_w=4, src_image_size_h=3, crop=True, load_start_pos_w=1, load_start_pos_h=1,
        crop_size_w=3, crop_size_h=2, mean_chn=(10, 20, 30, 0), min_chn=(0.5, 0.25, 0.0, 0.0),
        var_reci_chn=(2.0, 0.5, -1.0, 1.0),
    )
    fields.update(changes)
    return AippOp(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("swap", [False, True])
def test_apply_aipp_matches_a_hand_computation(swap: bool) -> None:
    op = _small_op(rbuv_swap_switch=swap)
    images = np.random.default_rng(3).integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)
    expected = np.zeros((2, 3, 2, 3))
    for n in range(2):
        for c in range(3):
            src_c = 2 - c if swap else c
            for y in range(2):
                for x in range(3):
                    pixel = float(images[n, 1 + y, 1 + x, src_c])
                    expected[n, c, y, x] = (pixel - op.mean_chn[c] - op.min_chn[c]) * op.var_reci_chn[c]
    out = apply_aipp(images, op)
    assert out.dtype == np.float32 and out.shape == (2, 3, 2, 3) and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_array_equal(apply_aipp(images[1], op), out[1])  # one HWC image -> CHW


def test_apply_aipp_without_crop_keeps_the_source_size() -> None:
    op = _small_op(crop=False)
    out = apply_aipp(np.full((1, 3, 4, 3), 255, np.uint8), op)
    assert out.shape == (1, 3, 3, 4) and op.output_hw == (3, 4)
    np.testing.assert_allclose(out[0, :, 0, 0], [(255 - 10.5) * 2, (255 - 20.25) * 0.5, -(255 - 30)])


@pytest.mark.torch
def test_apply_aipp_equals_torchvision_center_crop_and_normalize(bin_dir: Path) -> None:
    from torchvision import transforms

    (op,) = parse_aipp_config(GUIDE_CONFIG)
    reference = transforms.Compose([
        transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(MEAN, STD),
    ])
    bins = sorted(bin_dir.glob("*.bin"))
    images = np.stack([np.frombuffer(p.read_bytes(), np.uint8).reshape(op.input_shape(1)[1:]) for p in bins])
    expected = np.stack([reference(Image.fromarray(image)).numpy() for image in images])
    out = apply_aipp(images, op)
    assert out.shape == (len(bins), 3, 224, 224)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_apply_aipp_rejects_inputs_that_do_not_fit() -> None:
    (op,) = parse_aipp_config(GUIDE_CONFIG)
    with pytest.raises(PipelineError, match=r"\[2, 224, 224, 3\] does not match src_image_size 256x256"):
        apply_aipp(np.zeros((2, 224, 224, 3), np.uint8), op)
    with pytest.raises(PipelineError, match="does not match"):
        apply_aipp(np.zeros(256 * 256 * 3, np.uint8), op)  # a flat .bin buffer: the caller reshapes it
    with pytest.raises(PipelineError, match="must be uint8"):
        apply_aipp(np.zeros((1, 256, 256, 3), np.float32), op)

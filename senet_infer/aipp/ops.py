"""A static AIPP block as data (:class:`AippOp`) and the one numpy implementation of what it computes.

:func:`apply_aipp` does channel swap, crop, ``(x - mean_chn - min_chn) * var_reci_chn`` in float32
and HWC -> CHW. The converter's graph, its fidelity check and the pipeline's fidelity step all follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PipelineError
from .fields import Value

CHANNELS = {"RGB888_U8": 3}


@dataclass(frozen=True)
class AippOp:
    """One static ``aipp_op`` block: the fields the arithmetic uses, plus everything the file set."""

    aipp_mode: str = "static"
    related_input_rank: int = 0
    related_input_name: str = ""  # when set, the input of that name (resolve_aipp_ops sets the rank)
    input_edge_idx: int | None = None  # which consumer of the input AIPP feeds (None: all)
    input_format: str = "RGB888_U8"
    src_image_size_w: int = 0
    src_image_size_h: int = 0
    crop: bool = False
    load_start_pos_w: int = 0
    load_start_pos_h: int = 0
    crop_size_w: int = 0
    crop_size_h: int = 0
    rbuv_swap_switch: bool = False
    mean_chn: tuple[int, int, int, int] = (0, 0, 0, 0)
    min_chn: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    var_reci_chn: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    # Every key the block set, in file order (inert ones such as matrix_r0c0 included), for the record.
    given: tuple[tuple[str, Value], ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)  # line of the block's ``aipp_op``

    @property
    def channels(self) -> int:
        """Channels of the input image and of the network input behind AIPP."""
        return CHANNELS[self.input_format]

    @property
    def src_hw(self) -> tuple[int, int]:
        """(height, width) of the uint8 input image."""
        return self.src_image_size_h, self.src_image_size_w

    @property
    def output_hw(self) -> tuple[int, int]:
        """(height, width) that AIPP hands to the network: the crop size, or the source size without crop."""
        if self.crop:
            return self.crop_size_h, self.crop_size_w
        return self.src_hw

    def input_shape(self, batch: int) -> tuple[int, int, int, int]:
        """NHWC shape of a uint8 input batch."""
        return batch, self.src_image_size_h, self.src_image_size_w, self.channels

    def normalisation(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (offset, scale) per output channel: ``out = (in - offset) * scale``, offset = mean + min."""
        c = self.channels
        # Summed in float64 and rounded once, so that the graph and numpy use the same constant.
        offset = np.array([self.mean_chn[i] + self.min_chn[i] for i in range(c)], dtype=np.float64)
        return offset.astype(np.float32), np.array(self.var_reci_chn[:c], dtype=np.float32)

    def describe(self) -> str:
        """One line: input, crop and normalisation."""
        h, w = self.src_hw
        parts = [f"{self.input_format} {h}x{w}"]
        if self.rbuv_swap_switch:
            parts.append("R/B swap")
        if self.crop:
            parts.append(f"crop {self.crop_size_h}x{self.crop_size_w} at ({self.load_start_pos_h},{self.load_start_pos_w})")
        offset, scale = self.normalisation()
        parts.append("normalise (x - " + ", ".join(f"{v:g}" for v in offset) + ") * ("
                     + ", ".join(f"{v:.6g}" for v in scale) + ")")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Value]:
        """The keys the block set, with their values (JSON-ready)."""
        return dict(self.given)


def apply_aipp(images: np.ndarray, op: AippOp) -> np.ndarray:
    """What the static AIPP block computes, in numpy.

    ``images``: uint8 NHWC ``[N, src_h, src_w, C]``, or one HWC image ``[src_h, src_w, C]``. A flat
    .bin buffer is the caller's to reshape: ``np.frombuffer(raw, np.uint8).reshape(op.input_shape(1))``.
    Returns float32 NCHW ``[N, C, out_h, out_w]`` (CHW for one image): R/B swap if set, crop, then
    ``(x - mean_chn - min_chn) * var_reci_chn`` in float32.
    """
    array = np.asarray(images)
    h, w = op.src_hw
    c = op.channels
    if array.dtype != np.uint8:
        raise PipelineError(f"AIPP input must be uint8 ({op.input_format}), got {array.dtype}")
    single = array.ndim == 3
    batch = array[None] if single else array
    if batch.ndim != 4 or batch.shape[1:] != (h, w, c):
        raise PipelineError(
            f"AIPP input shape {list(array.shape)} does not match src_image_size {h}x{w} with {c} channels "
            f"(expected [N, {h}, {w}, {c}] or [{h}, {w}, {c}])"
        )
    if op.rbuv_swap_switch:
        batch = batch[..., ::-1]
    if op.crop:
        top, left = op.load_start_pos_h, op.load_start_pos_w
        batch = batch[:, top:top + op.crop_size_h, left:left + op.crop_size_w, :]
    offset, scale = op.normalisation()
    out = (batch.astype(np.float32) - offset) * scale
    out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out[0] if single else out

"""Pipeline fidelity: the runner's result files vs PyTorch fp32 on the same .bin inputs (numpy AIPP in front).

This is the check that the whole chain (AIPP fused into the graph, the backend, the result files)
computes what the PyTorch model computes, image by image; it says nothing about accuracy. fp32
results must agree within :data:`FP32_RELATIVE_TOLERANCE` and give the same top-1 class; reduced
precision (bf16, fp16, int8) is compared the same way and its drift reported, never failed.

At ImageNet scale the PyTorch reference would cost as much as inference itself, so by default a
large set is checked on an evenly spaced subset (:func:`select_images`); all images on request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import fileio
from .agreement import Agreement
from .aipp import AippOp, apply_aipp
from .errors import PipelineError
from .fileio import atomic_write_json, read_json, read_result, result_file_name, stem_of
from .precision import is_reduced

# The project's tolerance for any fp32 backend vs PyTorch fp32, per image, through the whole pipeline.
FP32_RELATIVE_TOLERANCE = 1e-4
DEFAULT_MAX_IMAGES = 500  # larger sets are checked on this many evenly spaced images by default
REFERENCE_BATCH = 32
REFERENCE = "PyTorch fp32 with numpy AIPP on the same .bin"  # what fidelity.json's results are compared with



def select_images(count: int, limit: Optional[int] = None, all_images: bool = False,
                  default_max: int = DEFAULT_MAX_IMAGES) -> List[int]:
    """Indices of the images to check: all when asked or when ``count`` is small, else ``limit`` (or
    ``default_max``) evenly spaced ones, first and last included."""
    if count < 0:
        raise ValueError(f"count {count} < 0")
    wanted = None if all_images else (limit if limit is not None else default_max)
    if wanted is None or wanted >= count:
        return list(range(count))
    if wanted < 1:
        raise PipelineError(f"fidelity: {wanted} images requested; give at least 1")
    if wanted == 1:
        return [0]
    picks = np.linspace(0, count - 1, wanted).round().astype(int)
    return sorted(set(picks.tolist()))


def _result_path(result_dir: Path, stem: str) -> Path:
    for fmt in ("TXT", "NPY", "BIN"):
        candidate = result_dir / result_file_name(stem, 0, fmt)
        if candidate.is_file():
            return candidate
    raise PipelineError(f"{result_dir}: no result for input {stem} (expected {result_file_name(stem, 0, 'TXT')})")


def inputs_to_check(bin_dir: str | Path) -> List[Path]:
    """The ``.bin`` inputs of ``bin_dir`` in the runner's (natural) order (:func:`fileio.list_inputs`); none is an error."""
    folder = Path(bin_dir)
    bins = fileio.list_inputs(folder)
    if not bins:
        raise PipelineError(f"{folder}: no .bin inputs to check")
    return bins


def pytorch_logits(model: object, inputs: Sequence[Path], aipp: AippOp, *, batch: int = REFERENCE_BATCH,
                   threads: Optional[int] = None) -> np.ndarray:
    """PyTorch fp32 logits of uint8 ``.bin`` inputs with the numpy AIPP in front, in batches, all cores."""
    import torch

    from .model import inference_context

    expected_bytes = int(np.prod(aipp.input_shape(1)))
    item_shape = aipp.input_shape(1)[1:]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    outputs = []
    try:
        with inference_context():
            for start in range(0, len(inputs), batch):
                raw = []
                for path in inputs[start:start + batch]:
                    data = np.fromfile(path, dtype=np.uint8)
                    if data.size != expected_bytes:
                        raise PipelineError(f"{path}: {data.size} bytes, expected {expected_bytes} (uint8 {item_shape})")
                    raw.append(data.reshape(item_shape))
                outputs.append(model(torch.from_numpy(apply_aipp(np.stack(raw), aipp))).numpy())  # type: ignore[operator]
    finally:
        torch.set_num_threads(previous)
    return np.concatenate(outputs)


def compare_with_pytorch(
    checkpoint: str | Path,
    bin_dir: str | Path,
    result_dir: str | Path,
    aipp: AippOp,
    *,
    precision: str = "fp32",
    batch: int = REFERENCE_BATCH,
    limit: Optional[int] = None,
    all_images: bool = False,
    threads: Optional[int] = None,
) -> Agreement:
    """Compare the runner's results with PyTorch fp32 on the images :func:`select_images` picks.

    fp32: fails (``passed`` False) beyond :data:`FP32_RELATIVE_TOLERANCE` or on any other top-1;
    bf16/fp16/int8: the drift is reported only.
    """
    from .model import load_checkpoint

    result_dir = Path(result_dir)
    bins = inputs_to_check(bin_dir)
    bins = [bins[i] for i in select_images(len(bins), limit, all_images)]
    stems = [stem_of(p) for p in bins]
    model = load_checkpoint(checkpoint)
    reference = pytorch_logits(model, bins, aipp, batch=batch, threads=threads)
    classes = reference.shape[1]
    actual = np.stack([read_result(_result_path(result_dir, stem), classes) for stem in stems])
    if actual.shape != reference.shape:
        raise PipelineError(f"{result_dir}: results hold {actual.shape[1]} values per image, PyTorch gives {classes}")
    return Agreement.from_logits(actual, reference, tolerance=FP32_RELATIVE_TOLERANCE,
                                 subject="fidelity vs PyTorch fp32", enforced=not is_reduced(precision),
                                 require_top1=True, precision=precision, names=stems)


@dataclass(frozen=True)
class FidelityRecord:
    """``fidelity.json``: the agreement with PyTorch, which runtime made the results, which images were checked,
    the one-line summary, and the run's notes (demo weights or data, calibration)."""

    agreement: Agreement
    backend: str
    selection: str
    summary: str
    notes: Dict[str, str] = field(default_factory=dict)


def write_fidelity_json(path: str | Path, record: FidelityRecord) -> None:
    """The fidelity step's file (atomically): the agreement's fields, the classes of the changed top-1s named."""
    from .imagenet import synsets

    doc = record.agreement.to_dict()
    for change in doc["top1_changes"]:  # type: ignore[attr-defined]
        change.update(reference_name=synsets().name(change["reference"]), result_name=synsets().name(change["result"]))
    atomic_write_json(path, {**doc, "reference": REFERENCE, "backend": record.backend, "selection": record.selection,
                             "summary": record.summary, **record.notes})


def read_fidelity_json(path: str | Path) -> FidelityRecord:
    """The one reader of :func:`write_fidelity_json`'s file; another file is one error naming it."""
    path = Path(path)
    doc = read_json(path)
    try:
        if not isinstance(doc, dict):
            raise TypeError("not an object")
        agreement = Agreement.from_dict(doc)
        known = set(agreement.to_dict()) | {"reference", "backend", "selection", "summary"}
        notes = {str(k): str(v) for k, v in doc.items() if k not in known}
        return FidelityRecord(agreement, str(doc["backend"]), str(doc["selection"]), str(doc["summary"]), notes)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"{path}: not a fidelity record of the fidelity step ({type(exc).__name__}: {exc})") from None

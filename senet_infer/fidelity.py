"""Pipeline fidelity: the runner's result files vs PyTorch on the same .bin inputs (numpy AIPP in front).

This is the check that the whole chain (AIPP fused into the graph, the backend, the result files)
computes what the PyTorch model computes, image by image; it says nothing about accuracy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .aipp import AippOp, apply_aipp
from .errors import PipelineError
from .fileio import is_hidden_temp, natural_key, read_result, result_file_name, stem_of

# The project's tolerance for any fp32 backend vs PyTorch fp32, per image, through the whole pipeline.
FP32_RELATIVE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class FidelityReport:
    """Per-image agreement between the runner's results and PyTorch, summarised."""

    images: int
    precision: str
    top1_agreement: float
    top5_agreement: float  # same set of five classes
    max_abs_error: float
    max_relative_error: float
    mean_relative_error: float
    min_cosine_similarity: float
    distinct_top1_reference: int
    distinct_top1_results: int
    tolerance_relative: float
    enforced: bool  # fp32 results must meet the tolerance; reduced precision is reported only
    worst_image: str

    @property
    def passed(self) -> bool:
        """fp32: every image within tolerance and with the same top-1; reduced precision: always."""
        if not self.enforced:
            return True
        return self.max_relative_error < self.tolerance_relative and self.top1_agreement == 1.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready record, verdict included."""
        return {**asdict(self), "passed": self.passed}

    def one_line(self) -> str:
        """The step's printed summary."""
        verdict = ("PASS" if self.passed else "FAIL") if self.enforced else "reported only (reduced precision)"
        return (
            f"fidelity vs PyTorch fp32 on {self.images} images ({self.precision}): top-1 agree "
            f"{100 * self.top1_agreement:.2f} %, top-5 agree {100 * self.top5_agreement:.2f} %, "
            f"max rel err {self.max_relative_error:.2e} (tol {self.tolerance_relative:.0e}), max abs err "
            f"{self.max_abs_error:.2e}, min cosine {self.min_cosine_similarity:.6f}, distinct top-1 "
            f"{self.distinct_top1_results}/{self.distinct_top1_reference} (results/PyTorch): {verdict}"
        )


def _result_path(result_dir: Path, stem: str) -> Path:
    for fmt in ("TXT", "NPY", "BIN"):
        candidate = result_dir / result_file_name(stem, 0, fmt)
        if candidate.is_file():
            return candidate
    raise PipelineError(f"{result_dir}: no result for input {stem} (expected {result_file_name(stem, 0, 'TXT')})")


def _top5_sets(logits: np.ndarray) -> np.ndarray:
    return np.sort(np.argpartition(-logits, 5, axis=1)[:, :5], axis=1)


def compare_with_pytorch(
    checkpoint: str | Path,
    bin_dir: str | Path,
    result_dir: str | Path,
    aipp: AippOp,
    *,
    precision: str = "fp32",
    batch: int = 16,
    limit: int | None = None,
) -> FidelityReport:
    """Run the checkpoint in PyTorch on every ``.bin`` (AIPP applied in numpy) and compare with the results."""
    import torch

    from .model import load_checkpoint

    bin_dir, result_dir = Path(bin_dir), Path(result_dir)
    bins = sorted((p for p in bin_dir.glob("*.bin") if not is_hidden_temp(p)), key=lambda p: natural_key(p.name))
    if not bins:
        raise PipelineError(f"{bin_dir}: no .bin inputs to check")
    if limit is not None and limit < len(bins):
        picks = np.linspace(0, len(bins) - 1, limit).round().astype(int)
        bins = [bins[i] for i in sorted(set(picks.tolist()))]
    expected_bytes = int(np.prod(aipp.input_shape(1)))
    model = load_checkpoint(checkpoint)

    stems: list[str] = []
    rel_errors, cosines, abs_errors = [], [], []
    top1_same = top5_same = 0
    ref_classes: set[int] = set()
    res_classes: set[int] = set()
    for start in range(0, len(bins), batch):
        chunk = bins[start:start + batch]
        raw = []
        for path in chunk:
            data = np.fromfile(path, dtype=np.uint8)
            if data.size != expected_bytes:
                raise PipelineError(f"{path}: {data.size} bytes, expected {expected_bytes} (uint8 {aipp.input_shape(1)[1:]})")
            raw.append(data.reshape(aipp.input_shape(1)[1:]))
        with torch.no_grad():
            reference = model(torch.from_numpy(apply_aipp(np.stack(raw), aipp))).numpy().astype(np.float64)
        actual = np.stack([read_result(_result_path(result_dir, stem_of(p)), reference.shape[1]) for p in chunk])
        if actual.shape != reference.shape:
            raise PipelineError(f"{result_dir}: results hold {actual.shape[1]} values per image, PyTorch gives {reference.shape[1]}")
        actual = actual.astype(np.float64)
        diff = actual - reference
        abs_errors.append(np.abs(diff).max(axis=1))
        rel_errors.append(np.linalg.norm(diff, axis=1) / np.linalg.norm(reference, axis=1))
        cosines.append((actual * reference).sum(1) / (np.linalg.norm(actual, axis=1) * np.linalg.norm(reference, axis=1)))
        top1_same += int((actual.argmax(1) == reference.argmax(1)).sum())
        top5_same += int((_top5_sets(actual) == _top5_sets(reference)).all(axis=1).sum())
        ref_classes.update(reference.argmax(1).tolist())
        res_classes.update(actual.argmax(1).tolist())
        stems.extend(stem_of(p) for p in chunk)

    rel = np.concatenate(rel_errors)
    count = len(stems)
    return FidelityReport(
        images=count,
        precision=precision,
        top1_agreement=top1_same / count,
        top5_agreement=top5_same / count,
        max_abs_error=float(np.concatenate(abs_errors).max()),
        max_relative_error=float(rel.max()),
        mean_relative_error=float(rel.mean()),
        min_cosine_similarity=float(np.concatenate(cosines).min()),
        distinct_top1_reference=len(ref_classes),
        distinct_top1_results=len(res_classes),
        tolerance_relative=FP32_RELATIVE_TOLERANCE,
        enforced=precision == "fp32",
        worst_image=stems[int(rel.argmax())],
    )

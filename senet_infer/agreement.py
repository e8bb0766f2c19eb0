"""One agreement record between two sets of logits: the fidelity checks (export, conversion, the whole run) and the
reduced-precision drift (quantization, bf16/fp16).

Numpy only, so checking never imports a framework.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

TOP1_CHANGES_KEPT = 100  # images whose top-1 changed, named in the record (the count is images - same_top1)


def relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """‖a − b‖ / ‖b‖ over the whole array (float64)."""
    a = np.asarray(actual, np.float64)
    b = np.asarray(reference, np.float64)
    denom = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom else float(np.linalg.norm(a - b))


def _top5_sets(logits: np.ndarray) -> np.ndarray:
    k = min(5, logits.shape[1])
    if k == logits.shape[1]:
        return np.sort(np.argsort(-logits, axis=1)[:, :k], axis=1)
    return np.sort(np.argpartition(-logits, k, axis=1)[:, :k], axis=1)


def _as_rows(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, np.float64)
    if array.ndim == 0:
        return array.reshape(1, 1)
    return array.reshape(array.shape[0], -1)


@dataclass(frozen=True)
class Agreement:
    """How closely ``actual`` logits follow ``reference`` logits, image by image, with a verdict."""

    subject: str  # what is compared, e.g. "converted vs dynamic+numpy AIPP"
    images: int
    relative_error: float  # ‖a − b‖ / ‖b‖ over all images together
    max_relative_error: float  # worst image
    mean_relative_error: float
    max_abs_error: float
    min_cosine_similarity: float
    top1_agreement: float
    top5_agreement: float  # same set of five classes
    same_top1: int
    distinct_top1_reference: int
    distinct_top1_results: int
    worst_image: str
    tolerance: float  # on the worst image's relative error
    enforced: bool = True  # False: reduced precision, drift reported only
    require_top1: bool = False  # also fail when any image's top-1 class differs
    precision: str = "fp32"
    # (image, reference top-1, result top-1) of the images whose top-1 changed, the first TOP1_CHANGES_KEPT
    top1_changes: Tuple[Tuple[str, int, int], ...] = ()

    @classmethod
    def from_logits(cls, actual: np.ndarray, reference: np.ndarray, *, tolerance: float, subject: str,
                    enforced: bool = True, require_top1: bool = False, precision: str = "fp32",
                    names: Optional[Sequence[str]] = None) -> "Agreement":
        """Compare two [images, classes] arrays (any shape with images first is flattened per image)."""
        a, b = _as_rows(actual), _as_rows(reference)
        if a.shape != b.shape:
            raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
        count = a.shape[0]
        diff = a - b
        ref_norm = np.linalg.norm(b, axis=1)
        act_norm = np.linalg.norm(a, axis=1)
        per_image = np.linalg.norm(diff, axis=1) / np.where(ref_norm > 0, ref_norm, 1.0)
        denom = act_norm * ref_norm
        cosine = np.where(denom > 0, (a * b).sum(1) / np.where(denom > 0, denom, 1.0), 1.0)
        top1_a, top1_b = a.argmax(1), b.argmax(1)
        same = int((top1_a == top1_b).sum())
        worst = int(per_image.argmax()) if count else 0
        changed = np.flatnonzero(top1_a != top1_b)[:TOP1_CHANGES_KEPT].tolist()
        return cls(
            subject=subject,
            images=count,
            relative_error=relative_error(a, b),
            max_relative_error=float(per_image.max()) if count else 0.0,
            mean_relative_error=float(per_image.mean()) if count else 0.0,
            max_abs_error=float(np.abs(diff).max()) if diff.size else 0.0,
            min_cosine_similarity=float(cosine.min()) if count else 1.0,
            top1_agreement=same / count if count else 1.0,
            top5_agreement=float((_top5_sets(a) == _top5_sets(b)).all(axis=1).mean()) if count else 1.0,
            same_top1=same,
            distinct_top1_reference=len(set(top1_b.tolist())),
            distinct_top1_results=len(set(top1_a.tolist())),
            worst_image=str(names[worst]) if names is not None and count else str(worst),
            tolerance=tolerance,
            enforced=enforced,
            require_top1=require_top1,
            precision=precision,
            top1_changes=tuple((str(names[i]) if names is not None else str(i), int(top1_b[i]), int(top1_a[i]))
                               for i in changed),
        )

    @property
    def batch(self) -> int:
        """Number of images compared (the export check's name for it)."""
        return self.images

    @property
    def passed(self) -> bool:
        """Enforced: the worst image within tolerance (and the same top-1 where required); else always."""
        if not self.enforced:
            return True
        return self.max_relative_error < self.tolerance and (not self.require_top1 or self.top1_agreement == 1.0)

    def _verdict(self) -> str:
        if not self.enforced:
            return f"(fp32 tol {self.tolerance:.0e} not applied) reported only ({self.precision})"
        return f"(< {self.tolerance:.0e}) OK" if self.passed else f"(not < {self.tolerance:.0e}) FAILED"

    def line(self, items: str = "photo-like images") -> str:
        """Short form: ``<subject> on N <items>: rel err X (< tol) OK``."""
        return f"{self.subject} on {self.images} {items}: rel err {self.max_relative_error:.1e} {self._verdict()}"

    def one_line(self) -> str:
        """Long form with every figure (the fidelity step's summary)."""
        if self.enforced:
            verdict = f"{'PASS' if self.passed else 'FAIL'} (tol {self.tolerance:.0e})"
        else:
            verdict = self._verdict()
        return (
            f"{self.subject} on {self.images} images ({self.precision}): top-1 agree "
            f"{100 * self.top1_agreement:.2f} %, top-5 agree {100 * self.top5_agreement:.2f} %, "
            f"max rel err {self.max_relative_error:.2e}, max abs err {self.max_abs_error:.2e}, "
            f"min cosine {self.min_cosine_similarity:.6f}, distinct top-1 "
            f"{self.distinct_top1_results}/{self.distinct_top1_reference} (results/reference): {verdict}"
        )

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "Agreement":
        """The report :meth:`to_dict` wrote (other keys are ignored); KeyError, TypeError or ValueError when it
        is not one."""
        values: Dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "top1_changes":
                values[f.name] = tuple((str(c["image"]), int(c["reference"]), int(c["result"]))
                                       for c in record.get(f.name, ()))
            elif f.name in record:
                kind = {"int": int, "float": float, "str": str, "bool": bool}.get(str(f.type))
                values[f.name] = kind(record[f.name]) if kind is not None else record[f.name]
        return cls(**values)

    def to_dict(self) -> Dict[str, object]:
        """JSON-ready record, verdict included."""
        record = asdict(self)
        record["top1_changes"] = [{"image": image, "reference": ref, "result": got}
                                  for image, ref, got in self.top1_changes]
        return {**record, "tolerance_relative": self.tolerance, "passed": self.passed}

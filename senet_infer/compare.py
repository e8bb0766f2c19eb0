"""Numeric agreement between two outputs; numpy only, so comparing never imports a framework."""

from __future__ import annotations

import numpy as np


def relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """‖a − b‖ / ‖b‖ over the whole array (float64)."""
    a = np.asarray(actual, np.float64)
    b = np.asarray(reference, np.float64)
    denom = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom else float(np.linalg.norm(a - b))

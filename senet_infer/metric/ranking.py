"""Top-k arithmetic: the rank of each image's label among its scores, and the top classes of each row."""

from __future__ import annotations

import numpy as np

TOP_K = 5
RANK_CHUNK_ROWS = 4096  # bounds the temporary boolean arrays of the ranking to ~4 MB per 1000 classes

def label_ranks(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of each row's label in that row, as a stable descending argsort would place it.

    Counting the classes that beat the label (higher score, or equal score and lower index) gives
    exactly ``np.argsort(-row, kind="stable").tolist().index(label)`` without sorting anything, so
    ties (common in fp16 or ``%f``-rounded TXT results) resolve the same way whatever the row order
    or chunking, and on tie-free rows every full argsort agrees with it.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"need logits [N, C] and labels [N], got {logits.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]})")
    columns = np.arange(logits.shape[1])
    ranks = np.empty(labels.shape, np.int64)
    for lo in range(0, len(labels), RANK_CHUNK_ROWS):
        block = logits[lo : lo + RANK_CHUNK_ROWS]
        lab = labels[lo : lo + RANK_CHUNK_ROWS]
        score = block[np.arange(len(lab)), lab][:, None]
        beaten = np.count_nonzero(block > score, axis=1)
        tied_before = np.count_nonzero((block == score) & (columns < lab[:, None]), axis=1)
        ranks[lo : lo + len(lab)] = beaten + tied_before
    return ranks


def topk_hits(logits: np.ndarray, labels: np.ndarray, k_max: int = TOP_K) -> list[int]:
    """Number of rows whose label is among the top k scores, for k = 1 .. k_max."""
    ranks = label_ranks(logits, labels)
    per_rank = np.bincount(np.minimum(ranks, k_max), minlength=k_max + 1)
    return [int(v) for v in np.cumsum(per_rank)[:k_max]]


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k_max: int = TOP_K) -> list[float]:
    """Fraction (0..1) of rows whose label is among the top k scores, for k = 1 .. k_max."""
    n = len(labels)
    if n == 0:
        raise ValueError("no rows to score")
    return [hits / n for hits in topk_hits(logits, labels, k_max)]


def top_classes(logits: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """[N, k] column indices of the k highest scores per row; equal scores in column order (as :func:`label_ranks`)."""
    out = np.empty((logits.shape[0], min(k, logits.shape[1])), np.int64)
    for lo in range(0, logits.shape[0], RANK_CHUNK_ROWS):
        block = logits[lo : lo + RANK_CHUNK_ROWS]
        out[lo : lo + len(block)] = np.argsort(-block, axis=1, kind="stable")[:, : out.shape[1]]
    return out

"""Step 5's top-k arithmetic: the label's rank as a stable argsort places it, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from senet_infer.metric import ranking


def test_ranks_equal_stable_argsort_with_ties_and_any_argsort_without() -> None:
    rng = np.random.default_rng(3)
    tied = rng.integers(0, 4, size=(300, 9)).astype(np.float32)  # many ties
    labels = rng.integers(0, 9, size=300)
    want = [np.argsort(-row, kind="stable").tolist().index(lab) for row, lab in zip(tied, labels)]
    assert ranking.label_ranks(tied, labels).tolist() == want
    distinct = rng.standard_normal((300, 50)).astype(np.float32)
    want = [np.argsort(-row).tolist().index(lab) for row, lab in zip(distinct, labels)]
    assert ranking.label_ranks(distinct, labels).tolist() == want
    fractions = ranking.topk_accuracy(distinct, labels, k_max=5)
    assert fractions == [np.mean(np.array(want) < k) for k in range(1, 6)]


def test_ranks_independent_of_row_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    logits = rng.integers(0, 3, size=(50, 6)).astype(np.float32)
    labels = rng.integers(0, 6, size=50)
    whole = ranking.label_ranks(logits, labels)
    monkeypatch.setattr(ranking, "RANK_CHUNK_ROWS", 7)
    assert ranking.label_ranks(logits, labels).tolist() == whole.tolist()


def test_top_classes_keep_column_order_on_ties_and_hits_count_per_k() -> None:
    logits = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], np.float32)
    assert ranking.top_classes(logits, k=3).tolist() == [[1, 2, 0], [0, 1, 2]]
    assert ranking.top_classes(logits[:, :2]).shape == (2, 2)  # fewer classes than k
    assert ranking.topk_hits(logits, np.array([2, 3]), k_max=4) == [0, 1, 1, 2]

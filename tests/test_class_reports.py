"""Class names where people read results: the weakest classes, the classes whose top-1 changed against PyTorch,
and the note on a chance-level top-1 that points at the label order rather than the weights."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from senet_infer.agreement import Agreement
from senet_infer.driver.actions import labels_sanity_note, top1_changes_line
from senet_infer.metric import Prediction, lowest_classes


def predictions(count: int, correct: int) -> list[Prediction]:
    return [Prediction(f"ILSVRC2012_val_{i + 1:08d}.JPEG", i % 1000, "", (0,), i < correct, i < correct)
            for i in range(count)]


def test_chance_level_top1_with_real_weights_points_at_the_label_order() -> None:
    real, demo = SimpleNamespace(demo_weights=False), SimpleNamespace(demo_weights=True)
    note = labels_sanity_note(real, predictions(500, 4))  # 0.8 %
    assert note is not None
    for needle in ("0.80 % on 500 images", "fidelity step passes", "weights", "ILSVRC2012_ID", "ImageFolder",
                   "counting classes from 1", "prepare_imagenet.py"):
        assert needle in note, needle
    assert "with every label one lower" not in note
    assert labels_sanity_note(real, predictions(500, 5)) is None  # 1 %: not chance level
    assert labels_sanity_note(real, predictions(499, 0)) is None  # too few images to say
    assert labels_sanity_note(demo, predictions(500, 0)) is None  # random weights: chance is expected


def test_labels_counting_from_1_are_named_when_the_model_predicts_one_class_below() -> None:
    """A 1-based label file: the model's top-1 is the label minus one on most images."""
    real = SimpleNamespace(demo_weights=False)
    rows = [Prediction(f"ILSVRC2012_val_{i + 1:08d}.JPEG", i % 999 + 1, "", ((i % 999) if i % 4 else 5,), False,
                       False) for i in range(600)]
    note = labels_sanity_note(real, rows)
    assert note is not None and "with every label one lower top-1 would be 75.00 %" in note
    assert "the label file counts classes from 1" in note


def test_fidelity_names_the_classes_whose_top1_changed() -> None:
    reference = np.zeros((4, 1000), np.float32)
    reference[np.arange(4), [0, 1, 7, 999]] = 5.0
    actual = reference.copy()
    actual[2, 999] = 6.0  # image c: cock (7) -> toilet tissue (999)
    report = Agreement.from_logits(actual, reference, tolerance=1e-4, subject="fidelity vs PyTorch fp32",
                                   names=["a", "b", "c", "d"])
    assert report.top1_changes == (("c", 7, 999),)
    assert report.to_dict()["top1_changes"] == [{"image": "c", "reference": 7, "result": 999}]
    line = top1_changes_line(report)
    assert line == "top-1 changed on 1 of 4 images (PyTorch -> results): c: cock (7) -> toilet tissue (999)"
    assert top1_changes_line(Agreement.from_logits(reference, reference, tolerance=1e-4, subject="x")) is None


def test_lowest_classes_are_the_weakest_with_their_names() -> None:
    rows = [Prediction("a", 3, "tiger shark", (3,), True, True), Prediction("b", 3, "tiger shark", (1,), False, True),
            Prediction("c", 8, "hen", (1,), False, False), Prediction("d", 9, "ostrich", (9,), True, True)]
    lowest = lowest_classes(rows, 2)
    assert [(c.cls, c.correct, c.images) for c in lowest] == [(8, 0, 1), (3, 1, 2)]
    assert lowest[1].describe() == "class 3 (tiger shark): 1 of 2 images, 50.0 %"

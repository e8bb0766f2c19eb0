"""The one agreement report, and the fidelity step's subset selection and int8-aware verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from senet_infer.agreement import Agreement
from senet_infer.aipp import parse_aipp_config
from senet_infer.fidelity import FP32_RELATIVE_TOLERANCE, compare_with_pytorch, pytorch_logits, select_images
from senet_infer.fileio import stem_of, write_result


def logits(seed: int, images: int = 6, classes: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((images, classes)).astype(np.float32) * 3


def test_identical_logits_agree_completely() -> None:
    a = logits(0)
    report = Agreement.from_logits(a, a.copy(), tolerance=1e-5, subject="same")
    assert report.passed and report.relative_error == 0 and report.max_abs_error == 0
    assert report.top1_agreement == report.top5_agreement == 1.0 and report.same_top1 == 6
    assert report.min_cosine_similarity == pytest.approx(1.0)
    assert report.line().startswith("same on 6 photo-like images: rel err 0.0e+00 (< 1e-05) OK")


def test_figures_are_per_image() -> None:
    ref = logits(1)
    act = ref.copy()
    act[2] = -ref[2]  # one image flipped: cosine -1, relative error 2, its top-1 differs
    report = Agreement.from_logits(act, ref, tolerance=1e-4, subject="x", names=[f"im{i}" for i in range(6)],
                                   require_top1=True)
    assert report.max_relative_error == pytest.approx(2.0) and report.worst_image == "im2"
    assert report.min_cosine_similarity == pytest.approx(-1.0)
    assert report.top1_agreement == pytest.approx(5 / 6) and not report.passed
    assert report.to_dict()["passed"] is False and "FAIL" in report.one_line()


def test_reduced_precision_is_reported_not_failed() -> None:
    ref = logits(2)
    act = ref + 0.05 * logits(3)
    strict = Agreement.from_logits(act, ref, tolerance=1e-4, subject="x")
    reported = Agreement.from_logits(act, ref, tolerance=1e-4, subject="x", enforced=False, precision="int8")
    assert not strict.passed and reported.passed
    assert reported.max_relative_error == strict.max_relative_error
    assert "reported only (int8)" in reported.one_line()


def test_top1_required_only_where_asked() -> None:
    ref = np.array([[1.0, 1.0000001, 0.0]])
    act = np.array([[1.0000001, 1.0, 0.0]])
    assert Agreement.from_logits(act, ref, tolerance=1e-4, subject="x").passed
    assert not Agreement.from_logits(act, ref, tolerance=1e-4, subject="x", require_top1=True).passed


@pytest.mark.parametrize("count, limit, all_images, expected", [
    (10, None, False, list(range(10))),
    (10, 20, False, list(range(10))),
    (10, 3, False, [0, 4, 9]),  # evenly spaced, both ends
    (10, 1, False, [0]),
    (5000, None, True, list(range(5000))),
])
def test_select_images(count: int, limit, all_images: bool, expected: list) -> None:
    assert select_images(count, limit, all_images) == expected


def test_large_sets_get_an_evenly_spaced_default_subset() -> None:
    picks = select_images(50_000)
    assert len(picks) == 500 and picks[0] == 0 and picks[-1] == 49_999
    gaps = np.diff(picks)
    assert gaps.min() >= 99 and gaps.max() <= 101


@pytest.fixture(scope="module")
def reference(demo_model, bin_dir: Path) -> np.ndarray:
    (aipp,) = parse_aipp_config(REPO / "aipp_SE_ResNet50_pth.config")
    return pytorch_logits(demo_model, sorted(bin_dir.glob("*.bin")), aipp, batch=5)


def fake_results(folder: Path, bin_dir: Path, values: np.ndarray) -> Path:
    folder.mkdir()
    for path, row in zip(sorted(bin_dir.glob("*.bin")), values):
        write_result(folder / f"{stem_of(path)}_0.txt", row[None, :].astype(np.float32), "TXT")
    return folder


def test_batched_reference_equals_one_by_one(demo_model, bin_dir: Path, reference: np.ndarray) -> None:
    (aipp,) = parse_aipp_config(REPO / "aipp_SE_ResNet50_pth.config")
    first = sorted(bin_dir.glob("*.bin"))[:2]
    single = np.concatenate([pytorch_logits(demo_model, [p], aipp, batch=1) for p in first])
    assert np.abs(single - reference[:2]).max() / np.abs(reference[:2]).max() < 1e-5


def test_fidelity_fp32_fails_beyond_tolerance_int8_reports(demo_checkpoint: Path, bin_dir: Path,
                                                            reference: np.ndarray, tmp_path: Path) -> None:
    (aipp,) = parse_aipp_config(REPO / "aipp_SE_ResNet50_pth.config")
    noisy = reference + 0.02 * np.abs(reference).mean() * np.random.default_rng(0).standard_normal(reference.shape)
    results = fake_results(tmp_path / "noisy", bin_dir, noisy)
    fp32 = compare_with_pytorch(demo_checkpoint, bin_dir, results, aipp, precision="fp32", limit=4)
    int8 = compare_with_pytorch(demo_checkpoint, bin_dir, results, aipp, precision="int8", limit=4)
    assert fp32.images == int8.images == 4
    assert fp32.max_relative_error > FP32_RELATIVE_TOLERANCE and not fp32.passed
    assert int8.passed and int8.to_dict()["enforced"] is False and int8.precision == "int8"
    exact = compare_with_pytorch(demo_checkpoint, bin_dir, fake_results(tmp_path / "exact", bin_dir, reference), aipp)
    assert exact.passed and exact.images == len(reference) and exact.max_relative_error < 1e-5

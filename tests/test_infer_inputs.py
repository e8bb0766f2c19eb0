"""File-mode input planning (``senet_infer.infer.inputs``) in-process: listing, pairing, sizes, batches, shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from senet_infer.backends import TensorInfo
from senet_infer.errors import PipelineError
from senet_infer.infer.inputs import group_inputs, plan_inputs, read_batches

SAMPLE = (8, 8, 3)  # one uint8 "image" per file


def write_bins(folder: Path, count: int, seed: int = 0, shape: tuple = SAMPLE, prefix: str = "img") -> dict:
    """``count`` seeded uint8 files ``<prefix><i>.bin``; returns {stem: array}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(count):
        array = rng.integers(0, 256, shape, dtype=np.uint8)
        (folder / f"{prefix}{i}.bin").write_bytes(array.tobytes())
        data[f"{prefix}{i}"] = array
    return data


def image(batch: int, name: str = "image", shape: tuple = SAMPLE, dtype: type = np.uint8) -> TensorInfo:
    return TensorInfo(name, (batch, *shape), np.dtype(dtype))


def test_short_last_batch_is_padded_with_its_first_file(tmp_path: Path) -> None:
    """ais_bench pads the last batch with copies of that batch's first file (37 = 32 + 5 + 27 copies)."""
    folder = tmp_path / "in"
    data = write_bins(folder, 37, seed=1)
    info = image(32)
    plan = plan_inputs([str(folder)], [info])
    assert plan.files_per_batch == 32 and plan.num_batches == 2
    assert plan.stems == [f"img{i}" for i in range(37)]  # natural order: img2 before img10
    (first, lo0, real0), (last, lo1, real1) = read_batches(plan, [info])
    assert (lo0, real0, lo1, real1) == (0, 32, 32, 5)
    np.testing.assert_array_equal(first["image"][10], data["img10"])
    np.testing.assert_array_equal(last["image"][:5], np.stack([data[f"img{i}"] for i in range(32, 37)]))
    np.testing.assert_array_equal(last["image"][5:], np.broadcast_to(data["img32"], (27, *SAMPLE)))


def test_a_file_holding_a_whole_batch_is_one_file_per_batch(tmp_path: Path) -> None:
    write_bins(tmp_path / "in", 3, shape=(4, *SAMPLE))
    plan = plan_inputs([str(tmp_path / "in")], [image(4)])
    assert (plan.files_per_batch, plan.num_batches, plan.num_inputs) == (1, 3, 3)


def test_npy_inputs_are_read_without_their_header(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    arrays = [np.full((1, 2), i, dtype=np.float32) for i in range(3)]
    for i, a in enumerate(arrays):
        np.save(folder / f"x{i}.npy", a)
    info = TensorInfo("x", (2, 2), np.dtype(np.float32))
    plan = plan_inputs([str(folder)], [info])
    batches = list(read_batches(plan, [info]))
    assert [(lo, real) for _, lo, real in batches] == [(0, 2), (2, 1)]
    np.testing.assert_array_equal(batches[1][0]["x"], np.full((2, 2), 2, dtype=np.float32))  # padded with x2


def test_npy_of_another_dtype_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "x.npy", np.zeros((1, 2), dtype=np.float64))
    with pytest.raises(PipelineError, match=r"x\.npy: \.npy holds float64, but model input 'x' is float32"):
        plan_inputs([str(tmp_path / "in")], [TensorInfo("x", (1, 2), np.dtype(np.float32))])


def test_folders_pair_by_position_and_file_lists_are_cut_into_blocks(tmp_path: Path) -> None:
    write_bins(tmp_path / "a", 3, prefix="a")
    write_bins(tmp_path / "b", 3, prefix="b")
    groups = group_inputs([str(tmp_path / "a"), str(tmp_path / "b")], 2)
    assert [[Path(p).name for p in g] for g in groups] == [["a0.bin", "a1.bin", "a2.bin"], ["b0.bin", "b1.bin", "b2.bin"]]
    files = [str(tmp_path / "a" / f"a{i}.bin") for i in range(3)] + [str(tmp_path / "b" / f"b{i}.bin") for i in range(3)]
    assert group_inputs(files, 2) == [files[:3], files[3:]]


@pytest.mark.parametrize("case, message", [
    ("missing", r"nowhere: input not found"),
    ("mixed", r"--input mixes folders and files"),
    ("folders", r"--input gives 1 folders but the model has 2 inputs \(x, y\): one folder per input"),
    ("files", r"--input gives 3 files for a model with 2 inputs"),
    ("counts", r"--input: the model inputs get different numbers of files: \[2, 1\]"),
    ("empty", r"empty: no \.bin or \.npy files"),
])
def test_grouping_errors_name_what_is_wrong(tmp_path: Path, case: str, message: str) -> None:
    write_bins(tmp_path / "a", 2)
    write_bins(tmp_path / "b", 1)
    (tmp_path / "empty").mkdir()
    a, b, one = str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "a" / "img0.bin")
    entries = {"missing": ([str(tmp_path / "nowhere")], 1), "mixed": ([a, one], 2), "folders": ([a], 2),
               "files": ([one, one, one], 2), "counts": ([a, b], 2), "empty": ([str(tmp_path / "empty")], 1)}[case]
    with pytest.raises(PipelineError, match=message):
        group_inputs(*entries, names=["x", "y"])


def test_sizes_are_checked_before_running(tmp_path: Path) -> None:
    write_bins(tmp_path / "in", 2)
    (tmp_path / "in" / "img2.bin").write_bytes(b"\0" * 5)
    with pytest.raises(PipelineError, match=r"img2\.bin: 5 bytes, unlike the 192 bytes of img0\.bin"):
        plan_inputs([str(tmp_path / "in")], [image(2)])
    with pytest.raises(PipelineError, match=r"192 bytes does not divide the 1280-byte batch of model input image uint8 \[5,8,8,4\]"):
        plan_inputs([str(tmp_path / "in" / "img0.bin")], [image(5, shape=(8, 8, 4))])


def test_two_inputs_needing_different_files_per_batch_are_refused(tmp_path: Path) -> None:
    write_bins(tmp_path / "a", 2)
    write_bins(tmp_path / "b", 2)
    with pytest.raises(PipelineError, match=r"different numbers of files per batch: \[1, 2\]"):
        plan_inputs([str(tmp_path / "a"), str(tmp_path / "b")], [image(2, "x"), image(1, "y")])


def test_two_files_with_the_same_result_name_are_refused(tmp_path: Path) -> None:
    write_bins(tmp_path / "a", 1)
    np.save(tmp_path / "a" / "img0.npy", np.zeros(SAMPLE, dtype=np.uint8))
    with pytest.raises(PipelineError, match=r"same result name 'img0'"):
        plan_inputs([str(tmp_path / "a")], [image(1)])


def test_device_shares_are_consecutive_blocks(tmp_path: Path) -> None:
    write_bins(tmp_path / "in", 7)
    plan = plan_inputs([str(tmp_path / "in")], [image(2)])
    shares = [plan.share(part, 3) for part in range(3)]
    assert [s.stems for s in shares] == [["img0", "img1", "img2"], ["img3", "img4", "img5"], ["img6"]]
    assert [s.num_batches for s in shares] == [2, 2, 1]
    assert plan.share(3, 4).num_inputs == 1 and plan.share(1, 8).num_inputs == 1 and plan.share(7, 8).num_inputs == 0

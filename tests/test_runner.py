"""``ais_infer.py`` run as a user would: ais_bench's batching, padding, names, formats, summary and errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_script
from senet_infer.compare import relative_error
from senet_infer.fileio import read_result
from test_backends import make_onnx, reference

THROUGHPUT_LINE = re.compile(
    r"^\[INFO\] throughput 1000\*batchsize\.mean\((\d+)\)/NPU_compute_time\.mean\(([\d.]+)\): ([\d.]+)$", re.M
)
COMPUTE_LINE = re.compile(
    r"^\[INFO\] NPU_compute_time \(ms\): min = [\d.]+, max = [\d.]+, mean = [\d.]+, median = [\d.]+, "
    r"percentile\(99%\) = [\d.]+$", re.M
)
SAMPLE = (8, 8, 3)  # one uint8 "image" per file for the small models


def write_bins(folder: Path, count: int, seed: int, shape: tuple[int, ...] = SAMPLE,
               dtype: type = np.uint8, prefix: str = "img") -> dict[str, np.ndarray]:
    """``count`` seeded input files ``<prefix><i>.bin``; returns {stem: array}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(count):
        if np.issubdtype(dtype, np.floating):
            array = rng.standard_normal(shape).astype(dtype)
        else:
            array = rng.integers(0, 256, shape, dtype=dtype)
        (folder / f"{prefix}{i}.bin").write_bytes(array.tobytes())
        data[f"{prefix}{i}"] = array
    return data


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of a folder (hidden ones too) with its SHA-256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def assert_user_error(proc, *fragments: str) -> None:
    """Exit 2, one ``error:`` line naming what is wrong, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture(scope="module")
def bs32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """Static uint8 [32,8,8,3] -> float32 [32,10]."""
    path = tmp_path_factory.mktemp("model") / "small_bs32.onnx"
    return path, make_onnx(path, shape=(32, *SAMPLE))


@pytest.fixture(scope="module")
def inputs37(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("data") / "bins"
    return folder, write_bins(folder, 37, seed=3)


@pytest.mark.parametrize("fmt,backend", [("BIN", "onnxruntime"), ("NPY", "openvino"), ("TXT", "onnxruntime"),
                                         ("TXT", "openvino")])
def test_37_files_at_batch_32(fmt: str, backend: str, bs32, inputs37, tmp_path: Path) -> None:
    model, weights = bs32
    folder, data = inputs37
    before = snapshot(folder)
    proc = run_script("ais_infer.py", "--model", model, "--batchsize", "32", "--input", folder, "--output", tmp_path,
                      "--output_dirname", "result", f"--outfmt={fmt}", "--backend", backend, cwd=tmp_path)

    result = tmp_path / "result"
    ext = fmt.lower()
    assert sorted(p.name for p in result.iterdir()) == sorted(f"img{i}_0.{ext}" for i in range(37))
    for stem, array in data.items():
        got = read_result(result / f"{stem}_0.{ext}", num_classes=10)
        # each result equals the file run alone; TXT keeps 6 decimals
        np.testing.assert_allclose(got, reference(array[None], weights)[0], rtol=1e-5, atol=1e-3)
    if fmt == "NPY":
        assert np.load(result / "img0_0.npy").shape == (1, 10)
    if fmt == "TXT":
        line = (result / "img0_0.txt").read_text()
        assert re.fullmatch(r"(-?\d+\.\d{6} ){10}\n", line), line
    assert snapshot(folder) == before

    summary_path = tmp_path / "result_summary.json"
    assert summary_path.is_file() and not list(result.glob("*.json"))
    summary = json.loads(summary_path.read_text())
    compute = summary["NPU_compute_time"]
    assert set(compute) == {"min_ms", "max_ms", "mean_ms", "median_ms", "percentile99_ms", "count"}
    assert compute["count"] == 2 and 0 < compute["min_ms"] <= compute["median_ms"] <= compute["max_ms"]
    assert summary["batchsize"] == 32 and summary["num_inputs"] == 37 and summary["files_per_batch"] == 32
    assert summary["throughput_images_per_s"] == pytest.approx(32_000 / compute["mean_ms"])
    assert isinstance(summary["end_to_end_images_per_s"], float) and summary["end_to_end_images_per_s"] > 0
    assert summary["backend"]["name"] == backend and summary["backend"]["precision"] == "fp32"
    assert summary["args"]["outfmt"] == fmt and summary["args"]["loop"] == 1
    assert summary["result_dir"] == str(result) and summary["mode"] == "file"

    (match,) = THROUGHPUT_LINE.findall(proc.stdout)
    assert match[0] == "32" and float(match[1]) == pytest.approx(compute["mean_ms"], abs=1e-4)
    assert COMPUTE_LINE.search(proc.stdout) and "end-to-end images/s" in proc.stdout


def test_short_last_batch_is_padded_with_its_first_file(inputs37) -> None:
    """ais_bench pads the last batch with copies of that batch's first file (37 = 32 + 5 + 27 copies)."""
    from senet_infer.backends import TensorInfo
    from senet_infer.runner import plan_inputs, read_batches

    folder, data = inputs37
    info = TensorInfo("image", (32, *SAMPLE), np.dtype(np.uint8))
    plan = plan_inputs([str(folder)], [info], 32)
    assert plan.files_per_batch == 32 and plan.num_batches == 2
    assert plan.stems == [f"img{i}" for i in range(37)]  # natural order: img2 before img10
    (first, lo0, real0), (last, lo1, real1) = read_batches(plan, [info], 32)
    assert (lo0, real0, lo1, real1) == (0, 32, 32, 5)
    np.testing.assert_array_equal(first["image"][10], data["img10"])
    np.testing.assert_array_equal(last["image"][:5], np.stack([data[f"img{i}"] for i in range(32, 37)]))
    np.testing.assert_array_equal(last["image"][5:], np.broadcast_to(data["img32"], (27, *SAMPLE)))


def test_two_outputs_npy_inputs_and_files_holding_whole_batches(tmp_path: Path) -> None:
    model = tmp_path / "two.onnx"
    weights = make_onnx(model, shape=(4, *SAMPLE), two_outputs=True)
    folder = tmp_path / "npys"
    folder.mkdir()
    rng = np.random.default_rng(5)
    arrays = {f"x{i}": rng.integers(0, 256, SAMPLE, dtype=np.uint8) for i in range(6)}
    for stem, array in arrays.items():
        np.save(folder / f"{stem}.npy", array)
    (folder / ".x9.npy.tmp").write_bytes(b"half-written")  # another step's temp file: skipped
    run_script("ais_infer.py", "-m", model, "-i", folder, "-o", tmp_path / "out", "--output_dirname", "r",
               "--outfmt", "NPY", "--backend", "onnxruntime")
    result = tmp_path / "out" / "r"
    assert len(list(result.iterdir())) == 12
    for stem, array in arrays.items():
        logits = np.load(result / f"{stem}_0.npy")
        total = np.load(result / f"{stem}_1.npy")
        assert logits.shape == (1, 10) and total.shape == (1, 1)
        np.testing.assert_allclose(logits[0], reference(array[None], weights)[0], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(total[0, 0], logits.sum(), rtol=1e-5, atol=1e-3)

    # one file = one whole batch of 4: each result is the whole [4,10] output
    whole = tmp_path / "whole"
    batches = write_bins(whole, 3, seed=6, shape=(4, *SAMPLE))
    run_script("ais_infer.py", "-m", model, "-i", whole, "-o", tmp_path / "out", "--output_dirname", "w",
               "--outfmt", "NPY", "--backend", "onnxruntime")
    for stem, array in batches.items():
        np.testing.assert_allclose(np.load(tmp_path / "out" / "w" / f"{stem}_0.npy"), reference(array, weights),
                                   rtol=1e-5, atol=1e-3)


def test_dynamic_batch_uses_batchsize(tmp_path: Path) -> None:
    model = tmp_path / "dynamic.onnx"
    weights = make_onnx(model, shape=(None, 3, 4, 4), dtype=np.float32)
    data = write_bins(tmp_path / "in", 5, seed=8, shape=(3, 4, 4), dtype=np.float32)
    for backend in ("onnxruntime", "openvino"):
        proc = run_script("ais_infer.py", "--model", model, "--batchsize=2", "--input", tmp_path / "in",
                          "--output", tmp_path, f"--output_dirname={backend}", "--backend", backend)
        summary = json.loads((tmp_path / f"{backend}_summary.json").read_text())
        assert summary["batchsize"] == 2 and summary["NPU_compute_time"]["count"] == 3
        assert "batchsize.mean(2)" in proc.stdout
        for stem, array in data.items():
            got = read_result(tmp_path / backend / f"{stem}_0.bin", num_classes=10)
            np.testing.assert_allclose(got, reference(array[None], weights)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("data_type", ["zero", "random"])
def test_pure_mode(data_type: str, bs32, tmp_path: Path) -> None:
    model, _ = bs32
    proc = run_script("ais_infer.py", f"--model={model}", "--loop=5", "--batchsize=32",
                      f"--pure_data_type={data_type}", "--warmup_count", "2", "--output", tmp_path / "perf",
                      "--output_dirname", "bs32", "--annotate", "warning=DEMO weights", "--annotate", "note=a=b",
                      "--device", "0,1", cwd=tmp_path)
    (match,) = THROUGHPUT_LINE.findall(proc.stdout)
    summary = json.loads((tmp_path / "perf" / "bs32_summary.json").read_text())
    assert sorted(p.name for p in (tmp_path / "perf").iterdir()) == ["bs32_summary.json"]
    assert summary["NPU_compute_time"]["count"] == 5 and summary["mode"] == "pure" and summary["num_inputs"] == 0
    assert summary["warning"] == "DEMO weights" and summary["note"] == "a=b"
    assert summary["args"]["pure_data_type"] == data_type and summary["args"]["device"] == [0, 1]
    assert float(match[2]) == pytest.approx(summary["throughput_images_per_s"], rel=1e-6, abs=1e-3)

    # without --output: printed only, nothing written
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_script("ais_infer.py", "--model", model, "--loop", "3", cwd=plain)
    assert THROUGHPUT_LINE.search(proc.stdout) and COMPUTE_LINE.search(proc.stdout)
    assert "[INFO] backend auto:" in proc.stdout
    assert list(plain.iterdir()) == []


def test_timestamp_dirname_loop_and_overwrite(bs32, tmp_path: Path) -> None:
    model, weights = bs32
    data = write_bins(tmp_path / "in", 3, seed=9)
    run_script("ais_infer.py", "-m", model, "-i", tmp_path / "in", "-o", tmp_path / "out", "-l", "4",
               "--backend", "onnxruntime")
    (folder,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert re.fullmatch(r"\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d", folder.name)
    summary = json.loads((tmp_path / "out" / f"{folder.name}_summary.json").read_text())
    assert summary["NPU_compute_time"]["count"] == 4 and len(list(folder.iterdir())) == 3

    result = tmp_path / "out" / "result"
    result.mkdir()
    (result / "img0_0.bin").write_bytes(b"garbage")
    (result / "old_0.bin").write_bytes(b"from an earlier run")
    proc = run_script("ais_infer.py", "-m", model, "-i", tmp_path / "in", "-o", tmp_path / "out",
                      "--output_dirname", "result", "--backend", "onnxruntime")
    got = read_result(result / "img0_0.bin", num_classes=10)
    np.testing.assert_allclose(got, reference(data["img0"][None], weights)[0], rtol=1e-5, atol=1e-3)
    assert "1 files from an earlier run were not replaced" in proc.stdout


def test_om_without_ascend_toolkit(tmp_path: Path) -> None:
    om = tmp_path / "se_resnet50_fp16_bs32.om"
    om.write_bytes(b"om")
    proc = run_script("ais_infer.py", "--model", om, "--batchsize", "32", check=False)
    assert_user_error(proc, str(om), "Ascend toolkit (CANN + ais_bench)", "aipp_convert.py")


def test_om_is_handed_to_the_real_ais_bench(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "ais_bench"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    record = tmp_path / "argv.json"
    (fake / "__main__.py").write_text(
        "import json, os, sys\n"
        "json.dump(sys.argv[1:], open(os.environ['AIS_BENCH_RECORD'], 'w'))\n"
        "sys.exit(3)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "AIS_BENCH_RECORD": str(record)}
    args = ["--model", "./m.om", "--batchsize", "32", "--input", "./data/ImageNet_bin", "--output", "./",
            "--backend", "openvino", "--output_dirname", "result", "--threads=2", "--outfmt", "TXT",
            "--annotate", "warning=x", "--loop=20", "--display_all_summary", "True"]
    proc = run_script("ais_infer.py", *args, cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(record.read_text()) == [
        "--model", "./m.om", "--batchsize", "32", "--input", "./data/ImageNet_bin", "--output", "./",
        "--output_dirname", "result", "--outfmt", "TXT", "--loop=20", "--display_all_summary", "True",
    ]


def test_user_errors_are_one_line(bs32, tmp_path: Path) -> None:
    model, _ = bs32
    out = tmp_path / "out"

    def run(*args: object):
        return run_script("ais_infer.py", "--model", model, "--backend", "onnxruntime", *args, check=False)

    wrong = tmp_path / "wrong"
    write_bins(wrong, 3, seed=1, shape=(8, 8, 5))  # 320 bytes does not divide 32*192
    assert_user_error(run("--input", wrong, "--output", out), str(wrong / "img0.bin"), "320 bytes does not divide")

    mixed = tmp_path / "mixed"
    write_bins(mixed, 3, seed=1)
    write_bins(mixed, 1, seed=2, shape=(4, 8, 3), prefix="small")
    assert_user_error(run("--input", mixed, "--output", out), str(mixed / "small0.bin"), "96 bytes",
                      "must have the same size")

    other = tmp_path / "other"
    write_bins(other, 1, seed=4)
    assert_user_error(run("--input", f"{mixed / 'img0.bin'},{other / 'img0.bin'}", "--output", out),
                      str(other / "img0.bin"), "same result name 'img0'")

    npy = tmp_path / "npy"
    npy.mkdir()
    np.save(npy / "a.npy", np.zeros(SAMPLE, np.float32))
    assert_user_error(run("--input", npy), str(npy / "a.npy"), "float32", "uint8")

    assert_user_error(run("--input", tmp_path / "missing"), str(tmp_path / "missing"), "not found")
    assert_user_error(run("--output_dirname", "result"), "--output_dirname requires --output")
    assert_user_error(run("--batchsize", "8"), "--batchsize 8", "batch size is 32")
    assert_user_error(run("--input", other, "--output", other / "sub"), "inside the input folder")
    assert_user_error(run("--annotate", "batchsize=3"), "'batchsize' is a summary field")
    assert not out.exists()
    assert_user_error(run_script("ais_infer.py", "--model", tmp_path / "none.onnx", check=False), "none.onnx",
                      "model not found")


def test_real_model_both_backends_match_pytorch(dynamic_onnx: Path, demo_model, tmp_path: Path) -> None:
    """Step 2's dynamic SE-ResNet50 at --batchsize 4 on 6 fp32 inputs: per image within 1e-5 of PyTorch."""
    import torch

    from senet_infer.model import calibration_batch

    images = calibration_batch(6, seed=21)
    folder = tmp_path / "fp32_bins"
    folder.mkdir()
    for i, image in enumerate(images.numpy()):
        (folder / f"photo_{i}.bin").write_bytes(image.tobytes())
    with torch.no_grad():
        expected = demo_model(images).numpy()
    for backend in ("onnxruntime", "openvino"):
        run_script("ais_infer.py", "--model", dynamic_onnx, "--batchsize", "4", "--input", folder,
                   "--output", tmp_path, "--output_dirname", backend, "--backend", backend, "--warmup_count", "0")
        for i in range(6):
            got = read_result(tmp_path / backend / f"photo_{i}_0.bin")
            assert relative_error(got, expected[i]) < 1e-5, (backend, i)
            assert got.argmax() == expected[i].argmax()
        summary = json.loads((tmp_path / f"{backend}_summary.json").read_text())
        assert summary["NPU_compute_time"]["count"] == 2 and summary["backend"]["name"] == backend


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

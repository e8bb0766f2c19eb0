"""``ais_infer.py`` against ais_bench's recorded behaviour: batching, padding, pairing of several inputs,
names, formats, summary, pure mode, several devices, the ``.om`` hand-off, and errors.

The vendor's behaviour is restated here from its sources (``ais_bench/infer``: ``io_oprations.py``,
``utils.py``, ``summary.py``, ``__main__.py``), not taken from this project's code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_backends import make_onnx, reference

import ais_infer
from conftest import REPO, run_script
from senet_infer.agreement import relative_error
from senet_infer.cli import run_main
from senet_infer.fileio import read_result
from senet_infer.summary import load_summary

THROUGHPUT_LINE = re.compile(
    r"^\[INFO\] throughput 1000\*batchsize\.mean\((\d+)\)/NPU_compute_time\.mean\(([\d.e-]+)\): ([\d.e-]+)$", re.M
)
STATS = r"\(ms\): min = [\d.e-]+, max = [\d.e-]+, mean = [\d.e-]+, median = [\d.e-]+, percentile\(99%\) = [\d.e-]+$"
COMPUTE_LINE = re.compile(r"^\[INFO\] NPU_compute_time " + STATS, re.M)
# ais_bench's summary.py: these keys, in this order; each statistics record with these keys.
VENDOR_KEYS = ["filesinfo", "args", "NPU_compute_time", "H2D_latency", "D2H_latency", "throughput",
               "npu_compute_time_list", "pid"]
VENDOR_STAT_KEYS = ["min", "max", "mean", "median", "percentile(99%)", "count"]
SAMPLE = (8, 8, 3)  # one uint8 "image" per file for the small models


# --------------------------------------------------------------------------- helpers

def write_bins(folder: Path, count: int, seed: int, shape: tuple = SAMPLE, dtype: type = np.uint8,
               prefix: str = "img") -> dict:
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


def snapshot(folder: Path) -> dict:
    """Every file of a folder (hidden ones too) with its SHA-256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def infer(capsys: pytest.CaptureFixture, *args: object) -> str:
    """Run ``ais_infer.py``'s main in this process; its stdout (asserts success)."""
    code = run_main(ais_infer.main, [str(a) for a in args], prog="ais_infer.py")
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return out


def user_error(capsys: pytest.CaptureFixture, *args: object) -> str:
    """Run main in this process expecting exit 2 and exactly one ``error:`` line; that line."""
    try:
        code = run_main(ais_infer.main, [str(a) for a in args], prog="ais_infer.py")
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    return errors[0]


def vendor_txt(array: np.ndarray) -> bytes:
    """ais_bench's ``save_data_to_files`` for TXT: rows of (-1, last dim), np.savetxt of the row as a
    column with newline " ", then b"\\n"; fmt "%f" for float16/32/64, "%d" otherwise (``get_ndata_fmt``)."""
    import io

    rows = array.reshape(-1, array.shape[-1])
    fmt = "%f" if rows.dtype in (np.float32, np.float16, np.float64) else "%d"
    buf = io.BytesIO()
    for row in rows:
        np.savetxt(buf, np.c_[row], fmt=fmt, newline=" ")
        buf.write(b"\n")
    return buf.getvalue()


def vendor_pairs(entries: list, n_inputs: int) -> list:
    """ais_bench's ``create_infileslist_from_inputs_list`` for files: ``list_split`` into blocks of
    len // n_inputs; sample i gets file i of each block."""
    chunk = len(entries) // n_inputs
    blocks = [entries[x:x + chunk] for x in range(0, len(entries), chunk)]
    return [list(files) for files in zip(*blocks)]


def vendor_device_shares(files: list, n_inputs: int, jobs: int) -> list:
    """ais_bench's ``split_inputs_new``: all files cut into n_inputs chunks of ceil(n / n_inputs), each
    chunk into ``jobs`` splits of ceil(len / jobs); device j gets split j of every chunk."""
    per = -(-len(files) // n_inputs)
    shares = [[] for _ in range(jobs)]
    for x in range(0, len(files), per):
        chunk = files[x:x + per]
        size = -(-len(chunk) // jobs)
        for j, y in enumerate(range(0, len(chunk), size)):
            shares[j].extend(chunk[y:y + size])
    return shares


def two_input_model(path: Path) -> None:
    """float32 a [1,4] and b [1,4] -> ``ab`` = concat(a, b) [1,8]: shows exactly which file fed which input."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["ab"], axis=1)], "pair",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def integer_model(path: Path) -> None:
    """uint8 x [2,5] -> ``as_int`` int32 [2,5] (x - 100) and ``top`` int64 [2] (argmax)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT32),
         helper.make_node("Sub", ["xi", "hundred"], ["as_int"]),
         helper.make_node("ArgMax", ["xi"], ["top"], axis=1, keepdims=0)],  # int32: ORT 1.10 has no uint8 ArgMax
        "ints",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 5])],
        [helper.make_tensor_value_info("as_int", TensorProto.INT32, [2, 5]),
         helper.make_tensor_value_info("top", TensorProto.INT64, [2])],
        [numpy_helper.from_array(np.array(100, np.int32), "hundred")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def bs32(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Static uint8 [32,8,8,3] -> float32 [32,10]."""
    path = tmp_path_factory.mktemp("model") / "small_bs32.onnx"
    return path, make_onnx(path, shape=(32, *SAMPLE))


@pytest.fixture(scope="module")
def inputs37(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("data") / "bins"
    return folder, write_bins(folder, 37, seed=3)


# --------------------------------------------------------------------------- file mode and the summary

@pytest.mark.parametrize("fmt,backend,hint", [("BIN", "onnxruntime", "throughput"), ("NPY", "openvino", "throughput"),
                                              ("TXT", "onnxruntime", "latency"), ("TXT", "openvino", "latency")])
def test_37_files_at_batch_32(fmt: str, backend: str, hint: str, bs32, inputs37, tmp_path: Path, capsys) -> None:
    model, weights = bs32
    folder, data = inputs37
    before = snapshot(folder)
    argv = ["--model", model, "--batchsize", "32", "--input", folder, "--output", tmp_path, "--output_dirname",
            "result", f"--outfmt={fmt}", "--backend", backend, "--hint", hint]
    out = infer(capsys, *argv)

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
        assert (result / "img3_0.txt").read_bytes() == vendor_txt(np.loadtxt(result / "img3_0.txt", ndmin=2)
                                                                  .astype(np.float32))
    assert snapshot(folder) == before

    summary_path = tmp_path / "result_summary.json"
    assert summary_path.is_file() and not list(result.glob("*.json"))
    raw = json.loads(summary_path.read_text())
    assert list(raw)[:8] == VENDOR_KEYS and list(raw)[8:] == ["senet_infer"]
    for key in ("NPU_compute_time", "H2D_latency", "D2H_latency"):
        assert list(raw[key]) == VENDOR_STAT_KEYS
    compute = raw["NPU_compute_time"]
    assert compute["count"] == 2 and 0 < compute["min"] <= compute["median"] <= compute["max"]
    assert raw["throughput"] == pytest.approx(32_000 / compute["mean"])
    assert raw["npu_compute_time_list"] == pytest.approx([compute["min"], compute["max"]] if
                                                         raw["npu_compute_time_list"][0] == compute["min"] else
                                                         [compute["max"], compute["min"]])
    assert raw["pid"] == os.getpid() and raw["args"][1:] == [str(a) for a in argv]
    # filesinfo: sample id -> infiles and outfiles joined as ais_bench joins them (os.path.join)
    assert list(raw["filesinfo"]) == [str(i) for i in range(37)]
    assert raw["filesinfo"]["36"] == {"infiles": [os.path.join(str(folder), "img36.bin")],
                                      "outfiles": [os.path.join(str(tmp_path), "result", f"img36_0.{ext}")]}
    extra = raw["senet_infer"]
    assert extra["backend"] == backend and extra["precision"] == "fp32" and extra["mode"] == "file"
    assert extra["batchsize"] == 32 and extra["num_inputs"] == 37 and extra["files_per_batch"] == 32
    assert extra["hint"] == hint and extra["requests"] >= 1 and extra["timing"]
    assert extra["options"]["outfmt"] == fmt and extra["other_files_in_result_dir"] == 0
    if backend == "openvino":  # outputs are copied out of the request's buffers: real D2H entries
        assert raw["D2H_latency"]["count"] == 2 and raw["H2D_latency"]["count"] == 0
    else:
        assert raw["D2H_latency"]["count"] == 0 and "zeros" in extra["timing"]

    summary = load_summary(summary_path)
    assert summary.compute.mean == compute["mean"] and len(summary.outfiles()) == 37

    (match,) = THROUGHPUT_LINE.findall(out)
    assert match[0] == "32" and float(match[1]) == compute["mean"] and float(match[2]) == raw["throughput"]
    assert COMPUTE_LINE.search(out) and "end-to-end images/s" in out and "H2D_latency" not in out


def test_two_outputs_npy_inputs_and_files_holding_whole_batches(tmp_path: Path, capsys) -> None:
    model = tmp_path / "two.onnx"
    weights = make_onnx(model, shape=(4, *SAMPLE), two_outputs=True)
    folder = tmp_path / "npys"
    folder.mkdir()
    rng = np.random.default_rng(5)
    arrays = {f"x{i}": rng.integers(0, 256, SAMPLE, dtype=np.uint8) for i in range(6)}
    for stem, array in arrays.items():
        np.save(folder / f"{stem}.npy", array)
    (folder / ".x9.npy.tmp").write_bytes(b"half-written")  # another step's temp file: skipped
    infer(capsys, "-m", model, "-i", folder, "-o", tmp_path / "out", "--output_dirname", "r", "--outfmt", "NPY",
          "--backend", "onnxruntime")
    result = tmp_path / "out" / "r"
    assert len(list(result.iterdir())) == 12
    for stem, array in arrays.items():
        logits = np.load(result / f"{stem}_0.npy")
        total = np.load(result / f"{stem}_1.npy")
        assert logits.shape == (1, 10) and total.shape == (1, 1)
        np.testing.assert_allclose(logits[0], reference(array[None], weights)[0], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(total[0, 0], logits.sum(), rtol=1e-5, atol=1e-3)
    info = load_summary(tmp_path / "out" / "r_summary.json").filesinfo["5"]
    assert [os.path.basename(p) for p in info["outfiles"]] == ["x5_0.npy", "x5_1.npy"]

    # one file = one whole batch of 4: each result is the whole [4,10] output
    whole = tmp_path / "whole"
    batches = write_bins(whole, 3, seed=6, shape=(4, *SAMPLE))
    infer(capsys, "-m", model, "-i", whole, "-o", tmp_path / "out", "--output_dirname", "w", "--outfmt", "NPY",
          "--backend", "onnxruntime")
    for stem, array in batches.items():
        np.testing.assert_allclose(np.load(tmp_path / "out" / "w" / f"{stem}_0.npy"), reference(array, weights),
                                   rtol=1e-5, atol=1e-3)


def test_dynamic_batch_uses_batchsize(tmp_path: Path, capsys) -> None:
    model = tmp_path / "dynamic.onnx"
    weights = make_onnx(model, shape=(None, 3, 4, 4), dtype=np.float32)
    data = write_bins(tmp_path / "in", 5, seed=8, shape=(3, 4, 4), dtype=np.float32)
    for backend in ("onnxruntime", "openvino"):
        out = infer(capsys, "--model", model, "--batchsize=2", "--input", tmp_path / "in", "--output", tmp_path,
                    f"--output_dirname={backend}", "--backend", backend)
        summary = load_summary(tmp_path / f"{backend}_summary.json")
        assert summary.extras.batchsize == 2 and summary.compute.count == 3
        assert "batchsize.mean(2)" in out
        for stem, array in data.items():
            got = read_result(tmp_path / backend / f"{stem}_0.bin", num_classes=10)
            np.testing.assert_allclose(got, reference(array[None], weights)[0], rtol=1e-5, atol=1e-5)


def test_batchsize_of_a_static_model_only_feeds_the_formula(bs32, inputs37, tmp_path: Path, capsys) -> None:
    """ais_bench: --batchsize is the throughput formula's batch; the model runs its own (a warning here)."""
    model, _ = bs32
    out = infer(capsys, "--model", model, "--batchsize", "8", "--input", inputs37[0], "--output", tmp_path,
                "--output_dirname", "r", "--backend", "onnxruntime")
    assert "[WARNING] --batchsize 8 differs from the model's batch size 32" in out
    summary = load_summary(tmp_path / "r_summary.json")
    assert summary.extras.batchsize == 32 and summary.extras.files_per_batch == 32
    assert summary.throughput == pytest.approx(8000 / summary.compute.mean)
    assert THROUGHPUT_LINE.search(out).group(1) == "8"
    assert len(list((tmp_path / "r").iterdir())) == 37


# --------------------------------------------------------------------------- several inputs, integer outputs

def test_two_inputs_folders_pair_by_sorted_position(tmp_path: Path, capsys) -> None:
    model = tmp_path / "pair.onnx"
    two_input_model(model)
    a = write_bins(tmp_path / "a", 11, seed=1, shape=(1, 4), dtype=np.float32, prefix="s")
    b = write_bins(tmp_path / "b", 11, seed=2, shape=(1, 4), dtype=np.float32, prefix="t")
    infer(capsys, "-m", model, "-i", f"{tmp_path / 'a'},{tmp_path / 'b'}", "-o", tmp_path, "--output_dirname", "r",
          "--backend", "openvino")
    for i in range(11):  # natural sort on both sides: s2 pairs with t2, s10 with t10
        got = np.fromfile(tmp_path / "r" / f"s{i}_0.bin", dtype=np.float32)
        np.testing.assert_array_equal(got, np.concatenate([a[f"s{i}"][0], b[f"t{i}"][0]]))
    info = load_summary(tmp_path / "r_summary.json").filesinfo["10"]
    assert info["infiles"] == [os.path.join(str(tmp_path / "a"), "s10.bin"), os.path.join(str(tmp_path / "b"), "t10.bin")]


def test_two_inputs_file_list_is_cut_into_consecutive_blocks(tmp_path: Path, capsys) -> None:
    model = tmp_path / "pair.onnx"
    two_input_model(model)
    data = write_bins(tmp_path / "in", 6, seed=4, shape=(1, 4), dtype=np.float32, prefix="f")
    entries = [str(tmp_path / "in" / f"f{i}.bin") for i in (3, 0, 5, 1, 4, 2)]  # order as given, not sorted
    infer(capsys, "-m", model, "-i", ",".join(entries), "-o", tmp_path, "--output_dirname", "r",
          "--backend", "onnxruntime")
    pairs = vendor_pairs(entries, 2)  # [[f3, f1], [f0, f4], [f5, f2]]
    assert len(list((tmp_path / "r").iterdir())) == 3
    for first, second in pairs:
        stem_a, stem_b = Path(first).stem, Path(second).stem
        got = np.fromfile(tmp_path / "r" / f"{stem_a}_0.bin", dtype=np.float32)
        np.testing.assert_array_equal(got, np.concatenate([data[stem_a][0], data[stem_b][0]]))
    summary = load_summary(tmp_path / "r_summary.json")
    assert [summary.filesinfo[str(i)]["infiles"] for i in range(3)] == pairs


def test_integer_outputs_are_written_as_ais_bench_does(tmp_path: Path, capsys) -> None:
    model = tmp_path / "ints.onnx"
    integer_model(model)
    data = write_bins(tmp_path / "in", 3, seed=7, shape=(2, 5))
    infer(capsys, "-m", model, "-i", tmp_path / "in", "-o", tmp_path, "--output_dirname", "txt", "--outfmt", "TXT",
          "--backend", "onnxruntime")
    for stem, x in data.items():
        as_int = x.astype(np.int32) - 100
        top = x.argmax(1).astype(np.int64)
        assert (tmp_path / "txt" / f"{stem}_0.txt").read_bytes() == vendor_txt(as_int)
        assert (tmp_path / "txt" / f"{stem}_1.txt").read_bytes() == vendor_txt(top)
    assert (tmp_path / "txt" / "img0_1.txt").read_text().endswith(" \n") and "." not in \
        (tmp_path / "txt" / "img0_0.txt").read_text()


# --------------------------------------------------------------------------- pure mode

@pytest.mark.parametrize("data_type", ["zero", "random"])
def test_pure_mode(data_type: str, bs32, tmp_path: Path, capsys) -> None:
    model, weights = bs32
    out = infer(capsys, f"--model={model}", "--loop=5", f"--pure_data_type={data_type}", "--warmup_count", "2",
                "--output", tmp_path / "perf", "--output_dirname", "bs32", "--annotate", "warning=DEMO weights",
                "--annotate", "note=a=b", "--outfmt", "NPY", "--display_all_summary", "--backend", "openvino")
    (match,) = THROUGHPUT_LINE.findall(out)
    # ais_bench's pure mode with --output: the result folder holds pure_infer_data_<k>, the summary sits beside it
    assert sorted(p.name for p in (tmp_path / "perf").iterdir()) == ["bs32", "bs32_summary.json"]
    assert [p.name for p in (tmp_path / "perf" / "bs32").iterdir()] == ["pure_infer_data_0.npy"]
    logits = np.load(tmp_path / "perf" / "bs32" / "pure_infer_data_0.npy")
    assert logits.shape == (32, 10)
    if data_type == "zero":
        np.testing.assert_allclose(logits, 0, atol=1e-6)
    raw = json.loads((tmp_path / "perf" / "bs32_summary.json").read_text())
    assert raw["filesinfo"] == {"0": {"infiles": ["pure_infer_data"],
                                      "outfiles": [os.path.join(str(tmp_path / "perf"), "bs32", "pure_infer_data_0.npy")]}}
    assert raw["NPU_compute_time"]["count"] == 5 and len(raw["npu_compute_time_list"]) == 5
    extra = raw["senet_infer"]
    assert extra["mode"] == "pure" and extra["num_inputs"] == 0
    assert extra["annotations"] == {"warning": "DEMO weights", "note": "a=b"}
    assert extra["options"]["pure_data_type"] == data_type
    assert float(match[2]) == raw["throughput"]
    # --display_all_summary: ais_bench's H2D line before the compute line, D2H after it
    lines = [line for line in out.splitlines() if "(ms):" in line]
    assert [line.split(" (ms)")[0] for line in lines] == ["[INFO] H2D_latency", "[INFO] NPU_compute_time",
                                                          "[INFO] D2H_latency"]
    assert all(re.fullmatch(r"\[INFO\] \w+ " + STATS, line) for line in lines)

    # without --output: printed only, nothing written
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_script("ais_infer.py", "--model", model, "--loop", "3", cwd=plain)
    assert THROUGHPUT_LINE.search(proc.stdout) and COMPUTE_LINE.search(proc.stdout)
    assert "[INFO] backend auto:" in proc.stdout
    assert list(plain.iterdir()) == []


# --------------------------------------------------------------------------- repeated runs into one folder

def test_timestamp_dirname_loop_and_rerun_into_the_same_folder(bs32, tmp_path: Path, capsys) -> None:
    model, weights = bs32
    data = write_bins(tmp_path / "in", 3, seed=9)
    infer(capsys, "-m", model, "-i", tmp_path / "in", "-o", tmp_path / "out", "-l", "4", "--backend", "onnxruntime")
    (folder,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert re.fullmatch(r"\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d", folder.name)
    summary = load_summary(tmp_path / "out" / f"{folder.name}_summary.json")
    assert summary.compute.count == 4 and len(list(folder.iterdir())) == 3

    # a folder with an earlier run's results: overwritten where names meet, the rest kept and counted loudly
    result = tmp_path / "out" / "result"
    result.mkdir()
    (result / "img0_0.bin").write_bytes(b"garbage")
    (result / "old_0.bin").write_bytes(b"from an earlier run")
    (result / "old_1.bin").write_bytes(b"from an earlier run")
    (result / "notes.md").write_text("not a result")
    out = infer(capsys, "-m", model, "-i", tmp_path / "in", "-o", tmp_path / "out", "--output_dirname", "result",
                "--backend", "onnxruntime")
    got = read_result(result / "img0_0.bin", num_classes=10)
    np.testing.assert_allclose(got, reference(data["img0"][None], weights)[0], rtol=1e-5, atol=1e-3)
    warnings = [line for line in out.splitlines() if line.startswith("[WARNING]")]
    assert len(warnings) == 1 and str(result) in warnings[0] and "holds 2 result files this run did not write" \
        in warnings[0]
    summary = load_summary(tmp_path / "out" / "result_summary.json")
    assert sorted(os.path.basename(p) for p in summary.outfiles()) == ["img0_0.bin", "img1_0.bin", "img2_0.bin"]
    assert summary.extras.other_files_in_result_dir == 2
    assert (result / "old_0.bin").read_bytes() == b"from an earlier run"  # user files are never deleted


# --------------------------------------------------------------------------- several devices

def test_two_devices_split_the_inputs_as_ais_bench(bs32, tmp_path: Path) -> None:
    """ais_bench's multidevice_run: one process per device over its share, results under device<N>/."""
    model = tmp_path / "bs4.onnx"
    weights = make_onnx(model, shape=(4, *SAMPLE))
    data = write_bins(tmp_path / "in", 11, seed=12)
    proc = run_script("ais_infer.py", "-m", model, "-i", tmp_path / "in", "-o", tmp_path, "--output_dirname", "multi",
                      "--device", "0,1", "--backend", "onnxruntime", "--outfmt", "NPY")
    files = sorted((str(tmp_path / "in" / f"img{i}.bin") for i in range(11)),
                   key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", os.path.basename(p))])
    shares = vendor_device_shares(files, 1, 2)  # 6 and 5 files
    for device, share in enumerate(shares):
        folder = tmp_path / "multi" / f"device{device}"
        stems = sorted(Path(p).stem for p in share)
        assert sorted(p.stem[:-2] for p in folder.iterdir()) == stems
        for stem in stems:
            np.testing.assert_allclose(np.load(folder / f"{stem}_0.npy")[0],
                                       reference(data[stem][None], weights)[0], rtol=1e-5, atol=1e-3)
        summary = load_summary(tmp_path / "multi" / f"device{device}_summary.json")
        assert [info["infiles"][0] for _, info in sorted(summary.filesinfo.items(), key=lambda kv: int(kv[0]))] == share
    lines = re.findall(r"^i:(\d) device_(\d) throughput:([\d.e-]+) start_time:[\d.]+ end_time:[\d.]+$",
                       proc.stdout, re.M)
    assert [(i, d) for i, d, _ in lines] == [("0", "0"), ("1", "1")]
    (total,) = re.findall(r"^\[INFO\] summary throughput:([\d.e-]+)$", proc.stdout, re.M)
    assert float(total) == pytest.approx(sum(float(t) for _, _, t in lines))


# --------------------------------------------------------------------------- .om hand-off

def test_om_without_ascend_toolkit(tmp_path: Path, capsys) -> None:
    om = tmp_path / "se_resnet50_fp16_bs32.om"
    om.write_bytes(b"om")
    line = user_error(capsys, "--model", om, "--batchsize", "32", "--dymBatch", "8")
    assert str(om) in line and "Ascend toolkit (CANN + ais_bench)" in line and "aipp_convert.py" in line


def test_om_is_handed_to_the_real_ais_bench_untouched(tmp_path: Path) -> None:
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
    vendor_only = ["--dymBatch", "8", "--dymShape=image:8,3,224,224", "--outputSize", "10000,10000",
                   "--acl_json_path", "./acl.json", "--profiler", "1", "--run_mode", "full", "--dymHW", "224,224"]
    args = ["-m", "./m.om", "--batchsize", "32", "--input", "./data/ImageNet_bin", "--output", "./",
            "--backend", "openvino", "--output_dirname", "result", "--threads=2", "--outfmt", "TXT", *vendor_only,
            "--annotate", "warning=x", "--hint", "latency", "--loop=20", "--display_all_summary", "True"]
    proc = run_script("ais_infer.py", *args, cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(record.read_text()) == [
        "-m", "./m.om", "--batchsize", "32", "--input", "./data/ImageNet_bin", "--output", "./",
        "--output_dirname", "result", "--outfmt", "TXT", *vendor_only, "--loop=20", "--display_all_summary", "True",
    ]
    record.unlink()
    proc = run_script("ais_infer.py", "--model=./M.OM", "--dymBatch", "2", cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 3 and json.loads(record.read_text()) == ["--model=./M.OM", "--dymBatch", "2"]


# --------------------------------------------------------------------------- errors

def test_user_errors_are_one_line(bs32, tmp_path: Path, capsys) -> None:
    model, _ = bs32
    out = tmp_path / "out"

    def error(*args: object) -> str:
        return user_error(capsys, "--model", model, "--backend", "onnxruntime", *args)

    wrong = tmp_path / "wrong"
    write_bins(wrong, 3, seed=1, shape=(8, 8, 5))  # 320 bytes does not divide 32*192
    line = error("--input", wrong, "--output", out)
    assert str(wrong / "img0.bin") in line and "320 bytes does not divide" in line

    mixed = tmp_path / "mixed"
    write_bins(mixed, 3, seed=1)
    write_bins(mixed, 1, seed=2, shape=(4, 8, 3), prefix="small")
    line = error("--input", mixed, "--output", out)
    assert str(mixed / "small0.bin") in line and "96 bytes" in line and "must have the same size" in line

    other = tmp_path / "other"
    write_bins(other, 1, seed=4)
    line = error("--input", f"{mixed / 'img0.bin'},{other / 'img0.bin'}", "--output", out)
    assert str(other / "img0.bin") in line and "same result name 'img0'" in line

    npy = tmp_path / "npy"
    npy.mkdir()
    np.save(npy / "a.npy", np.zeros(SAMPLE, np.float32))
    line = error("--input", npy)
    assert str(npy / "a.npy") in line and "float32" in line and "uint8" in line

    line = error("--input", tmp_path / "missing")
    assert str(tmp_path / "missing") in line and "not found" in line
    assert "--output_dirname requires --output" in error("--output_dirname", "result")
    assert "inside the input folder" in error("--input", other, "--output", other / "sub")
    assert not out.exists()
    line = user_error(capsys, "--model", tmp_path / "none.onnx")
    assert "none.onnx" in line and "model not found" in line


def test_full_disk_stops_with_one_line_and_no_partial_file(tmp_path: Path) -> None:
    """A result write over the file size limit (``ulimit -f``): one line naming it, exit 2, no partial file."""
    model = tmp_path / "wide.onnx"
    make_onnx(model, shape=(2, 4, 4, 3), classes=1000)  # one TXT result is about 9 kB
    write_bins(tmp_path / "in", 4, seed=2, shape=(4, 4, 3))
    command = (f"ulimit -f 4; exec {sys.executable} {REPO / 'ais_infer.py'} -m {model} -i {tmp_path / 'in'} "
               f"-o {tmp_path} --output_dirname r --outfmt TXT --backend onnxruntime")
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(tmp_path / "r") in errors[0] and "cannot write" in errors[0] and "_0.txt" in errors[0]
    assert list((tmp_path / "r").iterdir()) == []  # nothing under a final name, no temporary left
    assert not (tmp_path / "r_summary.json").exists()


def test_killed_run_leaves_no_truncated_result(tmp_path: Path) -> None:
    """SIGKILL in the middle of writing: every file under a final name is complete."""
    model = tmp_path / "wide.onnx"
    make_onnx(model, shape=(1, 4, 4, 3), classes=2000)
    write_bins(tmp_path / "in", 3000, seed=3, shape=(4, 4, 3))
    command = [sys.executable, str(REPO / "ais_infer.py"), "-m", str(model), "-i", str(tmp_path / "in"),
               "-o", str(tmp_path), "--output_dirname", "r", "--outfmt", "TXT", "--backend", "onnxruntime"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = tmp_path / "r"
    deadline = time.monotonic() + 120
    # counted as below: a temporary (dot) file in the folder is not yet a result
    while time.monotonic() < deadline and (not result.is_dir()
                                           or len([n for n in os.listdir(result) if not n.startswith(".")]) < 50):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finals = [p for p in result.iterdir() if not p.name.startswith(".")]
    assert 50 <= len(finals) < 3000
    for path in finals:
        assert len(path.read_text().split()) == 2000, path
    assert not (tmp_path / "r_summary.json").exists()


@pytest.mark.slow
def test_real_model_both_backends_match_pytorch(dynamic_onnx: Path, demo_model, tmp_path: Path, capsys) -> None:
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
        infer(capsys, "--model", dynamic_onnx, "--batchsize", "4", "--input", folder, "--output", tmp_path,
              "--output_dirname", backend, "--backend", backend, "--warmup_count", "0")
        for i in range(6):
            got = read_result(tmp_path / backend / f"photo_{i}_0.bin")
            assert relative_error(got, expected[i]) < 1e-5, (backend, i)
            assert got.argmax() == expected[i].argmax()
        summary = load_summary(tmp_path / f"{backend}_summary.json")
        assert summary.compute.count == 2 and summary.extras.backend == backend


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_annotate_takes_each_key_once_as_step5_does(bs32, tmp_path: Path, capsys) -> None:
    model, _ = bs32
    line = user_error(capsys, f"--model={model}", "--loop=1", "--output", tmp_path, "--annotate", "note=a",
                      "--annotate", "note=b")
    assert "--annotate 'note' given twice" in line
    assert list(tmp_path.iterdir()) == []

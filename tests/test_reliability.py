"""Around a run, with real processes: killed runs, read-only folders, awkward inputs through the step scripts.

Each test here kills, repeats or mounts for real (subprocesses, SIGKILL, a read-only bind mount);
the error texts themselves are checked in the step scripts' own test files, in-process.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_backends import make_onnx

import ais_infer
from conftest import REPO
from senet_infer.cli import run_main

SAMPLE = (8, 8, 3)


def write_bins(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        (folder / f"img{i}.bin").write_bytes(rng.integers(0, 256, SAMPLE, dtype=np.uint8).tobytes())


def killed_inside_an_atomic_write(final: Path) -> Path:
    """Start a process that dies by SIGKILL while writing ``final``; return the temporary it left."""
    code = ("import os, signal, sys\n"
            "from senet_infer.fileio import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    open(tmp, 'w').write('half a result')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(final)], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (left,) = [p for p in final.parent.iterdir() if p.name.startswith(f".{final.name}.")]
    return left


def in_read_only_mount(folder: Path, command: list) -> subprocess.CompletedProcess:
    """Run ``command`` with ``folder`` bind-mounted read-only in a private mount namespace.

    Root's permission bits would not stop a write: only a read-only mount does, for root too.
    """
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -rm)")
    q = shlex.quote(str(folder))
    shell = f"mount --bind {q} {q} && mount -o remount,bind,ro {q} && exec \"$0\" \"$@\""
    return subprocess.run(["unshare", "-rm", "bash", "-c", shell, *map(str, command)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


# --------------------------------------------------------------------------- step 4 on its own

def test_ais_infer_alone_removes_a_killed_runs_temporaries(tmp_path: Path, capsys) -> None:
    model = tmp_path / "bs4.onnx"
    make_onnx(model, shape=(4, *SAMPLE))
    write_bins(tmp_path / "bins", 6)
    result = tmp_path / "out" / "result"
    result.mkdir(parents=True)
    left = killed_inside_an_atomic_write(result / "img0_0.txt")
    assert not (result / "img0_0.txt").exists()  # the killed run's half result never got the final name

    code = run_main(ais_infer.main, ["--model", str(model), "--input", str(tmp_path / "bins"), "--output",
                                     str(tmp_path / "out"), "--output_dirname", "result", "--outfmt", "TXT",
                                     "--backend", "onnxruntime"], prog="ais_infer.py")
    out = capsys.readouterr().out
    assert code == 0
    assert f"[INFO] {result}: removed 1 leftover temporary file of an interrupted run" in out
    assert not left.exists()
    assert sorted(p.name for p in result.iterdir()) == [f"img{i}_0.txt" for i in range(6)]


def test_ais_infer_rerun_into_the_same_folder_says_nothing_about_temporaries(tmp_path: Path, capsys) -> None:
    model = tmp_path / "bs4.onnx"
    make_onnx(model, shape=(4, *SAMPLE))
    write_bins(tmp_path / "bins", 3)
    argv = ["--model", str(model), "--input", str(tmp_path / "bins"), "--output", str(tmp_path),
            "--output_dirname", "result", "--backend", "onnxruntime"]
    for _ in range(2):
        assert run_main(ais_infer.main, argv, prog="ais_infer.py") == 0
        assert "leftover temporary" not in capsys.readouterr().out


@pytest.mark.parametrize("mounted", ["result folder", "output folder"])
def test_ais_infer_read_only_folder_stops_with_one_line(tmp_path: Path, mounted: str) -> None:
    """A read-only result folder, or an output folder where the result folder cannot be made."""
    model = tmp_path / "bs4.onnx"
    make_onnx(model, shape=(4, *SAMPLE))
    write_bins(tmp_path / "bins", 5)
    out = tmp_path / "out"
    result = out / "result"
    result.mkdir(parents=True) if mounted == "result folder" else out.mkdir()
    proc = in_read_only_mount(result if mounted == "result folder" else out, [
        sys.executable, REPO / "ais_infer.py", "--model", model, "--input", tmp_path / "bins", "--output", out,
        "--output_dirname", "result", "--outfmt", "TXT", "--backend", "onnxruntime"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(result) in lines[0]
    expected = "result folder is not writable" if mounted == "result folder" else "Read-only file system"
    assert expected in lines[0], lines[0]
    assert list(out.iterdir()) == ([result] if mounted == "result folder" else [])
    if mounted == "result folder":
        assert list(result.iterdir()) == []


def test_a_smaller_rerun_into_the_same_folder_is_never_scored_as_one_run(tmp_path: Path, capsys) -> None:
    """The issue's case: step 4 for five inputs, then again into the same folder for one, then step 5."""
    import vision_metric_ImageNet

    model = tmp_path / "bs4.onnx"
    make_onnx(model, shape=(4, *SAMPLE), classes=1000)
    write_bins(tmp_path / "five", 5)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "img0.bin").write_bytes((tmp_path / "five" / "img0.bin").read_bytes())
    labels = tmp_path / "val_label.txt"
    labels.write_text("".join(f"img{i}.JPEG {i}\n" for i in range(5)))
    for inputs in ("five", "one"):
        assert run_main(ais_infer.main, ["--model", str(model), "--input", str(tmp_path / inputs), "--output",
                                         str(tmp_path), "--output_dirname", "result", "--outfmt", "TXT",
                                         "--backend", "onnxruntime"], prog="ais_infer.py") == 0
    out = capsys.readouterr().out
    assert f"[WARNING] {tmp_path / 'result'}: holds 4 result files this run did not write" in out
    assert len(list((tmp_path / "result").iterdir())) == 5  # ais_bench leaves the older results, as the vendor's

    argv = [str(tmp_path / "result"), str(labels), str(tmp_path), "accuracy_result.json"]
    assert run_main(vision_metric_ImageNet.main, argv, prog="vision_metric_ImageNet.py") == 2
    err = capsys.readouterr().err
    assert "4 of 5 labelled images have no result" in err and "result_summary.json" in err
    assert not (tmp_path / "accuracy_result.json").exists()
    assert run_main(vision_metric_ImageNet.main, argv + ["--allow-missing"], prog="vision_metric_ImageNet.py") == 0
    err = capsys.readouterr().err
    doc = json.loads((tmp_path / "accuracy_result.json").read_text())
    assert {row["key"]: row["value"] for row in doc["value"]}["Number of images"] == "1"
    assert "ignored 4 other result" in err


# --------------------------------------------------------------------------- step 1 killed

@pytest.mark.slow
def test_preprocess_killed_by_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    from senet_infer.synthetic import make_image_folder

    src = tmp_path / "src"
    make_image_folder(src, 40, seed=11, assorted=False, size=(900, 700))
    command = [sys.executable, str(REPO / "imagenet_torch_preprocess.py"), str(src)]
    whole = tmp_path / "whole"
    subprocess.run(command + [str(whole), "--workers", "1", "--quiet"], check=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(command + [str(killed), "--workers", "1", "--quiet"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and len(list(killed.glob("*.bin"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done_before = len(list(killed.glob("*.bin")))
    assert 3 <= done_before < 40  # killed in the middle of the run

    rerun = subprocess.run(command + [str(killed), "--workers", "1", "--quiet"], capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    # The rerun says what it redid; files the killed run finished but never recorded are redone, not trusted.
    match = re.search(r"written (\d+), skipped (\d+) \(up to date\), failed 0", rerun.stdout)
    assert match and int(match[1]) + int(match[2]) == 40 and int(match[2]) <= done_before, rerun.stdout
    assert digest(killed) == digest(whole)
    assert [p.name for p in killed.iterdir() if p.name.startswith(".")] == [".preprocess.json"]


def digest(folder: Path) -> dict:
    """{name: bytes} of a folder's .bin files."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.bin"))}


# --------------------------------------------------------------------------- step 5's writes

def metric_case(tmp_path: Path) -> list:
    """Step 5's command line on two results; the output folder ``out``."""
    from senet_infer.fileio import write_result

    (tmp_path / "result").mkdir()
    for i in range(2):
        logits = np.zeros((1, 1000), np.float32)
        logits[0, i] = 1.0
        write_result(tmp_path / "result" / f"img{i}_0.txt", logits, "TXT")
    (tmp_path / "val_label.txt").write_text("img0.JPEG 0\nimg1.JPEG 1\n")
    (tmp_path / "out").mkdir()
    return [sys.executable, REPO / "vision_metric_ImageNet.py", tmp_path / "result", tmp_path / "val_label.txt",
            tmp_path / "out", "accuracy_result.json"]


def test_metric_past_the_file_size_limit_stops_with_one_line(tmp_path: Path) -> None:
    command = metric_case(tmp_path)
    proc = subprocess.run(["bash", "-c", 'ulimit -f 0; exec "$@"', "bash", *map(str, command)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "out" / "accuracy_result.json") in lines[0], proc.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_metric_into_a_read_only_folder_stops_with_one_line(tmp_path: Path) -> None:
    command = metric_case(tmp_path)
    proc = in_read_only_mount(tmp_path / "out", command)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "out" / "accuracy_result.json") in lines[0], proc.stderr
    assert "Read-only file system" in lines[0]
    assert list((tmp_path / "out").iterdir()) == []

"""Around a run, with real processes: killed runs, read-only folders, awkward inputs through the step scripts.

Each test here kills, repeats or mounts for real (subprocesses, SIGKILL, a read-only bind mount);
the error texts themselves are checked in the step scripts' own test files, in-process.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ais_infer
from conftest import REPO
from senet_infer.cli import run_main
from test_backends import make_onnx

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

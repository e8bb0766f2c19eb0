"""ais_infer.py streams: peak memory does not grow with the number of input files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from conftest import REPO

FILE_SHAPE = (256, 256, 3)  # one step-1 .bin: 196,608 bytes


def _tiny_uint8_model(path: Path, batch: int) -> Path:
    """uint8 NHWC [batch,256,256,3] -> per-channel mean [batch,3]: the converted model's input, cheap to run."""
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMean", ["f"], ["class"], axes=[1, 2], keepdims=0)],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, *FILE_SHAPE])],
        [helper.make_tensor_value_info("class", TensorProto.FLOAT, [batch, 3])],
    )
    onnx.save(helper.make_model_gen_version(graph, opset_imports=[helper.make_opsetid("", 11)]), path)
    return path


def _peak_rss_mib(model: Path, inputs: Path, out: Path) -> float:
    """Peak resident memory of one ``ais_infer.py`` file-mode run, measured from a wrapper process."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, str(REPO / "ais_infer.py"), "--model", str(model), "--input", str(inputs),
               "--output", str(out), "--output_dirname", "result", "--outfmt", "NPY", "--backend", "onnxruntime"]
    proc = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True)
    return int(proc.stdout.split()[-1]) / 1024


def _write_inputs(folder: Path, count: int) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, size=int(np.prod(FILE_SHAPE)), dtype=np.uint8).tobytes()
    for i in range(count):
        (folder / f"img_{i:05d}.bin").write_bytes(block)


def test_peak_memory_does_not_grow_with_the_number_of_inputs(tmp_path: Path) -> None:
    model = _tiny_uint8_model(tmp_path / "tiny.onnx", batch=32)
    few, many = tmp_path / "few", tmp_path / "many"
    _write_inputs(few, 64)
    _write_inputs(many, 2048)  # 403 MB of input: holding it would show in the peak
    peak_few = _peak_rss_mib(model, few, tmp_path / "out_few")
    peak_many = _peak_rss_mib(model, many, tmp_path / "out_many")
    assert len(list((tmp_path / "out_many" / "result").iterdir())) == 2048
    assert peak_many - peak_few < 100, (peak_few, peak_many)

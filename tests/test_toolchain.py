"""The driver's toolchains: command lines, chip names, which Python runs ais_bench, CANN not sourced."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import REPO
from senet_infer.driver.ascend_host import ais_bench_python, parse_npu_smi, unsourced_cann_notes
from senet_infer.driver.toolchain import AscendToolchain, PortableToolchain, Scripts
from senet_infer.errors import PipelineError
from senet_infer.pipeline import build_parser, main, parse_options

NPU_SMI = """\
+-------------------+-----------------+------------------------------------------------------+
| NPU     Name      | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device    | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===================+=================+======================================================+
| 0       {name}     | OK              | 15.8         42                0    / 0              |
| 0       0         | 0000:82:00.0    | 0            1074 / 21534                            |
+===================+=================+======================================================+
"""


def toolchains(work: Path) -> tuple[AscendToolchain, PortableToolchain]:
    scripts = Scripts(REPO, work, sys.executable)
    return (AscendToolchain(scripts, 32, soc_version="Ascend310P3", ais_python=sys.executable),
            PortableToolchain(scripts, 32, precision="fp32", backend="auto", soc_version=None))


def test_both_toolchains_give_the_guides_command_lines(tmp_path: Path) -> None:
    ascend, portable = toolchains(tmp_path)
    atc_flags = ["--model=./se_resnet50_dynamic_bs.onnx", "--framework=5", "--input_format=NCHW",
                 "--input_shape=image:32,3,224,224"]
    assert ascend.convert_command(32).shown == [
        "atc", *atc_flags, "--output=./se_resnet50_fp16_bs32", "--log=error", "--soc_version=Ascend310P3",
        "--insert_op_conf=./aipp_SE_ResNet50_pth.config", "--enable_small_channel=1"]
    assert portable.convert_command(32).shown == [
        "python3", str(REPO / "aipp_convert.py"), *atc_flags, "--output=./se_resnet50_fp32_bs32", "--log=error",
        "--soc_version=Ascend310P3", "--insert_op_conf=./aipp_SE_ResNet50_pth.config", "--enable_small_channel=1", "--precision_mode=fp32"]
    assert portable.convert_command(4, check=False).shown[-1] == "--skip-check"
    assert portable.model_path(4) == tmp_path / "perf_models" / "se_resnet50_fp32_bs4.onnx"
    assert ascend.model_path(4) == tmp_path / "se_resnet50_fp16_bs4.om"

    infer = ["--model", "./se_resnet50_fp32_bs32.onnx", "--batchsize", "32", "--input", "./data/ImageNet_bin",
             "--output", "./", "--output_dirname", "result", "--outfmt", "TXT"]
    command = portable.infer_command(tmp_path / "data" / "ImageNet_bin", ["--annotate", "warning=x"])
    assert command.shown == ["python3", str(REPO / "ais_infer.py"), *infer, "--backend", "auto"]
    assert command.run == [sys.executable, str(REPO / "ais_infer.py"), *infer, "--backend", "auto",
                           "--annotate", "warning=x"]
    assert portable.perf_command(4, 20).shown[2:] == [
        "--model=./perf_models/se_resnet50_fp32_bs4.onnx", "--loop=20", "--batchsize=4", "--output=./perf_runs",
        "--output_dirname=fp32_bs4", "--backend", "auto"]


AMCT_FLAGS = ["--model=./se_resnet50_dynamic_bs.onnx", "--save_path=./se_resnet50_int8",
              "--input_shape=image:32,3,224,224", "--data_dir=./data/ImageNet_calib_bin", "--data_types=float32",
              "--batch_num=2"]


def test_int8_calibrates_then_converts_the_deploy_model(tmp_path: Path, monkeypatch) -> None:
    """AMCT's flags for both toolchains; the converter then reads the deploy model and names the model int8."""
    ascend, portable = toolchains(tmp_path)
    calib = tmp_path / "data" / "ImageNet_calib_bin"
    assert portable.calibrate_command(calib, 32, 2).shown == ["python3", str(REPO / "amct_calibrate.py"), *AMCT_FLAGS]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PipelineError, match="amct_onnx is not on the PATH"):
        ascend.calibrate_command(calib, 32, 2)
    assert ascend.offered_precisions() == ("fp16",)
    stand_in = tmp_path / "bin" / "amct_onnx"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", str(stand_in.parent))
    assert ascend.calibrate_command(calib, 32, 2).shown == ["amct_onnx", "calibration", *AMCT_FLAGS]
    assert ascend.offered_precisions() == ("fp16", "int8")

    deploy = "--model=./se_resnet50_int8_deploy_model.onnx"
    assert portable.deploy_model == tmp_path / "se_resnet50_int8_deploy_model.onnx"
    command = portable.convert_command(8, precision="int8").shown
    assert command[2] == deploy and "--output=./perf_models/se_resnet50_int8_bs8" in command
    assert command[-1] == "--precision_mode=fp32"  # the layers int8 leaves unquantized
    command = ascend.convert_command(32, precision="int8").shown
    assert command[1] == deploy and "--output=./se_resnet50_int8_bs32" in command
    assert ascend.model_path(32, "int8") == tmp_path / "se_resnet50_int8_bs32.om"
    scripts = Scripts(REPO, tmp_path, sys.executable)
    int8 = PortableToolchain(scripts, 32, precision="int8", backend="auto", soc_version=None)
    assert int8.model_path(32) == tmp_path / "se_resnet50_int8_bs32.onnx"
    assert int8.convert_command(32).shown[2] == deploy
    assert AscendToolchain(scripts, 32, soc_version="Ascend310P3", ais_python=None, precision="int8").model_path(32).name == \
        "se_resnet50_int8_bs32.om"


def test_ascend_perf_figures_come_from_the_printed_line(tmp_path: Path) -> None:
    ascend, _ = toolchains(tmp_path)
    command = ascend.perf_command(32, 20)
    assert command.shown == ["python3", "-m", "ais_bench", "--model=./se_resnet50_fp16_bs32.om", "--loop=20",
                             "--batchsize=32"]
    record = ascend.perf_record(32, command, "[INFO] throughput 1000*batchsize.mean(32)/NPU_compute_time.mean(11.9): 2689.1\n")
    assert (record.throughput_images_per_s, record.compute_mean_ms, record.backend) == (2689.1, 11.9, "ais_bench")
    with pytest.raises(PipelineError, match="python3 -m ais_bench: no 'throughput"):
        ascend.perf_record(32, command, "no summary line\n")


@pytest.mark.parametrize("name, soc", [("310P3", "Ascend310P3"), ("Ascend910B3", "Ascend910B3"),
                                       ("ascend310", "ascend310")])
def test_chip_name_is_prefixed_only_when_needed(name: str, soc: str) -> None:
    assert parse_npu_smi(NPU_SMI.format(name=name)) == soc


def test_no_chip_in_npu_smi_output() -> None:
    assert parse_npu_smi("command not supported\n") is None


def fake_host_python(folder: Path, pkgs: Path | None) -> Path:
    """A ``python3`` for the PATH: this interpreter, seeing ``pkgs`` (the toolkit's packages) when given."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python3"
    extra = f'export PYTHONPATH="{pkgs}"\n' if pkgs else "unset PYTHONPATH\n"
    path.write_text(f"#!/usr/bin/env bash\n{extra}exec {sys.executable} \"$@\"\n")
    path.chmod(0o755)
    return path


def test_ais_bench_runs_with_the_hosts_python3_when_python_lacks_it(tmp_path: Path, monkeypatch, capsys) -> None:
    pkgs = tmp_path / "pkgs"
    (pkgs / "ais_bench").mkdir(parents=True)
    (pkgs / "ais_bench" / "__init__.py").write_text("")
    host = fake_host_python(tmp_path / "bin", pkgs)
    monkeypatch.setenv("PATH", f"{host.parent}{os.pathsep}{os.environ['PATH']}")
    assert ais_bench_python(sys.executable, tmp_path) == str(host)
    assert f"python3 from the PATH ({host})" in capsys.readouterr().out

    monkeypatch.setenv("PYTHONPATH", str(pkgs))  # now the project's Python has it too: it is preferred
    assert ais_bench_python(sys.executable, tmp_path) == sys.executable


def test_neither_python_has_ais_bench(tmp_path: Path, monkeypatch) -> None:
    host = fake_host_python(tmp_path / "bin", None)
    monkeypatch.setenv("PATH", f"{host.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PipelineError) as info:
        ais_bench_python(sys.executable, tmp_path)
    message = str(info.value)
    assert f"$PYTHON ({sys.executable})" in message and f"python3 on the PATH ({host})" in message


def test_an_unsourced_cann_toolkit_is_mentioned(tmp_path: Path, monkeypatch) -> None:
    ascend, portable = toolchains(tmp_path)
    assert unsourced_cann_notes(portable.ascend, candidates=[str(tmp_path / "none.sh")]) == []
    monkeypatch.setenv("HOME", str(tmp_path))
    set_env = tmp_path / "Ascend" / "ascend-toolkit" / "set_env.sh"
    set_env.parent.mkdir(parents=True)
    set_env.write_text("export PATH=...\n")
    (line,) = unsourced_cann_notes(portable.ascend, candidates=["/nonexistent/set_env.sh", "~/Ascend/ascend-toolkit/set_env.sh"])
    assert str(set_env) in line and "not sourced" in line and f"source {set_env}" in line
    assert unsourced_cann_notes(ascend.ascend, candidates=[str(set_env)]) == []  # atc found: nothing to say


def test_options_are_parsed_once_into_a_typed_record(tmp_path: Path) -> None:
    opts = parse_options(
        ["--work-dir", str(tmp_path), "--steps", "perf,metric", "--perf-batch-sizes", "8,1,8", "--batch-size", "4"])
    assert opts.steps == ("metric", "perf") and opts.perf_batch_sizes == (1, 8) and opts.batch_size == 4
    assert opts.work == tmp_path.resolve() and opts.checkpoint is None
    assert opts.perf_precisions is None and not opts.fidelity_all and opts.calib_images == 32
    opts = parse_options(
        ["--perf-precisions", "int8,fp32", "--precision", "int8", "--fidelity-all", "--calib-dir", str(tmp_path)])
    assert opts.perf_precisions == ("fp32", "int8") and opts.precision == "int8" and opts.fidelity_all
    assert opts.calib_dir == tmp_path.resolve()


def test_perf_table_holds_every_precision_with_its_drift(tmp_path: Path) -> None:
    from senet_infer.driver.perf_report import Drift, PerfRecord, write_perf_outputs

    records = [PerfRecord(b, t, 1000 * b / t, "openvino", p) for p, b, t in
               (("fp32", 1, 20.0), ("fp32", 32, 25.0), ("bf16", 1, 60.0), ("bf16", 32, 100.0), ("int8", 32, 90.0))]
    drift = {"fp32": Drift("fp32", 8, 1.0, 1.0, 1.0, 3e-6), "bf16": Drift("bf16", 8, 1.0, 0.75, 0.9996, 2.8e-2),
             "int8": Drift("int8", 8, 0.875, 0.5, 0.998, 6.1e-2)}
    json_path, md_path, png_path = write_perf_outputs(tmp_path, "Xeon", records, {"loop": 2, "date": "d"}, drift)
    rows = [line for line in md_path.read_text().splitlines() if line.startswith("| Xeon")]
    assert len(rows) == 5
    assert rows[3].split(" | ")[2:7] == ["bf16", "32", "100.0", "320.00", "4.00x"]
    assert rows[4].split(" | ")[6:] == ["3.60x", "87.5 %", "50.0 %", "0.998000", "6.10e-02 |"]
    assert "drift vs PyTorch fp32 on 8 images" in md_path.read_text()
    import json

    perf = json.loads(json_path.read_text())
    assert [r["precision"] for r in perf["results"]] == ["fp32", "fp32", "bf16", "bf16", "int8"]
    assert perf["drift"]["int8"]["top1_agreement"] == 0.875
    assert png_path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--steps", "metric,bogus"], "--steps: unknown step(s) bogus"),
    (["--perf-batch-sizes", "1,x"], "--perf-batch-sizes: not a list of integers"),
    (["--perf-batch-sizes", "0"], "--perf-batch-sizes: need integers >= 1"),
    (["--perf-precisions", "fp32,int4"], "--perf-precisions: unknown precision(s) int4"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        main(["--work-dir", str(tmp_path), *argv])


def test_a_gpu_backend_goes_through_to_the_runner_with_fp16_offered(tmp_path: Path, monkeypatch) -> None:
    """run_infer.sh takes the runner's GPU backends; the perf step then measures fp32, fp16 and int8 on it,
    and its table names the GPU as the chip."""
    opts = parse_options(["--work-dir", str(tmp_path), "--backend", "onnxruntime-cuda"])
    assert opts.backend == "onnxruntime-cuda"
    scripts = Scripts(REPO, tmp_path, sys.executable)
    gpu = PortableToolchain(scripts, 32, precision="fp32", backend=opts.backend, soc_version=None)
    assert gpu.perf_command(4, 20).shown[-2:] == ["--backend", "onnxruntime-cuda"]
    assert gpu.offered_precisions() == ("fp32", "fp16", "int8")
    monkeypatch.setattr("senet_infer.driver.toolchain.gpu_model", lambda: "NVIDIA H100 80GB HBM3 (driver 580.159.04)")
    chip, machine = gpu.chip_and_machine()
    assert chip == "NVIDIA H100 80GB HBM3" and machine.startswith("NVIDIA H100 80GB HBM3 (driver 580.159.04), host ")
    cpu_chip, _ = toolchains(tmp_path)[1].chip_and_machine()
    assert "H100" not in cpu_chip
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--backend", "cuda"])

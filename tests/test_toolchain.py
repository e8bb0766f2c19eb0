"""The driver's toolchains: the guide's command lines, model names, where the perf figures come from."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO
from senet_infer.driver.main import build_parser, parse_options
from senet_infer.driver.toolchain import AscendToolchain, PortableToolchain, Scripts
from senet_infer.errors import PipelineError


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

"""amct_calibrate.py: AMCT's calibration command line, then the converter and the runner on its int8 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import amct_calibrate
from conftest import REPO, run_script
from senet_infer.cli import run_main
from senet_infer.fileio import atomic_write_bytes, stem_of

ITEM_BYTES = 3 * 224 * 224 * 4


@pytest.fixture(scope="session")
def fp32_bin_dir(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Step 1 with --format fp32 for four of the generated images: the dynamic model's own input."""
    from senet_infer.preprocess import EvalTransform, preprocess_file

    folder = tmp_path_factory.mktemp("calibration")
    for path in sorted(image_dir.iterdir())[:4]:
        array = preprocess_file(path, EvalTransform(output_format="fp32"))
        atomic_write_bytes(folder / f"{stem_of(path)}.bin", np.ascontiguousarray(array, np.float32).tobytes())
    return folder


def calibrate(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple:
    code = run_main(amct_calibrate.main, [str(a) for a in argv], prog="amct_calibrate.py")
    out, err = capsys.readouterr()
    return code, out, err


def flags(model: Path, save: Path, data: Path, shape: str = "image:2,3,224,224", batch_num: int = 2) -> list:
    return [f"--model={model}", f"--save_path={save}", f"--input_shape={shape}", f"--data_dir={data}",
            "--data_types=float32", f"--batch_num={batch_num}"]


@pytest.fixture(scope="session")
def int8_model(dynamic_onnx: Path, fp32_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model calibrated on 2 batches of 2 images, as a user runs the script."""
    save = tmp_path_factory.mktemp("int8") / "out" / "se_resnet50"
    proc = run_script("amct_calibrate.py", *flags(dynamic_onnx, save, fp32_bin_dir))
    assert "calibrated on 4 images" in proc.stdout and "int8 vs fp32" in proc.stdout
    return Path(str(save) + "_deploy_model.onnx")


def test_calibration_fixture_files_are_step1_fp32(fp32_bin_dir: Path) -> None:
    assert [p.stat().st_size for p in fp32_bin_dir.iterdir()] == [ITEM_BYTES] * 4


@pytest.mark.slow
def test_amct_outputs_are_dynamic_qdq_models(int8_model: Path) -> None:
    fake = int8_model.with_name(int8_model.name.replace("_deploy_model", "_fake_quant_model"))
    assert fake.is_file()
    model = onnx.load(str(int8_model))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    (value,) = model.graph.input
    assert value.name == "image"
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and dims[1:] == [3, 224, 224]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["senet_infer.precision"] == "int8" and meta["senet_infer.quantizer"].startswith("nncf ")


@pytest.mark.slow
def test_int8_model_goes_through_converter_and_runner(int8_model: Path, bin_dir: Path, tmp_path: Path) -> None:
    proc = run_script("aipp_convert.py", f"--model={int8_model}", "--framework=5", "--input_shape=image:4,3,224,224",
                      f"--output={tmp_path / 'se_int8_bs4'}", "--soc_version=Ascend310P3",
                      f"--insert_op_conf={REPO / 'aipp_SE_ResNet50_pth.config'}")
    assert "precision int8" in proc.stdout and "OK" in proc.stdout.splitlines()[-1]
    converted = tmp_path / "se_int8_bs4.onnx"
    meta = {p.key: p.value for p in onnx.load(str(converted)).metadata_props}
    assert meta["senet_infer.precision"] == "int8"
    for backend in ("openvino", "onnxruntime"):
        run_script("ais_infer.py", "--model", converted, "--batchsize", 4, "--input", bin_dir, "--output", tmp_path,
                   "--output_dirname", backend, "--outfmt", "TXT", "--backend", backend)
        assert len(list((tmp_path / backend).glob("*_0.txt"))) == len(list(bin_dir.glob("*.bin")))


def quantized_toy(path: Path) -> Path:
    """A one-node model that already holds a QuantizeLinear (what a second calibration would get)."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["image", "scale"], ["class"])], "toy",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("class", TensorProto.UINT8, ["batch", 3, 224, 224])],
        [helper.make_tensor("scale", TensorProto.FLOAT, [], [0.1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_an_already_quantized_model_is_refused(fp32_bin_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    model = quantized_toy(tmp_path / "toy_deploy_model.onnx")
    code, _, err = calibrate(capsys, *flags(model, tmp_path / "again", fp32_bin_dir))
    assert code == 2 and "already quantized" in err and str(model) in err and len(err.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["toy_deploy_model.onnx"]


@pytest.mark.parametrize("case, words", [
    ("empty", ["0 .bin file(s)", "needs 4"]),
    ("short", ["3 .bin file(s)", "needs 4"]),
    ("wrong_size", ["bytes, expected 602112", "--format fp32"]),
])
def test_bad_calibration_data(dynamic_onnx: Path, fp32_bin_dir: Path, tmp_path: Path, case: str, words: list,
                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    files = sorted(fp32_bin_dir.iterdir())
    if case == "short":
        files = files[:3]
    for path in files if case != "empty" else []:
        payload = path.read_bytes()
        (data / path.name).write_bytes(payload[:-4] if case == "wrong_size" and path == files[1] else payload)
    code, out, err = calibrate(capsys, *flags(dynamic_onnx, tmp_path / "out" / "q", data))
    assert code == 2 and len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not (tmp_path / "out").exists() and out == ""


@pytest.mark.parametrize("shape, words", [
    ("image:2,3,256,256", ["dimension 2 is 256", "224"]),
    ("input:2,3,224,224", ["model's input is 'image'"]),
    ("image:2,3,224", ["3 dimensions"]),
])
def test_shape_that_does_not_match_the_model(dynamic_onnx: Path, fp32_bin_dir: Path, tmp_path: Path, shape: str,
                                             words: list, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = calibrate(capsys, *flags(dynamic_onnx, tmp_path / "q", fp32_bin_dir, shape=shape))
    assert code == 2 and len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert list(tmp_path.iterdir()) == []


def test_data_types_other_than_float32_are_refused(dynamic_onnx: Path, fp32_bin_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a if not a.startswith("--data_types") else "--data_types=uint8"
            for a in flags(dynamic_onnx, tmp_path / "q", fp32_bin_dir)]
    code, _, err = calibrate(capsys, *argv)
    assert code == 2 and "--data_types='uint8'" in err and "float32" in err
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_onnx_is_refused(fp32_bin_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_text("not a model")
    code, _, err = calibrate(capsys, *flags(bogus, tmp_path / "q", fp32_bin_dir))
    assert code == 2 and "not an ONNX model" in err and str(bogus) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.slow
def test_onnxruntime_quantizer_writes_the_same_kind_of_model(dynamic_onnx: Path, fp32_bin_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    save = tmp_path / "ort" / "se_resnet50"
    cwd = tmp_path / "cwd"  # ONNX Runtime < 1.13 would leave its augmented_model.onnx here
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, out, err = calibrate(capsys, *flags(dynamic_onnx, save, fp32_bin_dir), "--quantizer=onnxruntime")
    assert code == 0, err
    assert list(cwd.iterdir()) == [] and Path.cwd() == cwd
    assert "with onnxruntime " in out and "quantize_static" in out and "int8 vs fp32" in out
    model = onnx.load(str(save) + "_deploy_model.onnx")
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in model.graph.node}
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and dims[1:] == [3, 224, 224]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["senet_infer.precision"] == "int8" and meta["senet_infer.quantizer"].startswith("onnxruntime ")


def test_auto_falls_back_to_onnxruntime_in_one_line_and_nncf_alone_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from senet_infer import quantize
    from senet_infer.errors import PipelineError

    if quantize.nncf_problem() is None:
        lines: list = []
        assert quantize.choose_quantizer("auto", lines.append) == "nncf" and lines == []
    monkeypatch.setattr(quantize, "nncf_problem", lambda: "ModuleNotFoundError: No module named 'torch.fx'")
    lines = []
    assert quantize.choose_quantizer("auto", lines.append) == "onnxruntime"
    assert len(lines) == 1 and "torch.fx" in lines[0] and "quantize_static" in lines[0] and "pip install" in lines[0]
    with pytest.raises(PipelineError, match=r"--quantizer=nncf: NNCF cannot be imported .*torch\.fx.*pip install"):
        quantize.choose_quantizer("nncf")
    assert quantize.choose_quantizer("onnxruntime", lines.append) == "onnxruntime" and len(lines) == 1

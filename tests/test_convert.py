"""Step 3: aipp_convert.py, the portable ATC converter (fixed batch, AIPP fused into the ONNX graph)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import aipp_convert
from conftest import run_in_process
from senet_infer.agreement import relative_error
from senet_infer.aipp import AippOp, apply_aipp, parse_aipp_config
from senet_infer.atc import ATC_PRECISION_MODES, FLAGS, NO_EFFECT, REFUSED
from senet_infer.cli import run_main
from senet_infer.convert import FidelityError, convert_model
from senet_infer.errors import PipelineError
from senet_infer.modelmeta import AIPP_KEY, PRECISION_KEY
from senet_infer.onnxgraph import parse_input_shape
from senet_infer.precision import PRECISION_MODES, describe_modes, precision_of

REPO = Path(__file__).resolve().parents[1]
GUIDE_CONFIG = REPO / "aipp_SE_ResNet50_pth.config"
# The guide's ATC command, with `atc` replaced by `python3 aipp_convert.py`.
GUIDE_ARGS = ("--model=./se_resnet50_dynamic_bs.onnx", "--framework=5", "--input_format=NCHW",
              "--input_shape=image:32,3,224,224", "--output=./se_resnet50_fp16_bs32", "--log=error",
              "--soc_version=Ascend310P3", "--insert_op_conf=./aipp_SE_ResNet50_pth.config",
              "--enable_small_channel=1")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def workdir(dynamic_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as the guide's: the dynamic model (linked, not copied) and the AIPP config."""
    folder = tmp_path_factory.mktemp("step3")
    (folder / "se_resnet50_dynamic_bs.onnx").symlink_to(dynamic_onnx)
    shutil.copy(GUIDE_CONFIG, folder / GUIDE_CONFIG.name)
    return folder


def convert_main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``aipp_convert.py args`` in this process: (exit status, stdout, stderr)."""
    rc = run_main(aipp_convert.main, [str(a) for a in args], prog="aipp_convert.py")
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.startswith("aipp_convert.py: error: ") and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


@pytest.fixture(scope="module")
def guide_run(workdir: Path, dynamic_onnx: Path):
    """The guide's command, run once: (process, converted model path, source hash before the run)."""
    before = sha256(dynamic_onnx)
    proc = run_in_process(aipp_convert.main, *GUIDE_ARGS, prog="aipp_convert.py", cwd=workdir)
    return proc, workdir / "se_resnet50_fp16_bs32.onnx", before


# --- the guide's command on SE-ResNet50 ---------------------------------------------------------


@pytest.mark.slow
def test_guide_command_writes_an_aipp_model(guide_run, workdir: Path, dynamic_onnx: Path) -> None:
    proc, converted, before = guide_run
    assert "input  image: uint8 [32, 256, 256, 3]" in proc.stdout
    assert "output class: float32 [32, 1000]" in proc.stdout
    fidelity = [line for line in proc.stdout.splitlines() if line.startswith("fidelity:")]
    assert len(fidelity) == 1 and fidelity[0].startswith(
        "fidelity: converted vs dynamic+numpy AIPP on 32 photo-like images: rel err ")
    assert fidelity[0].endswith("(< 1e-05) OK")
    assert sorted(p.name for p in workdir.iterdir()) == [
        GUIDE_CONFIG.name, "se_resnet50_dynamic_bs.onnx", "se_resnet50_fp16_bs32.onnx"]  # no temp file left
    assert sha256(dynamic_onnx) == before  # the input model is never modified

    model = onnx.load(converted)
    onnx.checker.check_model(model, full_check=True)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, inp.type.tensor_type.elem_type, dims(inp)) == ("image", TensorProto.UINT8, [32, 256, 256, 3])
    assert (out.name, out.type.tensor_type.elem_type, dims(out)) == ("class", TensorProto.FLOAT, [32, 1000])
    assert [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")] == [11]
    assert [node.op_type for node in model.graph.node[:5]] == ["Slice", "Cast", "Sub", "Mul", "Transpose"]
    meta = metadata(model)
    assert meta[PRECISION_KEY] == "fp32"
    assert (meta["senet_infer.soc_version"], meta["senet_infer.log"], meta["senet_infer.enable_small_channel"]) == (
        "Ascend310P3", "error", "1")
    assert meta["senet_infer.input_shape"] == "image:32,3,224,224"
    (aipp,) = json.loads(meta[AIPP_KEY])
    assert (aipp["crop_size_w"], aipp["load_start_pos_h"], aipp["min_chn_0"]) == (224, 16, 123.675)


@pytest.mark.slow
def test_converted_model_matches_dynamic_model_fed_numpy_aipp(guide_run, dynamic_onnx: Path, bin_dir: Path) -> None:
    _, converted, _ = guide_run
    (op,) = parse_aipp_config(GUIDE_CONFIG)
    bins = sorted(bin_dir.glob("*.bin"))
    images = np.stack([np.frombuffer(p.read_bytes(), np.uint8).reshape(op.input_shape(1)[1:]) for p in bins])
    batch = images[np.arange(32) % len(images)]  # pad to the model's batch by repeating, as ais_bench would
    providers = ["CPUExecutionProvider"]
    (actual,) = ort.InferenceSession(str(converted), providers=providers).run(None, {"image": batch})
    (reference,) = ort.InferenceSession(str(dynamic_onnx), providers=providers).run(
        None, {"image": apply_aipp(batch, op)})
    assert actual.shape == (32, 1000)
    assert relative_error(actual, reference) < 1e-5
    np.testing.assert_array_equal(actual.argmax(1), reference.argmax(1))


@pytest.mark.slow
def test_without_aipp_only_the_batch_is_fixed(workdir: Path, dynamic_onnx: Path) -> None:
    # ATC's `--flag value` form as well as `--flag=value`.
    proc = run_in_process(aipp_convert.main, "--model", dynamic_onnx, "--framework", "5", "--input_shape",
                          "image:2,3,224,224", "--output", workdir / "plain_bs2", "--precision_mode", "force_fp16",
                          "--soc_version", "Ascend310P3", prog="aipp_convert.py", cwd=workdir)
    assert "fidelity: converted vs dynamic on 2 photo-like images: rel err" in proc.stdout
    assert "(< 1e-05) OK" in proc.stdout
    model, source = onnx.load(workdir / "plain_bs2.onnx"), onnx.load(dynamic_onnx)
    onnx.checker.check_model(model, full_check=True)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.type.tensor_type.elem_type, dims(inp)) == (TensorProto.FLOAT, [2, 3, 224, 224])
    assert dims(out) == [2, 1000]
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in source.graph.node]
    meta = metadata(model)
    assert meta[PRECISION_KEY] == "fp16" and meta["senet_infer.precision_mode"] == "force_fp16"
    assert AIPP_KEY not in meta


def test_crop_size_must_equal_input_shape_hw(workdir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    config = tmp_path / "crop200.config"
    config.write_text(GUIDE_CONFIG.read_text().replace("crop_size_w: 224", "crop_size_w: 200"))
    rc, _, err = convert_main(capsys, "--model=./se_resnet50_dynamic_bs.onnx", "--framework=5",
                              "--input_shape=image:32,3,224,224", f"--output={tmp_path / 'bad'}",
                              f"--insert_op_conf={config}", "--soc_version=Ascend310P3")
    assert_one_line_error(rc, err, "--input_shape=image:32,3,224,224: image must be N,3,224,200",
                          "AIPP output (3 channels, 224x200 from crop_size_h/w")
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.parametrize(("value", "name"), [("3", "TensorFlow"), ("0", "Caffe"), ("1", "MindSpore")])
def test_other_frameworks_are_rejected(workdir: Path, value: str, name: str, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    rc, _, err = convert_main(capsys, "--model=./se_resnet50_dynamic_bs.onnx", f"--framework={value}",
                              "--output=./never", "--soc_version=Ascend310P3")
    assert_one_line_error(rc, err, f"--framework={value} ({name}) is not supported by the portable converter: "
                                   f"only 5 (ONNX)")
    assert not (workdir / "never.onnx").exists()


@pytest.mark.parametrize(("shape", "words"), [
    ("image32,3,224,224", "is not 'name:d0,d1,...'"),
    ("image:32,3,x,224", "'x' is not an integer dimension"),
    ("image:-1,3,224,224", "dimension -1 must be > 0"),
    ("data:32,3,224,224", "the model has no input 'data' (its inputs: image)"),
    ("image:32,3,224", "image has 3 dimensions, the model's input has 4"),
    ("image:32,4,224,224", "image dimension 1 is 4, the model fixes it to 3"),
])
def test_bad_input_shape(workdir: Path, shape: str, words: str, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    rc, _, err = convert_main(capsys, "--model=./se_resnet50_dynamic_bs.onnx", "--framework=5",
                              f"--input_shape={shape}", "--output=./never", "--soc_version=Ascend310P3")
    assert_one_line_error(rc, err, words)
    assert not (workdir / "never.onnx").exists()


# --- the graph rewrite on small models (fast) -----------------------------------------------------


def tiny_model(path: Path, inputs: dict[str, int]) -> Path:
    """A dynamic-batch opset-11 model: each float NCHW input -> Conv(3->4) -> mean -> summed into [batch,4]."""
    rng = np.random.default_rng(0)
    nodes, initializers, pooled = [], [], []
    for name in inputs:
        weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), f"{name}_w")
        initializers.append(weight)
        nodes += [helper.make_node("Conv", [name, weight.name], [f"{name}_conv"], pads=[1, 1, 1, 1], name=f"{name}/conv"),
                  helper.make_node("GlobalAveragePool", [f"{name}_conv"], [f"{name}_pool"], name=f"{name}/pool"),
                  helper.make_node("Flatten", [f"{name}_pool"], [f"{name}_flat"], name=f"{name}/flat")]
        pooled.append(f"{name}_flat")
    nodes.append(helper.make_node("Sum", pooled, ["class"], name="sum"))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 3, side, side]) for name, side in inputs.items()],
        [helper.make_tensor_value_info("class", TensorProto.FLOAT, ["batch", 4])],
        initializers,
    )
    model = helper.make_model_gen_version(graph, opset_imports=[helper.make_opsetid("", 11)])  # old runtimes read it
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def small_op(**changes: object) -> AippOp:
    """Non-square source, an off-centre crop, R/B swap and a non-zero mean_chn: every AIPP step exercised."""
    fields: dict[str, object] = dict(
        src_image_size_w=12, src_image_size_h=10, crop=True, load_start_pos_w=3, load_start_pos_h=1,
        crop_size_w=8, crop_size_h=8, rbuv_swap_switch=True, mean_chn=(100, 90, 80, 0),
        min_chn=(23.5, 26.25, 23.5, 0.0), var_reci_chn=(0.017, 0.0175, -0.02, 1.0),
    )
    fields.update(changes)
    return AippOp(**fields)  # type: ignore[arg-type]


def test_aipp_graph_follows_apply_aipp(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    op = small_op()
    result = convert_model(source, tmp_path / "tiny_bs3", {"image": (3, 3, 8, 8)}, [op], precision="bf16")
    assert result.path == tmp_path / "tiny_bs3.onnx" and result.fidelity is not None and result.fidelity.passed
    assert [str(s) for s in result.inputs] == ["image: uint8 [3, 10, 12, 3]"]
    assert [str(s) for s in result.outputs] == ["class: float32 [3, 4]"]
    images = np.random.default_rng(5).integers(0, 256, size=(3, 10, 12, 3), dtype=np.uint8)
    (actual,) = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"]).run(None, {"image": images})
    (reference,) = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(
        None, {"image": apply_aipp(images, op)})
    assert relative_error(actual, reference) < 1e-6
    assert metadata(onnx.load(result.path))[PRECISION_KEY] == "bf16"


def test_related_input_rank_picks_the_input(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "two.onnx", {"a": 6, "b": 8})
    result = convert_model(source, tmp_path / "two_bs2", {"a": (2, 3, 6, 6), "b": (2, 3, 8, 8)},
                           [small_op(related_input_rank=1)])
    assert [str(s) for s in result.inputs] == ["a: float32 [2, 3, 6, 6]", "b: uint8 [2, 10, 12, 3]"]
    assert result.fidelity is not None and result.fidelity.passed
    with pytest.raises(PipelineError, match="related_input_rank: 2, but the model has 2 input"):
        convert_model(source, tmp_path / "never", {"a": (2, 3, 6, 6), "b": (2, 3, 8, 8)},
                      [small_op(related_input_rank=2)])


def test_failed_fidelity_check_leaves_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import senet_infer.convert as convert

    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    # A numpy AIPP that disagrees with the graph: the check must catch it.
    monkeypatch.setattr(convert, "apply_aipp", lambda images, op: apply_aipp(images, op) + 0.5)
    with pytest.raises(FidelityError) as info:
        convert_model(source, tmp_path / "tiny_bs2", {"image": (2, 3, 8, 8)}, [small_op()])
    assert not info.value.agreement.passed
    assert "FAILED" in info.value.agreement.line()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]


def test_output_may_not_overwrite_the_source(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    before = sha256(source)
    with pytest.raises(PipelineError, match="would overwrite the input model"):
        convert_model(source, tmp_path / "tiny", {"image": (2, 3, 8, 8)}, check=False)
    assert sha256(source) == before


def test_dynamic_input_without_input_shape_is_an_error(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    with pytest.raises(PipelineError, match=r"input 'image' has dynamic dimensions \(batch\); give its shape"):
        convert_model(source, tmp_path / "out", None, check=False)


def test_precision_modes_map_to_three_precisions() -> None:
    assert {mode: precision_of(mode) for mode in ("force_fp32", "must_keep_origin_dtype", "fp32")} == dict.fromkeys(
        ("force_fp32", "must_keep_origin_dtype", "fp32"), "fp32")
    assert {precision_of(m) for m in ("force_fp16", "allow_fp32_to_fp16", "allow_mix_precision", "fp16")} == {"fp16"}
    assert {precision_of(m) for m in ("bf16", "allow_fp32_to_bf16", "allow_mix_precision_bf16")} == {"bf16"}
    with pytest.raises(PipelineError, match="--precision_mode=int8: unknown value"):
        precision_of("int8")


def test_every_atc_precision_mode_is_in_the_one_table_and_the_help_lists_it_once() -> None:
    assert set(ATC_PRECISION_MODES) - set(PRECISION_MODES) == set()
    assert precision_of("cube_fp16in_fp32out") == "fp16"
    listed = [mode for line in describe_modes().splitlines() for mode in line.split(" <- ")[1].split(", ")]
    assert sorted(listed) == sorted(PRECISION_MODES)


def test_parse_input_shape_several_inputs() -> None:
    assert parse_input_shape("image:32,3,224,224; mask:32,1") == {"image": (32, 3, 224, 224), "mask": (32, 1)}
    with pytest.raises(PipelineError, match="image is given twice"):
        parse_input_shape("image:1,3,224,224;image:2,3,224,224")


# --- ATC's flags, in process on a small model ------------------------------------------------------


def tiny_args(source: Path, output: Path, *extra: str) -> list[str]:
    return [f"--model={source}", "--framework=5", "--input_shape=image:2,3,8,8", f"--output={output}",
            "--soc_version=Ascend310P3", *extra]


def test_unknown_flag_fails_as_in_atc(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", "--soc_versoin=Ascend310P3"))
    assert_one_line_error(rc, err, "unknown command line flag 'soc_versoin'")
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", "--soc"))  # no abbreviations, as gflags
    assert_one_line_error(rc, err, "unknown command line flag 'soc'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]


def test_soc_version_is_required_as_in_atc(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    args = [a for a in tiny_args(source, tmp_path / "out") if not a.startswith("--soc_version")]
    rc, _, err = convert_main(capsys, *args)
    assert_one_line_error(rc, err, "E10004: Value for [--soc_version] is empty.")


def test_unknown_precision_mode_lists_atcs_modes(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", "--precision_mode=int8"))
    assert_one_line_error(rc, err, "E10001: Value [int8] for parameter [--precision_mode] is invalid. Reason: only "
                                   "support force_fp16, force_fp32, cube_fp16in_fp32out, allow_mix_precision")


@pytest.mark.parametrize("flag", [f for f in FLAGS if f.effect == REFUSED], ids=lambda f: f.name)
def test_refused_flags_name_themselves(tmp_path: Path, capsys, flag) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", f"--{flag.name}=1"))
    assert_one_line_error(rc, err, f"--{flag.name}=1: not supported by the portable converter")
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--dynamic_batch_size=1,2,4"], "--dynamic_batch_size=1,2,4: not supported"),
    (["--mode=3"], "--mode=3 (only pre-check) is not supported"),
    (["--log=verbose"], "E10001: Value [verbose] for parameter [--log] is invalid. Reason: only support debug, info"),
    (["--output_type=FP16"], "--output_type=FP16: FP16 is not supported by the portable converter"),
    (["--output_type=FLOAT"], "E10001: Value [FLOAT] for parameter [--output_type]"),
    (["--is_input_adjust_hw_layout=true"], "NC1HWC0"),
    (["--precision_mode=force_fp16", "--precision_mode_v2=fp16"], "can not be set at the same time"),
    (["--out_nodes=nothing:0"], "'nothing:0' is neither 'node:index' of a node of the model nor one of its tensors"),
])
def test_flag_values_atc_would_refuse_or_that_cannot_be_honoured(tmp_path: Path, capsys, args, words) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", *args))
    assert_one_line_error(rc, err, words)
    assert not (tmp_path / "out.onnx").exists()


def test_flags_without_effect_say_so_once_and_are_recorded(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    quiet = [f for f in FLAGS if f.effect == NO_EFFECT]
    values = {f.name: f.choices[0] if f.choices else "x" for f in quiet}
    # gflags also takes a single dash: -fusion_switch_file=x
    extra = [f"{'-' if f.name == 'fusion_switch_file' else '--'}{f.name}={values[f.name]}" for f in quiet]
    rc, out, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", "--output_type=FP32",
                                                   "--is_output_adjust_hw_layout=false", *extra))
    assert rc == 0, err
    lines = out.splitlines()
    for flag in quiet:
        assert lines.count(f"--{flag.name}: no effect off Ascend") == 1, flag.name
    meta = metadata(onnx.load(tmp_path / "out.onnx"))
    assert all(meta[f"senet_infer.{f.name}"] == values[f.name] for f in quiet)
    assert meta["senet_infer.soc_version"] == "Ascend310P3" and meta[PRECISION_KEY] == "fp32"


def test_precision_mode_v2(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, _, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", "--precision_mode_v2=mixed_bfloat16",
                                                 "--skip-check"))
    assert rc == 0, err
    assert metadata(onnx.load(tmp_path / "out.onnx"))[PRECISION_KEY] == "bf16"


@pytest.mark.parametrize("spec", ["image/pool:0", "image_pool"])
def test_out_nodes_selects_the_outputs(tmp_path: Path, capsys, spec: str) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    rc, out, err = convert_main(capsys, *tiny_args(source, tmp_path / "out", f"--out_nodes={spec}"))
    assert rc == 0, err
    assert "(< 1e-05) OK" in out
    model = onnx.load(tmp_path / "out.onnx")
    assert [o.name for o in model.graph.output] == ["image_pool"]
    images = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    (pooled,) = ort.InferenceSession(str(tmp_path / "out.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"image": images})
    assert pooled.shape == (2, 4, 1, 1)
    assert metadata(model)["senet_infer.source_model"] == "tiny.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx", "tiny.onnx"]


def test_aipp_sizes_and_input_taken_from_the_model(tmp_path: Path, capsys) -> None:
    source = tiny_model(tmp_path / "two.onnx", {"a": 6, "b": 8})
    config = tmp_path / "aipp.config"
    config.write_text('aipp_op { aipp_mode: 1 related_input_name: "b" input_format: 3 crop: f '
                      'src_image_size_w: 0 src_image_size_h: 0 min_chn_0: 10 var_reci_chn_0: 0.5 }\n')
    rc, out, err = convert_main(capsys, f"--model={source}", "--framework=5", "--input_shape=a:2,3,6,6;b:2,3,8,8",
                                f"--output={tmp_path / 'out'}", "--soc_version=Ascend310P3",
                                f"--insert_op_conf={config}")
    assert rc == 0, err
    assert "input  b: uint8 [2, 8, 8, 3]" in out and "(< 1e-05) OK" in out

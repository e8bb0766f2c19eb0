"""Backends: one interface, a lazy registry, precision handling, the measured ``auto`` choice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from senet_infer import backends
from senet_infer.agreement import relative_error
from senet_infer.backends import onnxruntime as ort_backend
from senet_infer.backends import openvino as ov_backend
from senet_infer.compat import numpy_to_onnx_dtype
from senet_infer.errors import PipelineError
from senet_infer.export import INPUT_NAME, OUTPUT_NAME
from senet_infer.modelmeta import PRECISION_KEY, model_precision

REPO = Path(__file__).resolve().parents[1]


def make_onnx(path: Path, shape: tuple[int | None, ...] = (4, 8, 8, 3), dtype: type = np.uint8,
              classes: int = 10, two_outputs: bool = False, precision: str | None = None, seed: int = 0) -> np.ndarray:
    """A small model: Cast -> Flatten -> MatMul(W) -> ``class`` [N,classes] (+ ``total`` [N,1]); returns W.

    Every logit depends on every input value, so a mixed-up or mis-padded batch shows.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    features = int(np.prod(shape[1:]))
    weights = np.random.default_rng(seed).standard_normal((features, classes)).astype(np.float32)
    elem = numpy_to_onnx_dtype(dtype)
    dims = ["batch" if d is None else d for d in shape]
    nodes = [
        helper.make_node("Cast", [INPUT_NAME], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Flatten", ["as_float"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], [OUTPUT_NAME]),
    ]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [dims[0], classes])]
    inits = [numpy_helper.from_array(weights, "W")]
    if two_outputs:
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
        nodes.append(helper.make_node("ReduceSum", [OUTPUT_NAME, "axis1"], ["total"], keepdims=1))
        outputs.append(helper.make_tensor_value_info("total", TensorProto.FLOAT, [dims[0], 1]))
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info(INPUT_NAME, elem, dims)], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if precision is not None:
        helper.set_model_props(model, {PRECISION_KEY: precision})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return weights


def reference(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """What :func:`make_onnx`'s model computes, in float64."""
    return x.reshape(len(x), -1).astype(np.float64) @ weights.astype(np.float64)


def with_precision(src: Path, dst: Path, precision: str) -> Path:
    """Copy an ONNX model with ``senet_infer.precision`` set."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    helper.set_model_props(model, {PRECISION_KEY: precision})
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("small") / "small.onnx"
    return path, make_onnx(path)


def test_registry_names_installed_and_unknown() -> None:
    assert set(backends.BACKENDS) == {"onnxruntime", "openvino", "onnxruntime-cuda", "onnxruntime-tensorrt"}
    assert backends.BACKEND_CHOICES[0] == "auto"
    import onnxruntime as ort

    gpu = {name for name in backends.GPU_BACKENDS if backends.BACKENDS[name].provider in ort.get_available_providers()}
    assert set(backends.available_backends()) == {"onnxruntime", "openvino"} | gpu
    with pytest.raises(PipelineError, match="unknown backend 'tensorrt'"):
        backends.create_backend("tensorrt")


@pytest.mark.parametrize("name,provider", [("onnxruntime-cuda", "CUDAExecutionProvider"),
                                           ("onnxruntime-tensorrt", "TensorrtExecutionProvider")])
def test_gpu_backend_without_its_provider_is_one_clear_line(name: str, provider: str, small: tuple[Path, np.ndarray],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert name not in backends.available_backends()
    backend = backends.create_backend(name)  # onnxruntime is installed: the provider is checked at load
    with pytest.raises(PipelineError) as err:
        backend.load(small[0], threads=1)
    message = str(err.value)
    assert "\n" not in message and str(small[0]) in message and provider in message
    assert "offers only CPUExecutionProvider" in message


def test_gpu_backend_that_falls_back_to_the_cpu_is_refused(small: tuple[Path, np.ndarray],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime drops a provider that cannot start and runs on the next one in silence: refused by name."""
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    real = ort.InferenceSession

    def cpu_only(path: str, options: object, providers: list) -> object:
        assert providers[0] == ("CUDAExecutionProvider", {"device_id": 1, "use_tf32": 0})
        return real(path, options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", cpu_only)
    with pytest.raises(PipelineError, match="could not start CUDAExecutionProvider on device 1 .*fell back to "
                                            "CPUExecutionProvider"):
        backends.create_backend("onnxruntime-cuda").load(small[0], threads=1, device=1)


TRT_BANNER = """*************** EP Error ***************
EP Error /onnxruntime_src/onnxruntime/python/onnxruntime_pybind_state.cc:729 void onnxruntime::python::RegisterTensorRTPluginsAsCustomOps(PySessionOptions&, const onnxruntime::ProviderOptions&) Please install TensorRT libraries as mentioned in the GPU requirements page, make sure they're in the PATH or LD_LIBRARY_PATH, and that your GPU is supported.
 when using [('TensorrtExecutionProvider', {'device_id': 0}), ('CUDAExecutionProvider', {'device_id': 0}), 'CPUExecutionProvider']
Falling back to ['CUDAExecutionProvider', 'CPUExecutionProvider'] and retrying.
****************************************
"""
DEVICE_BANNER = ("EP Error /onnxruntime_src/onnxruntime/core/providers/cuda/cuda_execution_provider_info.cc:63 static "
                 "onnxruntime::CUDAExecutionProviderInfo onnxruntime::CUDAExecutionProviderInfo::FromProviderOptions(const "
                 "onnxruntime::ProviderOptions&) [ONNXRuntimeError] : 1 : FAIL : provider_options_utils.h:187 Parse Failed "
                 "to parse provider option \"device_id\": cuda_execution_provider_info.cc:71 operator() Invalid device ID: "
                 "1, must be between 0 (inclusive) and 1 (exclusive).\n when using [...]\n")


def test_the_reason_in_onnx_runtimes_fallback_banner() -> None:
    """Banners as onnxruntime-gpu 1.31 printed them on an H100 machine without TensorRT."""
    assert ort_backend.provider_error(TRT_BANNER) == ("Please install TensorRT libraries as mentioned in the GPU requirements "
                                                   "page, make sure they're in the PATH or LD_LIBRARY_PATH, and that your "
                                                   "GPU is supported.")
    assert ort_backend.provider_error(DEVICE_BANNER).endswith("Invalid device ID: 1, must be between 0 (inclusive) and 1 "
                                                           "(exclusive).")
    assert ort_backend.provider_error("") == "" and ort_backend.provider_error("EP Error short") == "short"


def test_a_provider_that_fails_is_named_with_its_reason_and_nothing_reaches_stdout(
        small: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider",
                                                                  "CPUExecutionProvider"])
    real = ort.InferenceSession

    def falls_back(path: str, options: object, providers: list) -> object:
        print(TRT_BANNER, end="")
        return real(path, options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", falls_back)
    with pytest.raises(PipelineError) as err:
        backends.create_backend("onnxruntime-tensorrt").load(small[0], threads=1)
    message = str(err.value)
    assert "\n" not in message and "could not start TensorrtExecutionProvider" in message
    assert "(Please install TensorRT libraries as mentioned" in message
    assert capsys.readouterr().out == ""

    lines: list[str] = []  # auto: the provider that failed is named in its line, the others are timed
    monkeypatch.setattr(ort_backend.OnnxRuntimeTensorRTBackend, "usable", classmethod(lambda cls: True))
    chosen = backends.load_backend("auto", small[0], threads=1, log=lines.append)
    assert chosen.name in ("onnxruntime", "openvino") and len(lines) == 1
    refused = lines[0].split(" (did not load: ", 1)[1]
    assert "onnxruntime-tensorrt: " in refused and "Please install TensorRT" in refused


def test_gpu_backends_precisions(small: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    trt, cuda = backends.BACKENDS["onnxruntime-tensorrt"], backends.BACKENDS["onnxruntime-cuda"]
    assert [p for p in ("fp32", "fp16", "bf16", "int8") if trt.supports(p)] == ["fp32", "fp16", "int8"]
    assert [p for p in ("fp32", "fp16", "bf16", "int8") if cuda.supports(p)] == ["fp32", "fp16", "int8"]
    assert backends.native_precisions("onnxruntime-cuda") == ["fp32", "fp16", "int8"]
    bf16 = with_precision(small[0], tmp_path / "bf16.onnx", "bf16")
    with pytest.raises(PipelineError, match="CUDA provider runs fp32, fp16, int8"):
        backends.create_backend("onnxruntime-cuda").load(bf16, threads=1, precision="bf16")
    with pytest.raises(PipelineError, match="TensorRT provider runs fp32, fp16, int8"):
        backends.create_backend("onnxruntime-tensorrt").load(bf16, threads=1, precision="bf16")


def test_cuda_fp16_is_the_fp32_graph_converted_with_its_inputs_and_outputs_kept(small: tuple[Path, np.ndarray],
                                                                               tmp_path: Path) -> None:
    """What the CUDA provider runs for an fp16 model: fp16 weights and arithmetic, the uint8 input and the float
    output as the model declares them; run here on the CPU provider, it agrees with fp32 to fp16's rounding."""
    import onnx
    import onnxruntime as ort

    fp16 = with_precision(small[0], tmp_path / "fp16.onnx", "fp16")
    try:
        import onnxruntime.transformers.float16  # noqa: F401
    except ImportError:  # older onnxruntime (1.14, under Python 3.7): its transformers package imports torch
        with pytest.raises(PipelineError, match="needs ONNX Runtime's fp16 converter"):
            ort_backend.fp16_graph(fp16)
        return
    converted = ort_backend.fp16_graph(fp16)
    onnx.checker.check_model(converted)
    assert {init.data_type for init in converted.graph.initializer} == {onnx.TensorProto.FLOAT16}
    original = onnx.load(str(fp16))
    assert [i.type for i in converted.graph.input] == [i.type for i in original.graph.input]
    assert [o.type for o in converted.graph.output] == [o.type for o in original.graph.output]
    source = backends.create_backend("onnxruntime-cuda")._model_source(fp16, "fp16")
    assert isinstance(source, bytes)
    x = np.random.default_rng(3).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    got = ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    want = reference(x, small[1])
    assert got.dtype == np.float32 and 1e-5 < relative_error(got, want) < 2e-3  # rounded, but only by fp16
    assert backends.create_backend("onnxruntime-cuda")._model_source(fp16, "fp32") == str(fp16)


def test_cuda_fp16_refuses_a_quantized_model(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    path = tmp_path / "qdq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(PipelineError, match=f"^{path}: the model is quantized"):
        ort_backend.fp16_graph(path)


def test_cuda_libraries_are_preloaded_and_failures_named() -> None:
    """onnxruntime-gpu's ``preload_dlls`` finds CUDA/cuDNN from NVIDIA's pip packages; what it could not load
    is kept for the message, and nothing it prints reaches the runner's own output."""
    class FakeOrt:
        @staticmethod
        def preload_dlls() -> None:
            print("Failed to load libcudnn.so.9: cannot open shared object file")
            print("Please follow https://onnxruntime.ai/docs/install/#cuda-and-cudnn to install CUDA.")

    assert ort_backend.preload_cuda_libraries(FakeOrt()) == "Failed to load libcudnn.so.9: cannot open shared object file"
    assert ort_backend.preload_cuda_libraries(object()) == ""  # onnxruntime before 1.21: nothing to preload


def test_runtimes_are_imported_only_when_chosen(small: tuple[Path, np.ndarray]) -> None:
    code = (
        "import sys\n"
        "import senet_infer.backends as b, senet_infer.infer\n"
        "before = [m for m in ('onnxruntime', 'openvino', 'torch') if m in sys.modules]\n"
        "be = b.create_backend('onnxruntime')\n"
        f"be.load({str(small[0])!r}, threads=1)\n"
        "after = [m for m in ('onnxruntime', 'openvino', 'torch') if m in sys.modules]\n"
        "print(before, after)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[] ['onnxruntime']"


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_interface_static_and_dynamic(name: str, small: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, weights = small
    backend = backends.create_backend(name)
    backend.load(path, threads=1)
    assert backend.inputs == [backends.TensorInfo(INPUT_NAME, (4, 8, 8, 3), np.dtype(np.uint8))]
    assert backend.outputs == [backends.TensorInfo(OUTPUT_NAME, (4, 10), np.dtype(np.float32))]
    info = backend.info()
    assert info["name"] == name and info["version"] and info["device"] == "CPU" and info["precision"] == "fp32"
    x = np.random.default_rng(1).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    (out,) = backend.run({INPUT_NAME: x})
    assert out.dtype == np.float32 and out.shape == (4, 10)
    np.testing.assert_allclose(out, reference(x, weights), rtol=1e-5, atol=1e-3)

    dynamic = tmp_path / "dynamic.onnx"
    weights = make_onnx(dynamic, shape=(None, 3, 4, 4), dtype=np.float32, two_outputs=True)
    backend = backends.create_backend(name)
    backend.load(dynamic, threads=1)
    assert backend.inputs[0].shape == (None, 3, 4, 4)
    assert [o.name for o in backend.outputs] == [OUTPUT_NAME, "total"]
    x = np.random.default_rng(2).standard_normal((3, 3, 4, 4)).astype(np.float32)
    logits, total = backend.run({INPUT_NAME: x})
    np.testing.assert_allclose(logits, reference(x, weights), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(total[:, 0], logits.sum(1), rtol=1e-5, atol=1e-5)


def test_openvino_batch_argument_fixes_a_dynamic_batch(tmp_path: Path) -> None:
    path = tmp_path / "dynamic.onnx"
    make_onnx(path, shape=(None, 3, 4, 4), dtype=np.float32)
    backend = backends.create_backend("openvino")
    backend.load(path, threads=1, batch=5)
    assert backend.inputs[0].shape == (5, 3, 4, 4)


def test_model_precision_metadata(tmp_path: Path, small: tuple[Path, np.ndarray]) -> None:
    assert model_precision(small[0]) == "fp32"
    bf16 = with_precision(small[0], tmp_path / "bf16.onnx", "bf16")
    assert model_precision(bf16) == "bf16"
    bad = with_precision(small[0], tmp_path / "bad.onnx", "int4")
    with pytest.raises(PipelineError, match=r"bad\.onnx: metadata senet_infer\.precision='int4'"):
        model_precision(bad)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00not a protobuf" * 10)
    with pytest.raises(PipelineError, match="corrupt.onnx"):
        backends.load_backend("onnxruntime", corrupt, threads=1)
    with pytest.raises(PipelineError, match="missing.onnx: model not found"):
        model_precision(tmp_path / "missing.onnx")


def test_onnxruntime_refuses_reduced_precision(tmp_path: Path, small: tuple[Path, np.ndarray]) -> None:
    for precision in ("bf16", "fp16"):
        path = with_precision(small[0], tmp_path / f"{precision}.onnx", precision)
        with pytest.raises(PipelineError, match=f"asks for {precision}.*use --backend openvino"):
            backends.load_backend("onnxruntime", path, threads=1)


def test_openvino_fp16_runs_at_fp16_or_refuses(tmp_path: Path, small: tuple[Path, np.ndarray]) -> None:
    """Either documented outcome, whatever the CPU: it runs and says fp16, or one clear refusal. A CPU that
    lists FP16 may still compile the model at bf16 (OpenVINO 2023.1 on an Intel with avx512_fp16 and no AMX,
    and on an AMD EPYC with avx512_bf16): refused too. Without FP16 in the capabilities it must refuse."""
    import openvino as ov

    path = with_precision(small[0], tmp_path / "fp16.onnx", "fp16")
    listed = "FP16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    try:
        backend = backends.load_backend("openvino", path, threads=1)
    except PipelineError as exc:  # the plugin would quietly run another precision: never reported as fp16
        assert str(exc).count("\n") == 0 and "this CPU cannot run OpenVINO at fp16 (the plugin would fall back to" in str(exc)
    else:
        assert listed, "ran at fp16 on a CPU whose plugin lists no FP16 capability"
        assert backend.info()["precision"] == "fp16"
        x = np.random.default_rng(6).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
        (out,) = backend.run({INPUT_NAME: x})
        np.testing.assert_allclose(out, reference(x, small[1]), rtol=2e-2, atol=2.0)  # fp16 arithmetic


def test_auto_measures_candidates_or_takes_the_only_one(tmp_path: Path, small: tuple[Path, np.ndarray],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    chosen = backends.load_backend("auto", small[0], threads=1, log=lines.append)
    assert len(lines) == 1
    assert "onnxruntime" in lines[0] and "openvino" in lines[0] and f"-> {chosen.name}" in lines[0]
    assert "zero batch [4x8x8x3]" in lines[0]

    bf16 = with_precision(small[0], tmp_path / "bf16.onnx", "bf16")
    lines.clear()
    try:
        chosen = backends.load_backend("auto", bf16, threads=1, log=lines.append)
    except PipelineError as exc:  # a CPU without any bf16 path: the only candidate refuses, clearly
        assert "cannot run OpenVINO at bf16" in str(exc)
    else:
        assert chosen.name == "openvino" and chosen.precision == "bf16"
        assert lines == ["[INFO] backend auto: openvino at bf16 (the only candidate)"]

    monkeypatch.setattr(ov_backend.OpenVinoBackend, "installed", classmethod(lambda cls: False))
    with pytest.raises(PipelineError, match="no installed backend runs bf16"):
        backends.load_backend("auto", bf16, threads=1)


@pytest.mark.torch
def test_real_model_fp32_backends_agree_and_bf16_drift(dynamic_onnx: Path, tmp_path: Path) -> None:
    """fp32: ONNX Runtime and OpenVINO within 1e-5; OpenVINO bf16 close to fp32 (drift printed)."""
    from senet_infer.model import calibration_batch

    x = calibration_batch(2, seed=11).numpy()
    outs = {}
    for name in ("onnxruntime", "openvino"):
        backend = backends.load_backend(name, dynamic_onnx, threads=2, batch=2)
        (outs[name],) = backend.run({INPUT_NAME: x})
    assert relative_error(outs["openvino"], outs["onnxruntime"]) < 1e-5

    bf16_path = with_precision(dynamic_onnx, tmp_path / "bf16.onnx", "bf16")
    try:
        backend = backends.load_backend("openvino", bf16_path, threads=2, batch=2)
    except PipelineError as exc:
        pytest.skip(f"this CPU runs no bf16: {exc}")
    assert backend.info()["precision"] == "bf16"
    (low,) = backend.run({INPUT_NAME: x})
    ref = outs["onnxruntime"]
    cosine = (low * ref).sum(1) / np.linalg.norm(low, axis=1) / np.linalg.norm(ref, axis=1)
    drift = relative_error(low, ref)
    print(f"OpenVINO bf16 vs fp32: relative error {drift:.2e}, min cosine {cosine.min():.5f}, "
          f"top-1 agreement {(low.argmax(1) == ref.argmax(1)).sum()}/{len(ref)}")
    assert cosine.min() > 0.99
    assert 0 < drift < 0.1  # non-zero: it really ran at bf16, not fp32 under another name


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_submitted_batches_come_back_to_their_own_token(name: str, small: tuple[Path, np.ndarray]) -> None:
    """Throughput hint: several batches in flight; each on_done gets its own batch's outputs, once, on the
    thread that submits: no Python runs on the runtime's threads (with a Python callback there, freeing an
    OpenVINO model right after wait_all() could hang, its destructor joining a thread that waits for the GIL)."""
    import threading

    path, weights = small
    backend = backends.create_backend(name)
    backend.load(path, threads=2, hint=backends.THROUGHPUT)
    assert backend.hint == "throughput" and backend.requests >= 1 and backend.streams >= 1
    done: dict[int, np.ndarray] = {}
    threads: set[int] = set()
    lock = threading.Lock()

    def on_done(token: int, outputs: list, latency_s: float, d2h_s: object, finished: float) -> None:
        assert latency_s >= 0 and (d2h_s is None) == (name == "onnxruntime")
        assert submitted[token] < finished <= time.perf_counter()
        threads.add(threading.get_ident())
        with lock:
            assert token not in done
            done[token] = outputs[0]

    backend.start(on_done)
    rng = np.random.default_rng(4)
    batches = {i: rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8) for i in range(12)}
    submitted: dict[int, float] = {}
    for token, batch in batches.items():
        submitted[token] = time.perf_counter()
        backend.submit({INPUT_NAME: batch}, token)
    backend.wait_all()
    assert sorted(done) == list(batches) and threads == {threading.get_ident()}
    for token, batch in batches.items():
        np.testing.assert_allclose(done[token], reference(batch, weights), rtol=1e-5, atol=1e-3)


def test_tensor_info_resolves_the_batch_once() -> None:
    info = backends.TensorInfo("image", (None, 3, 4, 4), np.dtype(np.float32))
    resolved = info.with_batch(8)
    assert resolved.shape == (8, 3, 4, 4) and resolved.nbytes == 8 * 48 * 4
    with pytest.raises(PipelineError, match=r"image float32 \[\?,3,\?,4\]: only the batch dimension"):
        backends.TensorInfo("image", (None, 3, None, 4), np.dtype(np.float32)).with_batch(2)


def test_reduced_precisions_are_offered_only_where_openvino_compiles_at_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU whose plugin lists FP16 but compiles fp16 at bf16 (OpenVINO 2023.1 without AMX) gets no fp16 in the
    perf step's default precisions: the probe's refusal decides, not the capability list alone."""
    import openvino as ov

    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    ov_backend._openvino_compiles_at.cache_clear()
    honest = backends.native_precisions("openvino")
    assert honest[0] == "fp32" and honest[-1] == "int8"
    assert all(ov_backend._OV_CAPABILITY[p] in capabilities for p in honest if p in ("fp16", "bf16"))

    real_load = ov_backend.OpenVinoBackend.load

    def refusing_fp16(self, path, **kwargs):  # what the plugin's fallback looks like to load()
        if kwargs.get("precision") == "fp16":
            raise PipelineError(f"{path}: this CPU cannot run OpenVINO at fp16 (the plugin would fall back to bf16)")
        return real_load(self, path, **kwargs)

    monkeypatch.setattr(ov_backend.OpenVinoBackend, "load", refusing_fp16)
    monkeypatch.setattr(ov.Core, "get_property", lambda self, device, key: ["FP32", "FP16", "BF16", "INT8"])
    ov_backend._openvino_compiles_at.cache_clear()
    try:
        offered = backends.native_precisions("openvino")
    finally:
        ov_backend._openvino_compiles_at.cache_clear()
    assert "fp16" not in offered and offered[0] == "fp32" and offered[-1] == "int8"


def wrong_int8_loads(path: Path, feeds: list[dict[str, np.ndarray]], loads: int, batch: int | None = None) -> list[str]:
    """Load ``path`` (an int8 model) ``loads`` times on OpenVINO with the throughput hint, all ``feeds`` in flight
    through submit(), and compare every batch with one synchronous LATENCY request; one line per wrong batch.

    Also checks the layout every load: no compiled int8 model runs more than one stream (OpenVINO 2026.4.1 gave
    wrong outputs on some loads of an int8 SE-ResNet50 on 2 streams, too rarely to rely on seeing them)."""
    one = backends.load_backend("openvino", path, threads=2, batch=batch, hint=backends.LATENCY)
    expected = [one.run(f)[0] for f in feeds]
    del one
    wrong = []
    for load in range(loads):
        backend = backends.load_backend("openvino", path, threads=2, batch=batch, hint=backends.THROUGHPUT)
        assert backend.precision == "int8" and backend.compiled_streams == [1] * backend.streams
        assert backend.requests == backend.streams  # one request per one-stream model, as the plugin's own count
        got: dict[int, np.ndarray] = {}
        backend.start(lambda token, outputs, *timing, got=got: got.__setitem__(token, outputs[0]))
        for token, feed in enumerate(feeds):
            backend.submit(feed, token)
        backend.wait_all()
        assert sorted(got) == list(range(len(feeds)))
        for token, want in enumerate(expected):
            err = relative_error(got[token], want)
            if err > 1e-3:
                wrong.append(f"load {load + 1}, batch {token}: relative error {err:.2e}")
        del backend
    return wrong


def test_openvino_int8_throughput_is_one_stream_models_and_matches_one_request(tmp_path: Path) -> None:
    """int8 under the throughput hint: as many one-stream compiled models as the plugin picks streams, fed from
    one queue, every batch equal to one synchronous request's; fp32 keeps the plugin's own streams."""
    from onnx_models import qdq_conv_model

    path = qdq_conv_model(tmp_path / "int8.onnx", batch=4)
    rng = np.random.default_rng(5)
    feeds = [{INPUT_NAME: rng.integers(0, 256, (4, 56, 56, 3), dtype=np.uint8)} for _ in range(12)]
    assert wrong_int8_loads(path, feeds, loads=3) == []
    fp32 = with_precision(path, tmp_path / "fp32.onnx", "fp32")
    backend = backends.load_backend("openvino", fp32, threads=2, hint=backends.THROUGHPUT)
    assert backend.compiled_streams == [backend.streams]


@pytest.mark.slow
@pytest.mark.torch
def test_openvino_int8_se_resnet50_throughput_matches_one_request(dynamic_onnx: Path, tmp_path: Path) -> None:
    """The quantized demo SE-ResNet50 (the model whose 2-stream loads went wrong): 6 loads of 8 batches in flight,
    every batch equal to one synchronous request's. Random-init weights: int8 drift is large, but it is the same
    on both sides."""
    from senet_infer.quantize import quantize_model

    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(6)
    for i in range(2):
        rng.standard_normal((3, 224, 224)).astype(np.float32).tofile(calib / f"c{i}.bin")
    int8 = quantize_model(dynamic_onnx, tmp_path / "int8" / "se_resnet50", {INPUT_NAME: (2, 3, 224, 224)}, calib,
                          batch_num=1).deploy
    feeds = [{INPUT_NAME: rng.standard_normal((4, 3, 224, 224)).astype(np.float32)} for _ in range(8)]
    wrong = wrong_int8_loads(int8, feeds, loads=6, batch=4)
    assert wrong == [], "int8 outputs on the throughput hint differ from one request: " + "; ".join(wrong)

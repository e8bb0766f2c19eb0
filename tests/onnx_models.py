"""ONNX models built with onnx.helper alone, for the tests that run without torch (``--without-torch``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from senet_infer.export import INPUT_NAME, OPSET, OUTPUT_NAME


def se_like_model(path: Path, classes: int = 1000, width: int = 8, seed: int = 0) -> Path:
    """Step 2's contract without torch: ``image`` [batch,3,224,224] fp32 -> ``class`` [batch,classes], opset 11.

    A strided stem convolution, one squeeze-and-excitation residual block, global pooling and a
    linear layer, with seeded weights: every logit depends on the whole image, as in SE-ResNet50.
    The IR version is the lowest that opset 11 needs, so old ONNX Runtime releases read it too.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def he(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)

    squeeze = max(1, width // 4)
    weights = {
        "stem_w": he(width, 3, 3, 3), "stem_b": np.zeros(width, np.float32),
        "conv_w": he(width, width, 3, 3), "conv_b": (0.1 * rng.standard_normal(width)).astype(np.float32),
        "se_down_w": he(squeeze, width, 1, 1), "se_down_b": np.zeros(squeeze, np.float32),
        "se_up_w": he(width, squeeze, 1, 1), "se_up_b": np.zeros(width, np.float32),
        "fc_w": (rng.standard_normal((classes, width)) / np.sqrt(width)).astype(np.float32),
        "fc_b": np.zeros(classes, np.float32),
    }
    node = helper.make_node
    nodes = [
        node("Conv", [INPUT_NAME, "stem_w", "stem_b"], ["stem"], strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Relu", ["stem"], ["x"]),
        node("Conv", ["x", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        node("GlobalAveragePool", ["conv"], ["squeezed"]),
        node("Conv", ["squeezed", "se_down_w", "se_down_b"], ["se_down"]),
        node("Relu", ["se_down"], ["se_relu"]),
        node("Conv", ["se_relu", "se_up_w", "se_up_b"], ["se_up"]),
        node("Sigmoid", ["se_up"], ["gate"]),
        node("Mul", ["conv", "gate"], ["excited"]),
        node("Add", ["excited", "x"], ["residual"]),
        node("Relu", ["residual"], ["block"]),
        node("GlobalAveragePool", ["block"], ["pooled"]),
        node("Flatten", ["pooled"], ["features"], axis=1),
        node("Gemm", ["features", "fc_w", "fc_b"], [OUTPUT_NAME], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "se_like",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model_gen_version(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def qdq_conv_model(path: Path, batch: int = 4, size: int = 56, width: int = 64, depth: int = 4, seed: int = 0) -> Path:
    """An int8 (QDQ) model as ``amct_calibrate.py`` writes them, without torch: uint8 ``image``
    [batch,size,size,3] -> ``class`` [batch,10]; ``depth`` 3x3 convolutions of ``width`` channels whose
    activations and weights pass through QuantizeLinear/DequantizeLinear, so OpenVINO runs them as int8
    kernels. Metadata ``senet_infer.precision`` = int8; seeded weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    node = helper.make_node
    inits = [numpy_helper.from_array(np.array([0, 3, 1, 2], np.int64), "perm"),
             numpy_helper.from_array(np.array(1 / 64, np.float32), "scale_in"),
             numpy_helper.from_array(np.array(0, np.uint8), "zero_u8"),
             numpy_helper.from_array(np.array(0, np.int8), "zero_i8")]
    nodes = [node("Cast", [INPUT_NAME], ["as_float"], to=TensorProto.FLOAT),
             node("Transpose", ["as_float"], ["nchw"], perm=[0, 3, 1, 2]),
             node("Mul", ["nchw", "scale_in"], ["x0"])]
    channels, x = 3, "x0"
    for i in range(depth):
        w = (rng.standard_normal((width, channels, 3, 3)) * np.sqrt(2.0 / (9 * channels))).astype(np.float32)
        w_scale = np.abs(w).reshape(width, -1).max(1) / 127
        inits += [numpy_helper.from_array(np.round(w / w_scale[:, None, None, None]).astype(np.int8), f"w{i}"),
                  numpy_helper.from_array(w_scale.astype(np.float32), f"w{i}_scale"),
                  numpy_helper.from_array(np.zeros(width, np.int8), f"w{i}_zero"),
                  numpy_helper.from_array((0.05 * rng.standard_normal(width)).astype(np.float32), f"b{i}"),
                  numpy_helper.from_array(np.array(4.0 / 255, np.float32), f"a{i}_scale")]
        nodes += [node("QuantizeLinear", [x, f"a{i}_scale", "zero_u8"], [f"q{i}"]),
                  node("DequantizeLinear", [f"q{i}", f"a{i}_scale", "zero_u8"], [f"dq{i}"]),
                  node("DequantizeLinear", [f"w{i}", f"w{i}_scale", f"w{i}_zero"], [f"wf{i}"], axis=0),
                  node("Conv", [f"dq{i}", f"wf{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  node("Relu", [f"c{i}"], [f"x{i + 1}"])]
        channels, x = width, f"x{i + 1}"
    fc = (rng.standard_normal((channels, 10)) / np.sqrt(channels)).astype(np.float32)
    inits.append(numpy_helper.from_array(fc, "fc"))
    nodes += [node("GlobalAveragePool", [x], ["pooled"]), node("Flatten", ["pooled"], ["features"], axis=1),
              node("MatMul", ["features", "fc"], [OUTPUT_NAME])]
    graph = helper.make_graph(
        nodes, "qdq_conv", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, [batch, size, size, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [batch, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    helper.set_model_props(model, {"senet_infer.precision": "int8"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path

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

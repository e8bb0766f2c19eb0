"""A model's metadata: the AIPP a converted model carries reads back as the ops the converter fused in."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from test_convert import GUIDE_CONFIG, small_op, tiny_model

from senet_infer.aipp import apply_aipp, parse_aipp_config, parse_aipp_text
from senet_infer.convert import convert_model
from senet_infer.errors import PipelineError
from senet_infer.modelmeta import AIPP_KEY, PRECISION_KEY, metadata_of, model_precision, read_aipp, store_metadata
from senet_infer.onnxgraph import resolve_model_aipp


def test_the_guides_aipp_reads_back_as_the_resolved_ops(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 224})
    shapes = {"image": (2, 3, 224, 224)}
    ops = parse_aipp_config(GUIDE_CONFIG)
    resolved = resolve_model_aipp(onnx.load(str(source)), shapes, ops)
    result = convert_model(source, tmp_path / "tiny_bs2", shapes, ops, check=False)

    back = read_aipp(result.path)
    assert back == resolved and [op.to_dict() for op in back] == [op.to_dict() for op in resolved]
    assert back[0].describe() == resolved[0].describe()
    images = np.random.default_rng(1).integers(0, 256, size=back[0].input_shape(2), dtype=np.uint8)
    assert np.array_equal(apply_aipp(images, back[0]), apply_aipp(images, resolved[0]))


def test_what_the_model_settled_comes_back_settled(tmp_path: Path) -> None:
    """A block that names its input and leaves its size to the model reads back with the rank and size it got."""
    text = ("aipp_op {\n  aipp_mode: static\n  related_input_name: \"b\"\n  input_format: RGB888_U8\n"
            "  src_image_size_w: 0\n  src_image_size_h: 0\n  rbuv_swap_switch: true\n"
            "  mean_chn_0: 10\n  min_chn_1: 0.5\n  var_reci_chn_2: 0.0171247538316637\n}\n")
    ops = parse_aipp_text(text, "named.config")
    source = tiny_model(tmp_path / "two.onnx", {"a": 6, "b": 8})
    shapes = {"a": (2, 3, 6, 6), "b": (2, 3, 8, 8)}
    result = convert_model(source, tmp_path / "two_bs2", shapes, ops, check=False)

    (op,) = read_aipp(result.path)
    assert op == resolve_model_aipp(onnx.load(str(source)), shapes, ops)[0]
    assert (op.related_input_rank, op.src_hw, op.var_reci_chn[2]) == (1, (8, 8), 0.0171247538316637)


def test_an_op_made_in_code_is_recorded_whole(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    op = small_op()
    result = convert_model(source, tmp_path / "tiny_bs3", {"image": (3, 3, 8, 8)}, [op], check=False)
    assert read_aipp(result.path) == [op]


def test_no_aipp_and_broken_records(tmp_path: Path) -> None:
    source = tiny_model(tmp_path / "tiny.onnx", {"image": 8})
    plain = convert_model(source, tmp_path / "plain", {"image": (2, 3, 8, 8)}, check=False).path
    assert read_aipp(plain) == [] and model_precision(plain) == "fp32"
    ir = tmp_path / "model.xml"
    ir.write_text("<net/>")
    assert read_aipp(ir) == [] and model_precision(ir) == "fp32"  # OpenVINO IR carries no metadata

    model = onnx.load(str(plain))
    for record, problem in (("[{", "not JSON"), ('{"crop": true}', "expected a list of AIPP blocks"),
                            ('[{"aipp_mode": "static", "crop": [1]}]', "crop: [1] is not a value")):
        store_metadata(model, {**metadata_of(model), AIPP_KEY: record, PRECISION_KEY: "bf16"})
        broken = tmp_path / "broken.onnx"
        onnx.save(model, str(broken))
        with pytest.raises(PipelineError, match=f"^{re.escape(str(broken))}: metadata senet_infer\\.aipp.*{re.escape(problem)}") as err:
            read_aipp(broken)
        assert "\n" not in str(err.value)
    assert model_precision(broken) == "bf16"
    with pytest.raises(PipelineError, match="missing.onnx: model not found"):
        read_aipp(tmp_path / "missing.onnx")


def test_store_metadata_keeps_order_and_replaces() -> None:
    model = onnx.ModelProto()
    store_metadata(model, {"b": "1", "a": "2"})
    store_metadata(model, {**metadata_of(model), "b": "3", "c": "4"})
    assert [(p.key, p.value) for p in model.metadata_props] == [("b", "3"), ("a", "2"), ("c", "4")]
    assert metadata_of(model) == {"b": "3", "a": "2", "c": "4"}

"""What a model file says about itself: every ``senet_infer.*`` key of its ``metadata_props``, and their readers.

The converter (step 3) and the quantizer write these string entries; the runner's backends and the driver read them:

* :data:`PRECISION_KEY`: the precision the model is meant to run at, one of fp32 | fp16 | bf16 | int8
  (:func:`model_precision`; fp32 when absent). The graph of a converted model stays fp32 whatever it says.
* :data:`AIPP_KEY`: the AIPP blocks fused into the graph, as JSON (one object per block, the keys its config
  set); :func:`read_aipp` reads them back as the same :class:`~senet_infer.aipp.AippOp` values the converter used.
* :data:`INPUT_SHAPE_KEY` (``--input_shape``), :data:`SOURCE_KEY` (the source model's file name), and
  :data:`METADATA_PREFIX` + the flag's name for every other ATC flag given.
* :data:`QUANTIZER_KEY`, :data:`AMCT_MODEL_KEY` (deploy | fake_quant), :data:`CALIBRATION_KEY`: how an int8
  model was made (``amct_calibrate.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List

from .aipp import FIELDS, AippOp, Value, parse_aipp_text
from .errors import PipelineError, first_line
from .onnxgraph import onnx_module, parse_input_shape, resolve_model_aipp
from .precision import DEFAULT_PRECISION, PRECISIONS

if TYPE_CHECKING:
    import onnx

METADATA_PREFIX = "senet_infer."
PRECISION_KEY = METADATA_PREFIX + "precision"
AIPP_KEY = METADATA_PREFIX + "aipp"
INPUT_SHAPE_KEY = METADATA_PREFIX + "input_shape"
SOURCE_KEY = METADATA_PREFIX + "source_model"
QUANTIZER_KEY = METADATA_PREFIX + "quantizer"
AMCT_MODEL_KEY = METADATA_PREFIX + "amct_model"
CALIBRATION_KEY = METADATA_PREFIX + "calibration"


def metadata_of(model: onnx.ModelProto) -> Dict[str, str]:
    """A loaded model's ``metadata_props`` as a dict, in file order."""
    return {prop.key: prop.value for prop in model.metadata_props}


def store_metadata(model: onnx.ModelProto, entries: Mapping[str, str]) -> None:
    """Replace ``model``'s ``metadata_props`` by ``entries``, in their order."""
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)


def _load_header(path: str | os.PathLike[str]) -> onnx.ModelProto | None:
    """The ONNX model at ``path`` without its external weights; None for another format (OpenVINO IR has no metadata)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: model not found")
    if path.suffix.lower() != ".onnx":
        return None
    onnx = onnx_module()
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise PipelineError(f"{path}: not a readable ONNX model: {first_line(exc)}") from None


def read_metadata(path: str | os.PathLike[str]) -> Dict[str, str]:
    """The ``metadata_props`` of the model file at ``path`` ({} for a format other than ONNX)."""
    model = _load_header(path)
    return {} if model is None else metadata_of(model)


def model_precision(path: str | os.PathLike[str]) -> str:
    """The precision stored in a model's metadata (:data:`PRECISION_KEY`); fp32 when absent.

    This, not the graph, is what a backend runs: fp16 and bf16 leave no trace in the fp32 graph. int8 is also
    in the graph (:func:`senet_infer.precision.is_quantized`), which the converter and quantizer read once to
    record it here.
    """
    path = Path(path)
    value = read_metadata(path).get(PRECISION_KEY, DEFAULT_PRECISION).strip().lower()
    if value not in PRECISIONS:
        raise PipelineError(f"{path}: metadata {PRECISION_KEY}={value!r} is not one of {', '.join(PRECISIONS)}")
    return value


def aipp_entry(ops: Sequence[AippOp]) -> str:
    """The :data:`AIPP_KEY` value recording ``ops`` as JSON, one object of config keys per block: what :func:`read_aipp` reads."""
    return json.dumps([_config_keys(op) for op in ops])


def _config_keys(op: AippOp) -> Dict[str, Value]:
    """The keys ``op``'s config block set; for an op made in code (no file behind it), every field it holds."""
    if op.given:
        return op.to_dict()
    keys: Dict[str, Value] = {"aipp_mode": op.aipp_mode, "related_input_rank": op.related_input_rank}
    if op.related_input_name:
        keys["related_input_name"] = op.related_input_name
    if op.input_edge_idx is not None:
        keys["input_edge_idx"] = op.input_edge_idx
    keys.update(input_format=op.input_format, src_image_size_w=op.src_image_size_w, src_image_size_h=op.src_image_size_h,
                crop=op.crop, load_start_pos_w=op.load_start_pos_w, load_start_pos_h=op.load_start_pos_h,
                crop_size_w=op.crop_size_w, crop_size_h=op.crop_size_h, rbuv_swap_switch=op.rbuv_swap_switch)
    for chn in range(4):
        keys[f"mean_chn_{chn}"] = int(op.mean_chn[chn])
        keys[f"min_chn_{chn}"] = float(op.min_chn[chn])
        keys[f"var_reci_chn_{chn}"] = float(op.var_reci_chn[chn])
    return keys


def read_aipp(path: str | os.PathLike[str]) -> List[AippOp]:
    """The AIPP ops fused into the converted model at ``path`` (:data:`AIPP_KEY`), settled against the model's inputs
    and its recorded ``--input_shape`` as the converter settled them; [] when it has none.

    The record holds the keys each block's config set, so the ops are read back through the AIPP config parser
    (and its checks) and :func:`senet_infer.onnxgraph.resolve_model_aipp`, the way the converter made them.
    """
    path = Path(path)
    model = _load_header(path)
    meta = {} if model is None else metadata_of(model)
    if model is None or not meta.get(AIPP_KEY):
        return []
    where = f"{path}: metadata {AIPP_KEY}"
    try:
        blocks = json.loads(meta[AIPP_KEY])
    except ValueError as exc:
        raise PipelineError(f"{where}: not JSON ({exc})") from None
    if not isinstance(blocks, list) or not blocks or not all(isinstance(block, dict) for block in blocks):
        raise PipelineError(f"{where}: expected a list of AIPP blocks (JSON objects)")
    if not meta.get(INPUT_SHAPE_KEY):
        raise PipelineError(f"{path}: metadata {AIPP_KEY} without {INPUT_SHAPE_KEY}: not a model aipp_convert.py wrote")
    ops = parse_aipp_text("".join(_block_text(block, where) for block in blocks), where)
    return resolve_model_aipp(model, parse_input_shape(meta[INPUT_SHAPE_KEY]), ops)


def _block_text(block: Mapping[str, object], where: str) -> str:
    """One ``aipp_op { ... }`` block of AIPP config text with the recorded keys and values."""
    lines = [f"  {key}: {_value_text(key, value, where)}\n" for key, value in block.items()]
    return "aipp_op {\n" + "".join(lines) + "}\n"


def _value_text(key: str, value: object, where: str) -> str:
    """``value`` as the config's text format writes it: booleans as true/false, strings quoted, enums bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # repr round-trips a float exactly
    if isinstance(value, str):
        spec = FIELDS.get(key)
        if spec is not None and spec.kind == "string":
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        return value
    raise PipelineError(f"{where}: {key}: {value!r} is not a value an AIPP config holds")


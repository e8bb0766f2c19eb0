"""The fields of ATC's ``insert_op.proto`` ``aipp_op`` message: their types, ranges and enum names.

:func:`convert` checks one value token against its field, as ATC does while it reads the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from .textproto import BOOLS, LineErrors, Token, parse_float, parse_int, unquote

Value = Union[bool, int, float, str]

# Enum values in the order of their numbers in ATC's insert_op.proto (0 is the unset value).
AIPP_MODES = ("undefined", "static", "dynamic")
# input_format values ATC knows; only RGB888_U8 is implemented here.
INPUT_FORMATS = (
    "UNDEFINED", "YUV420SP_U8", "XRGB8888_U8", "RGB888_U8", "YUV400_U8", "NC1HWC0DI_FP16", "NC1HWC0DI_S8",
    "ARGB8888_U8", "YUYV_U8", "YUV422SP_U8", "AYUV444_U8", "RAW10", "RAW12", "RAW16", "RAW24",
    "RGB16", "RGB20", "RGB24", "RGB8_IR", "RGB16_IR", "RGB24_IR",
)
SUPPORTED_INPUT_FORMATS = ("RGB888_U8",)
FP16_MAX = 65504.0
MAX_IMAGE_SIZE = 4096
MAX_PADDING = 32


@dataclass(frozen=True)
class Spec:
    """A field's type and allowed values."""

    kind: str  # "enum" | "bool" | "int" | "float" | "string"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()  # enum names, index = the proto's number
    repeated: bool = False  # a proto 'repeated' field: ATC still takes at most one value


def _field_specs() -> dict[str, Spec]:
    size = Spec("int", 0, MAX_IMAGE_SIZE)
    specs: dict[str, Spec] = {
        "aipp_mode": Spec("enum", choices=AIPP_MODES),
        "related_input_rank": Spec("int", 0, 2**32 - 1),
        "related_input_name": Spec("string"),
        "input_edge_idx": Spec("int", 0, 2**32 - 1, repeated=True),
        "input_format": Spec("enum", choices=INPUT_FORMATS),
        "src_image_size_w": size,
        "src_image_size_h": size,
        "crop": Spec("bool"),
        "load_start_pos_w": Spec("int", 0, MAX_IMAGE_SIZE - 1),
        "load_start_pos_h": Spec("int", 0, MAX_IMAGE_SIZE - 1),
        "crop_size_w": size,
        "crop_size_h": size,
        "resize": Spec("bool"),
        "resize_output_w": size,
        "resize_output_h": size,
        "padding": Spec("bool"),
        # the proto's name is cpadding_value; ATC's documentation writes padding_value
        "padding_value": Spec("float", -FP16_MAX, FP16_MAX),
        "cpadding_value": Spec("float", -FP16_MAX, FP16_MAX),
        "raw_rgbir_to_f16_n": Spec("int", 0, 2**32 - 1),
        "csc_switch": Spec("bool"),
        "rbuv_swap_switch": Spec("bool"),
        "ax_swap_switch": Spec("bool"),
        "single_line_mode": Spec("bool"),
        # dynamic-mode fields: accepted so that the error names aipp_mode, not an unknown key
        "max_src_image_size": Spec("int", 0, 2**32 - 1),
        "support_rotation": Spec("bool"),
    }
    for side in ("left", "right", "top", "bottom"):
        specs[f"{side}_padding_size"] = Spec("int", 0, MAX_PADDING)
    for row in range(3):
        for col in range(3):
            specs[f"matrix_r{row}c{col}"] = Spec("int", -32768, 32767, repeated=True)
        specs[f"input_bias_{row}"] = Spec("int", 0, 255, repeated=True)
        specs[f"output_bias_{row}"] = Spec("int", 0, 255, repeated=True)
    for chn in range(4):
        specs[f"mean_chn_{chn}"] = Spec("int", 0, 255)
        specs[f"min_chn_{chn}"] = Spec("float", 0, 255)
        specs[f"var_reci_chn_{chn}"] = Spec("float", -FP16_MAX, FP16_MAX, repeated=True)
    return specs


FIELDS: dict[str, Spec] = _field_specs()


def convert(key: str, token: Token, err: LineErrors) -> Value:
    """A value token checked against the field's type and range, and converted."""
    spec = FIELDS[key]
    if spec.kind == "string":
        if token.kind != "string":
            raise err(token.line, key, f"expected a quoted string, got {token.text!r}")
        return unquote(token, key, err)
    if token.kind == "string":
        raise err(token.line, key, f"expected {_expected(spec)}, got the quoted string {token.text}")
    if token.kind != "word":
        raise err(token.line, key, f"expected a value, got {token.text!r}")
    text = token.text
    if spec.kind == "enum":
        number = parse_int(text)
        if number is not None:
            if not 0 <= number < len(spec.choices):
                raise err(token.line, key, f"unknown value {text} (expected one of "
                          + ", ".join(f"{name} ({n})" for n, name in enumerate(spec.choices)) + ")")
            return spec.choices[number]
        if text not in spec.choices:
            raise err(token.line, key, f"unknown value {text!r} (expected one of {', '.join(spec.choices)})")
        return text
    if spec.kind == "bool":
        if text not in BOOLS:
            raise err(token.line, key, f"expected true or false, got {text!r}")
        return BOOLS[text]
    value: int | float
    if spec.kind == "int":
        integer = parse_int(text)
        if integer is None:
            raise err(token.line, key, f"expected an integer, got {text!r}")
        value = integer
    else:
        real = parse_float(text)
        if real is None:
            raise err(token.line, key, f"expected a number, got {text!r}")
        value = real
        if not math.isfinite(value):
            raise err(token.line, key, f"expected a finite number, got {text!r}")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise err(token.line, key, f"{text} is outside [{_num(spec.low)}, {_num(spec.high)}]")
    return value


def _expected(spec: Spec) -> str:
    return {"enum": "a bare name or number", "bool": "true or false", "int": "an integer",
            "float": "a number", "string": "a quoted string"}[spec.kind]


def _num(value: float | None) -> str:
    return f"{value:g}" if value is not None else "?"

"""ATC's AIPP config: the one parser for its protobuf-text format, ATC's checks, and the numpy arithmetic.

A config holds one ``aipp_op { key: value ... }`` block per model input (``related_input_rank``
picks the input, default 0; ``related_input_name`` picks it by name instead). The syntax is
protobuf text format as ATC reads it for its ``insert_op.proto``: enum values by name or number
(``aipp_mode: 1`` is ``static``), booleans ``true/True/t/1`` and ``false/False/f/0``, integers in
decimal, hex (``0x10``) or octal (``010``), quoted strings, ``aipp_op { }`` / ``aipp_op: { }`` /
``aipp_op < >``, ``;`` or ``,`` between fields and ``key: [value]`` lists for the repeated fields.
:func:`parse_aipp_config` reads it, applies the rules ATC enforces and rejects, by name, what the
portable converter does not implement (dynamic mode, formats other than RGB888_U8, colour-space
conversion, resize, padding, the alpha swap). Every problem is one :class:`PipelineError` line
``<file>:<line>: <field>: <problem>``. What depends on the model (``related_input_name``,
``input_edge_idx``, sizes of 0 meaning "the model's size") is settled by
:func:`resolve_aipp_ops` once the model's inputs are known.

:func:`apply_aipp` is the single numpy implementation of what a static AIPP block computes
(channel swap, crop, ``(x - mean_chn - min_chn) * var_reci_chn`` in float32, HWC -> CHW). The
converter's graph, its fidelity check and the pipeline's fidelity step all follow it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Union

import numpy as np

from .errors import PipelineError

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
CHANNELS = {"RGB888_U8": 3}
FP16_MAX = 65504.0
MAX_IMAGE_SIZE = 4096
MAX_PADDING = 32


@dataclass(frozen=True)
class _Spec:
    kind: str  # "enum" | "bool" | "int" | "float" | "string"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()  # enum names, index = the proto's number
    repeated: bool = False  # a proto 'repeated' field: ATC still takes at most one value


def _field_specs() -> dict[str, _Spec]:
    size = _Spec("int", 0, MAX_IMAGE_SIZE)
    specs: dict[str, _Spec] = {
        "aipp_mode": _Spec("enum", choices=AIPP_MODES),
        "related_input_rank": _Spec("int", 0, 2**32 - 1),
        "related_input_name": _Spec("string"),
        "input_edge_idx": _Spec("int", 0, 2**32 - 1, repeated=True),
        "input_format": _Spec("enum", choices=INPUT_FORMATS),
        "src_image_size_w": size,
        "src_image_size_h": size,
        "crop": _Spec("bool"),
        "load_start_pos_w": _Spec("int", 0, MAX_IMAGE_SIZE - 1),
        "load_start_pos_h": _Spec("int", 0, MAX_IMAGE_SIZE - 1),
        "crop_size_w": size,
        "crop_size_h": size,
        "resize": _Spec("bool"),
        "resize_output_w": size,
        "resize_output_h": size,
        "padding": _Spec("bool"),
        # the proto's name is cpadding_value; ATC's documentation writes padding_value
        "padding_value": _Spec("float", -FP16_MAX, FP16_MAX),
        "cpadding_value": _Spec("float", -FP16_MAX, FP16_MAX),
        "raw_rgbir_to_f16_n": _Spec("int", 0, 2**32 - 1),
        "csc_switch": _Spec("bool"),
        "rbuv_swap_switch": _Spec("bool"),
        "ax_swap_switch": _Spec("bool"),
        "single_line_mode": _Spec("bool"),
        # dynamic-mode fields: accepted so that the error names aipp_mode, not an unknown key
        "max_src_image_size": _Spec("int", 0, 2**32 - 1),
        "support_rotation": _Spec("bool"),
    }
    for side in ("left", "right", "top", "bottom"):
        specs[f"{side}_padding_size"] = _Spec("int", 0, MAX_PADDING)
    for row in range(3):
        for col in range(3):
            specs[f"matrix_r{row}c{col}"] = _Spec("int", -32768, 32767, repeated=True)
        specs[f"input_bias_{row}"] = _Spec("int", 0, 255, repeated=True)
        specs[f"output_bias_{row}"] = _Spec("int", 0, 255, repeated=True)
    for chn in range(4):
        specs[f"mean_chn_{chn}"] = _Spec("int", 0, 255)
        specs[f"min_chn_{chn}"] = _Spec("float", 0, 255)
        specs[f"var_reci_chn_{chn}"] = _Spec("float", -FP16_MAX, FP16_MAX, repeated=True)
    return specs


FIELDS: dict[str, _Spec] = _field_specs()

# Switches that must stay off: ATC implements them, the portable converter does not.
_UNSUPPORTED_SWITCHES = ("csc_switch", "resize", "padding", "ax_swap_switch")


@dataclass(frozen=True)
class AippOp:
    """One static ``aipp_op`` block: the fields the arithmetic uses, plus everything the file set."""

    aipp_mode: str = "static"
    related_input_rank: int = 0
    related_input_name: str = ""  # when set, the input of that name (resolve_aipp_ops sets the rank)
    input_edge_idx: int | None = None  # which consumer of the input AIPP feeds (None: all)
    input_format: str = "RGB888_U8"
    src_image_size_w: int = 0
    src_image_size_h: int = 0
    crop: bool = False
    load_start_pos_w: int = 0
    load_start_pos_h: int = 0
    crop_size_w: int = 0
    crop_size_h: int = 0
    rbuv_swap_switch: bool = False
    mean_chn: tuple[int, int, int, int] = (0, 0, 0, 0)
    min_chn: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    var_reci_chn: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    # Every key the block set, in file order (inert ones such as matrix_r0c0 included), for the record.
    given: tuple[tuple[str, Value], ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)  # line of the block's ``aipp_op``

    @property
    def channels(self) -> int:
        """Channels of the input image and of the network input behind AIPP."""
        return CHANNELS[self.input_format]

    @property
    def src_hw(self) -> tuple[int, int]:
        """(height, width) of the uint8 input image."""
        return self.src_image_size_h, self.src_image_size_w

    @property
    def output_hw(self) -> tuple[int, int]:
        """(height, width) that AIPP hands to the network: the crop size, or the source size without crop."""
        if self.crop:
            return self.crop_size_h, self.crop_size_w
        return self.src_hw

    def input_shape(self, batch: int) -> tuple[int, int, int, int]:
        """NHWC shape of a uint8 input batch."""
        return batch, self.src_image_size_h, self.src_image_size_w, self.channels

    def normalisation(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (offset, scale) per output channel: ``out = (in - offset) * scale``, offset = mean + min."""
        c = self.channels
        # Summed in float64 and rounded once, so that the graph and numpy use the same constant.
        offset = np.array([self.mean_chn[i] + self.min_chn[i] for i in range(c)], dtype=np.float64)
        return offset.astype(np.float32), np.array(self.var_reci_chn[:c], dtype=np.float32)

    def describe(self) -> str:
        """One line: input, crop and normalisation."""
        h, w = self.src_hw
        parts = [f"{self.input_format} {h}x{w}"]
        if self.rbuv_swap_switch:
            parts.append("R/B swap")
        if self.crop:
            parts.append(f"crop {self.crop_size_h}x{self.crop_size_w} at ({self.load_start_pos_h},{self.load_start_pos_w})")
        offset, scale = self.normalisation()
        parts.append("normalise (x - " + ", ".join(f"{v:g}" for v in offset) + ") * ("
                     + ", ".join(f"{v:.6g}" for v in scale) + ")")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Value]:
        """The keys the block set, with their values (JSON-ready)."""
        return dict(self.given)


def apply_aipp(images: np.ndarray, op: AippOp) -> np.ndarray:
    """What the static AIPP block computes, in numpy.

    ``images``: uint8 NHWC ``[N, src_h, src_w, C]``, or one HWC image ``[src_h, src_w, C]``. A flat
    .bin buffer is the caller's to reshape: ``np.frombuffer(raw, np.uint8).reshape(op.input_shape(1))``.
    Returns float32 NCHW ``[N, C, out_h, out_w]`` (CHW for one image): R/B swap if set, crop, then
    ``(x - mean_chn - min_chn) * var_reci_chn`` in float32.
    """
    array = np.asarray(images)
    h, w = op.src_hw
    c = op.channels
    if array.dtype != np.uint8:
        raise PipelineError(f"AIPP input must be uint8 ({op.input_format}), got {array.dtype}")
    single = array.ndim == 3
    batch = array[None] if single else array
    if batch.ndim != 4 or batch.shape[1:] != (h, w, c):
        raise PipelineError(
            f"AIPP input shape {list(array.shape)} does not match src_image_size {h}x{w} with {c} channels "
            f"(expected [N, {h}, {w}, {c}] or [{h}, {w}, {c}])"
        )
    if op.rbuv_swap_switch:
        batch = batch[..., ::-1]
    if op.crop:
        top, left = op.load_start_pos_h, op.load_start_pos_w
        batch = batch[:, top:top + op.crop_size_h, left:left + op.crop_size_w, :]
    offset, scale = op.normalisation()
    out = (batch.astype(np.float32) - offset) * scale
    out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out[0] if single else out


# ---------------------------------------------------------------------------------------------
# Parser

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
    | (?P<space>[ \t\r\f\v]+)
    | (?P<comment>\#[^\n]*)
    | (?P<punct>[{}<>\[\]:;,])
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<word>[A-Za-z0-9_.+\-]+)
    """,
    re.VERBOSE,
)
# protobuf text format: decimal, 0x hex, 0-prefixed octal
_INT = re.compile(r"(?P<sign>[+-]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*))")
_BOOLS = {"true": True, "True": True, "t": True, "1": True,
          "false": False, "False": False, "f": False, "0": False}
_CLOSE = {"{": "}", "<": ">"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|[xX]([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
# Top-level messages of insert_op.proto other than aipp_op.
_OTHER_MESSAGES = ("multi_shape_op",)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int


@dataclass
class _Block:
    line: int
    values: dict[str, Value] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, *keys: str) -> int:
        """Line of the first of ``keys`` the block sets; else the block's own line."""
        for key in keys:
            if key in self.lines:
                return self.lines[key]
        return self.line


class _Errors:
    """Formats ``<file>:<line>: <field>: <problem>`` errors for one config file."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, line: int, what: str, problem: str | None = None) -> PipelineError:
        text = f"{what}: {problem}" if problem is not None else what
        return PipelineError(f"{self.name}:{line}: {text}")


def _tokenize(text: str, err: _Errors) -> list[_Token]:
    tokens: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise err(line, "unterminated string")
            raise err(line, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind in ("punct", "string", "word"):
            tokens.append(_Token(kind, match.group(), line))
        pos = match.end()
    return tokens


def _unquote(token: _Token, key: str, err: _Errors) -> str:
    """The text of a quoted protobuf string, escapes decoded."""

    def decode(match: re.Match) -> str:
        octal, hexa, char = match.groups()
        if octal is not None:
            return chr(int(octal, 8))
        if hexa is not None:
            return chr(int(hexa, 16))
        if char in _ESCAPES:
            return _ESCAPES[char]
        raise err(token.line, key, f"invalid escape '\\{char}' in {token.text}")

    return _ESCAPE.sub(decode, token.text[1:-1])


def _parse_int(text: str) -> int | None:
    match = _INT.fullmatch(text)
    if match is None:
        return None
    if match.group("hex") is not None:
        value = int(match.group("hex"), 16)
    elif match.group("oct") is not None:
        value = int(match.group("oct"), 8)
    else:
        value = int(match.group("dec"))
    return -value if match.group("sign") == "-" else value


def _convert(key: str, token: _Token, err: _Errors) -> Value:
    """Check a value token against the field's type and range."""
    spec = FIELDS[key]
    if spec.kind == "string":
        if token.kind != "string":
            raise err(token.line, key, f"expected a quoted string, got {token.text!r}")
        return _unquote(token, key, err)
    if token.kind == "string":
        raise err(token.line, key, f"expected {_expected(spec)}, got the quoted string {token.text}")
    if token.kind != "word":
        raise err(token.line, key, f"expected a value, got {token.text!r}")
    text = token.text
    if spec.kind == "enum":
        number = _parse_int(text)
        if number is not None:
            if not 0 <= number < len(spec.choices):
                raise err(token.line, key, f"unknown value {text} (expected one of "
                          + ", ".join(f"{name} ({n})" for n, name in enumerate(spec.choices)) + ")")
            return spec.choices[number]
        if text not in spec.choices:
            raise err(token.line, key, f"unknown value {text!r} (expected one of {', '.join(spec.choices)})")
        return text
    if spec.kind == "bool":
        if text not in _BOOLS:
            raise err(token.line, key, f"expected true or false, got {text!r}")
        return _BOOLS[text]
    value: int | float
    if spec.kind == "int":
        parsed = _parse_int(text)
        if parsed is None:
            raise err(token.line, key, f"expected an integer, got {text!r}")
        value = parsed
    else:
        parsed = _parse_int(text)
        if parsed is not None:
            value = float(parsed)
        else:
            try:
                value = float(text[:-1] if text[-1:] in "fF" and not text.lower().endswith("inf") else text)
            except (ValueError, OverflowError):
                raise err(token.line, key, f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise err(token.line, key, f"expected a finite number, got {text!r}")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise err(token.line, key, f"{text} is outside [{_num(spec.low)}, {_num(spec.high)}]")
    return value


def _expected(spec: _Spec) -> str:
    return {"enum": "a bare name or number", "bool": "true or false", "int": "an integer",
            "float": "a number", "string": "a quoted string"}[spec.kind]


def _num(value: float | None) -> str:
    return f"{value:g}" if value is not None else "?"


class _Reader:
    """Walks the token list of one config file."""

    def __init__(self, tokens: list[_Token], err: _Errors) -> None:
        self.tokens = tokens
        self.err = err
        self.i = 0

    def peek(self, offset: int = 0) -> _Token | None:
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else None

    def next(self) -> _Token | None:
        tok = self.peek()
        self.i += 1
        return tok

    def values(self, key: _Token) -> list[Value]:
        """The value(s) after ``key:``: one token, adjacent strings joined, or a ``[a, b]`` list."""
        spec = FIELDS[key.text]
        first = self.next()
        if first is None:
            raise self.err(key.line, key.text, "missing value")
        if first.kind == "punct" and first.text == "[":
            if not spec.repeated:
                raise self.err(first.line, key.text, "a list '[...]' is only allowed for repeated fields")
            items: list[Value] = []
            while True:
                tok = self.next()
                if tok is None:
                    raise self.err(first.line, key.text, "unterminated list: ']' missing")
                if tok.kind == "punct" and tok.text == "]" and not items:
                    return items
                items.append(_convert(key.text, tok, self.err))
                sep = self.next()
                if sep is not None and sep.kind == "punct" and sep.text == "]":
                    return items
                if sep is None or sep.text != ",":
                    raise self.err(first.line, key.text, "expected ',' or ']' in the list")
        if first.kind == "string" and spec.kind == "string":
            parts = [_unquote(first, key.text, self.err)]
            while True:  # protobuf text format joins adjacent string literals
                more = self.peek()
                if more is None or more.kind != "string":
                    return ["".join(parts)]
                parts.append(_unquote(more, key.text, self.err))
                self.i += 1
        return [_convert(key.text, first, self.err)]


def _parse_blocks(tokens: list[_Token], err: _Errors) -> list[_Block]:
    blocks: list[_Block] = []
    reader = _Reader(tokens, err)
    while reader.peek() is not None:
        tok = reader.next()
        assert tok is not None
        if tok.kind == "punct" and tok.text in "}>":
            raise err(tok.line, f"unbalanced braces: '{tok.text}' without a matching '{'{' if tok.text == '}' else '<'}'")
        if tok.kind == "word" and tok.text in _OTHER_MESSAGES:
            raise err(tok.line, tok.text, "not supported by the portable converter (aipp_op blocks only)")
        if tok.kind != "word" or tok.text != "aipp_op":
            raise err(tok.line, f"{tok.text}: outside an aipp_op block (the file holds only 'aipp_op {{ ... }}' blocks)")
        block = _Block(tok.line)
        nxt = reader.peek()
        if nxt is not None and nxt.text == ":":  # protobuf text allows 'aipp_op: { ... }'
            reader.i += 1
            nxt = reader.peek()
        if nxt is None or nxt.kind != "punct" or nxt.text not in _CLOSE:
            raise err(tok.line, "aipp_op", "expected '{' after aipp_op")
        close = _CLOSE[nxt.text]
        reader.i += 1
        while True:
            key = reader.peek()
            if key is None:
                raise err(block.line, "aipp_op", "unbalanced braces: the block opened here is never closed")
            if key.kind == "punct" and key.text == close:
                reader.i += 1
                break
            if key.kind == "punct" and key.text in ";,":
                reader.i += 1
                continue
            if key.kind != "word":
                raise err(key.line, f"unexpected {key.text!r} where a field name should be")
            if key.text == "aipp_op":
                raise err(key.line, "aipp_op", "blocks cannot be nested (is a '}' missing above?)")
            if key.text not in FIELDS:
                raise err(key.line, key.text, "unknown field")
            colon = reader.peek(1)
            if colon is None or colon.text != ":":
                raise err(key.line, key.text, "expected ':' after the field name")
            reader.i += 2
            values = reader.values(key)
            for value in values:
                if key.text in block.values:
                    if FIELDS[key.text].repeated:
                        raise err(key.line, key.text, f"can not be configured repeatedly (ATC takes one value; "
                                                      f"first on line {block.lines[key.text]})")
                    raise err(key.line, key.text, f"given twice (first on line {block.lines[key.text]})")
                block.values[key.text] = value
                block.lines[key.text] = key.line
        blocks.append(block)
    return blocks


def _build_op(block: _Block, source: str) -> AippOp:
    v = block.values
    chans = range(4)
    edge = v.get("input_edge_idx")
    return AippOp(
        aipp_mode=str(v.get("aipp_mode", "static")),
        related_input_rank=int(v.get("related_input_rank", 0)),
        related_input_name=str(v.get("related_input_name", "")),
        input_edge_idx=None if edge is None else int(edge),
        input_format=str(v.get("input_format", "RGB888_U8")),
        src_image_size_w=int(v.get("src_image_size_w", 0)),
        src_image_size_h=int(v.get("src_image_size_h", 0)),
        crop=bool(v.get("crop", False)),
        load_start_pos_w=int(v.get("load_start_pos_w", 0)),
        load_start_pos_h=int(v.get("load_start_pos_h", 0)),
        crop_size_w=int(v.get("crop_size_w", 0)),
        crop_size_h=int(v.get("crop_size_h", 0)),
        rbuv_swap_switch=bool(v.get("rbuv_swap_switch", False)),
        mean_chn=tuple(int(v.get(f"mean_chn_{c}", 0)) for c in chans),  # type: ignore[arg-type]
        min_chn=tuple(float(v.get(f"min_chn_{c}", 0.0)) for c in chans),  # type: ignore[arg-type]
        var_reci_chn=tuple(float(v.get(f"var_reci_chn_{c}", 1.0)) for c in chans),  # type: ignore[arg-type]
        given=tuple(v.items()),
        source=source,
        line=block.line,
    )


def _check_crop_inside(start: int, size: int, src: int, axis: str, raise_at) -> None:
    """ATC's rule load_start_pos + crop_size <= src_image_size (sizes of 0 are the model's, checked later)."""
    if size and src and start + size > src:
        raise_at(f"crop_size_{axis}", f"load_start_pos_{axis} + crop_size_{axis} = {start + size} > "
                                      f"src_image_size_{axis} = {src}")


def _check_atc_rules(block: _Block, err: _Errors) -> None:
    """The checks ATC itself makes on an AIPP config; per-field ranges were checked while parsing."""
    v = block.values
    if v.get("aipp_mode", "undefined") == "undefined":
        raise err(block.line_of("aipp_mode"), "aipp_mode", "not set (required: static or dynamic)")
    if v["aipp_mode"] == "dynamic":
        return  # a dynamic block carries no static parameters; rejected as unsupported afterwards
    if v.get("input_format", "UNDEFINED") == "UNDEFINED":
        raise err(block.line_of("input_format"), "input_format", "not set (required in static mode)")
    crop, padding = bool(v.get("crop", False)), bool(v.get("padding", False))
    for axis, low in (("w", 2), ("h", 1)):
        key = f"src_image_size_{axis}"
        size = int(v.get(key, 0))
        if size == 0 and (crop or padding):
            raise err(block.line_of(key), key, f"must be > 0 when {'crop' if crop else 'padding'} is true")
        if size != 0 and not low <= size <= MAX_IMAGE_SIZE:
            raise err(block.line_of(key), key, f"{size} is outside [{low}, {MAX_IMAGE_SIZE}]")
    if crop:
        for axis in ("w", "h"):
            start, size, src = (int(v.get(f"{k}_{axis}", 0)) for k in ("load_start_pos", "crop_size", "src_image_size"))

            def raise_at(key: str, problem: str, axis: str = axis) -> None:
                raise err(block.line_of(key, f"load_start_pos_{axis}"), key, problem)

            _check_crop_inside(start, size, src, axis, raise_at)
    if v["input_format"] == "YUV420SP_U8":
        keys = ["src_image_size_w", "src_image_size_h"] + (["load_start_pos_w", "load_start_pos_h"] if crop else [])
        for key in keys:
            if int(v.get(key, 0)) % 2:
                raise err(block.line_of(key), key, f"{v[key]} must be even for YUV420SP_U8")


def _check_supported(block: _Block, err: _Errors) -> None:
    """Reject, by name, what ATC accepts but the portable converter does not implement."""
    v = block.values
    if v["aipp_mode"] != "static":
        raise err(block.line_of("aipp_mode"), "aipp_mode",
                  f"{v['aipp_mode']} is not supported by the portable converter (static only)")
    if v["input_format"] not in SUPPORTED_INPUT_FORMATS:
        raise err(block.line_of("input_format"), "input_format",
                  f"{v['input_format']} is not supported by the portable converter "
                  f"({', '.join(SUPPORTED_INPUT_FORMATS)} only)")
    for key in _UNSUPPORTED_SWITCHES:
        if v.get(key, False):
            raise err(block.line_of(key), key, "true is not supported by the portable converter")


def _check_input_names(blocks: list[_Block], err: _Errors) -> None:
    """ATC's rules for related_input_name: all blocks name their input, or none; no name twice."""
    named = [b for b in blocks if b.values.get("related_input_name")]
    if not named:
        return
    unnamed = [b for b in blocks if not b.values.get("related_input_name")]
    if unnamed:
        raise err(unnamed[0].line, "related_input_name",
                  f"not set, but the aipp_op block on line {named[0].line} sets it: ATC requires "
                  f"related_input_name in every block or in none")
    seen: dict[str, int] = {}
    for block in named:
        name = str(block.values["related_input_name"])
        if name in seen:
            raise err(block.line_of("related_input_name"), "related_input_name",
                      f"{name!r} is used by two aipp_op blocks (lines {seen[name]} and {block.line})")
        seen[name] = block.line


def parse_aipp_text(text: str, name: str = "<aipp config>") -> list[AippOp]:
    """Parse AIPP config text; ``name`` is the file name used in error messages.

    Blocks come sorted by related_input_rank; blocks that name their input (related_input_name)
    come in file order, their rank set by :func:`resolve_aipp_ops`.
    """
    err = _Errors(name)
    blocks = _parse_blocks(_tokenize(text, err), err)
    if not blocks:
        raise PipelineError(f"{name}: no aipp_op block")
    for block in blocks:
        _check_atc_rules(block, err)
        _check_supported(block, err)
    _check_input_names(blocks, err)
    ops = [_build_op(block, name) for block in blocks]
    if any(op.related_input_name for op in ops):
        return ops
    by_rank: dict[int, AippOp] = {}
    for block, op in zip(blocks, ops):
        if op.related_input_rank in by_rank:
            first = by_rank[op.related_input_rank]
            raise err(block.line_of("related_input_rank"), "related_input_rank",
                      f"{op.related_input_rank} is used by two aipp_op blocks (lines {first.line} and {block.line})")
        by_rank[op.related_input_rank] = op
    return [by_rank[rank] for rank in sorted(by_rank)]


def parse_aipp_config(path: str | Path) -> list[AippOp]:
    """Parse and check an AIPP config file; one :class:`AippOp` per block (see :func:`parse_aipp_text`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: AIPP config not found") from None
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: not a text file (AIPP config expected)") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read AIPP config: {exc.strerror}") from None
    return parse_aipp_text(text, str(path))


# ---------------------------------------------------------------------------------------------
# What depends on the model


def resolve_aipp_ops(
    ops: Sequence[AippOp],
    input_names: Sequence[str],
    input_shapes: Mapping[str, Sequence[int]],
    consumers: Mapping[str, int],
) -> list[AippOp]:
    """Settle what the config leaves to the model, as ATC does; sorted by related_input_rank.

    ``input_names``: the model's inputs in order; ``input_shapes``: NCHW shapes of ``--input_shape``;
    ``consumers``: how many nodes read each input. ``related_input_name`` sets the rank;
    ``src_image_size_w/h: 0`` becomes the model input's W/H, and so does ``crop_size_w/h: 0``
    (ATC takes both from ``--input_shape``). ``input_edge_idx`` must name an existing consumer; one
    that leaves other consumers without AIPP is not supported. Ranks beyond the model's inputs and
    inputs without a shape are left for the converter to report.
    """
    resolved = []
    for op in ops:
        where = f"{op.source}:{op.line}" if op.source else "AIPP"
        rank = op.related_input_rank
        if op.related_input_name:
            if op.related_input_name not in input_names:
                raise PipelineError(f"{where}: related_input_name: {op.related_input_name!r} is not an input of "
                                    f"the model (its inputs: {', '.join(input_names)})")
            rank = list(input_names).index(op.related_input_name)
        changes: dict[str, object] = {"related_input_rank": rank}
        if rank < len(input_names):
            name = input_names[rank]
            if op.input_edge_idx is not None:
                count = consumers.get(name, 0)
                if op.input_edge_idx >= count:
                    raise PipelineError(f"{where}: input_edge_idx: {op.input_edge_idx} must be smaller than the "
                                        f"number of nodes reading input {name!r} ({count})")
                if count > 1:
                    raise PipelineError(f"{where}: input_edge_idx: {op.input_edge_idx} feeds AIPP to one of the "
                                        f"{count} nodes reading input {name!r}: not supported by the portable "
                                        f"converter (AIPP feeds every node that reads the input)")
            shape = input_shapes.get(name)
            if shape is not None and len(shape) == 4:
                model_h, model_w = int(shape[2]), int(shape[3])
                for axis, model_size in (("w", model_w), ("h", model_h)):
                    for key in (f"src_image_size_{axis}", f"crop_size_{axis}"):
                        if getattr(op, key) == 0 and (key.startswith("src") or op.crop):
                            changes[key] = model_size
        new = replace(op, **changes)  # type: ignore[arg-type]
        if new.crop:
            for axis in ("w", "h"):

                def raise_at(key: str, problem: str, where: str = where) -> None:
                    raise PipelineError(f"{where}: {key}: {problem} (sizes of 0 taken from --input_shape)")

                _check_crop_inside(getattr(new, f"load_start_pos_{axis}"), getattr(new, f"crop_size_{axis}"),
                                   getattr(new, f"src_image_size_{axis}"), axis, raise_at)
        resolved.append(new)
    return sorted(resolved, key=lambda op: op.related_input_rank)

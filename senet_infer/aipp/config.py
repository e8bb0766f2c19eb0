"""ATC's rules for an AIPP config file: read its ``aipp_op`` blocks, check them, settle what the model decides.

A config holds one ``aipp_op { key: value ... }`` block per model input (``related_input_rank``
picks the input, default 0; ``related_input_name`` picks it by name instead). The syntax is
protobuf text format as ATC reads it for its ``insert_op.proto`` (:mod:`.textproto`), the fields
and their ranges are :mod:`.fields`. :func:`parse_aipp_config` reads a file, applies the rules ATC
enforces and rejects, by name, what the portable converter does not implement (dynamic mode,
formats other than RGB888_U8, colour-space conversion, resize, padding, the alpha swap). Every
problem is one :class:`PipelineError` line ``<file>:<line>: <field>: <problem>``. What depends on
the model (``related_input_name``, ``input_edge_idx``, sizes of 0 meaning "the model's size") is
settled by :func:`resolve_aipp_ops` once the model's inputs are known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PipelineError
from .fields import FIELDS, MAX_IMAGE_SIZE, SUPPORTED_INPUT_FORMATS, Value, convert
from .ops import AippOp
from .textproto import LineErrors, Reader

# Switches that must stay off: ATC implements them, the portable converter does not.
_UNSUPPORTED_SWITCHES = ("csc_switch", "resize", "padding", "ax_swap_switch")
# Top-level messages of insert_op.proto other than aipp_op.
_OTHER_MESSAGES = ("multi_shape_op",)


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


def _parse_blocks(reader: Reader, err: LineErrors) -> list[_Block]:
    blocks: list[_Block] = []
    for tok in reader.top_level():
        if tok.kind == "word" and tok.text in _OTHER_MESSAGES:
            raise err(tok.line, tok.text, "not supported by the portable converter (aipp_op blocks only)")
        if tok.kind != "word" or tok.text != "aipp_op":
            raise err(tok.line, f"{tok.text}: outside an aipp_op block (the file holds only 'aipp_op {{ ... }}' blocks)")
        block = _Block(tok.line)
        for key in reader.field_names(tok, reader.open_message(tok)):
            if key.text == "aipp_op":
                raise err(key.line, "aipp_op", "blocks cannot be nested (is a '}' missing above?)")
            if key.text not in FIELDS:
                raise err(key.line, key.text, "unknown field")
            reader.colon(key)
            spec = FIELDS[key.text]
            values = reader.values(key, lambda token, key=key.text: convert(key, token, err),  # type: ignore[misc]
                                   repeated=spec.repeated, joins_strings=spec.kind == "string")
            for value in values:
                if key.text in block.values:
                    if spec.repeated:
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


def _check_crop_inside(start: int, size: int, src: int, axis: str, raise_at: Callable[[str, str], None]) -> None:
    """ATC's rule load_start_pos + crop_size <= src_image_size (sizes of 0 are the model's, checked later)."""
    if size and src and start + size > src:
        raise_at(f"crop_size_{axis}", f"load_start_pos_{axis} + crop_size_{axis} = {start + size} > "
                                      f"src_image_size_{axis} = {src}")


def _check_atc_rules(block: _Block, err: LineErrors) -> None:
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


def _check_supported(block: _Block, err: LineErrors) -> None:
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


def _check_input_names(blocks: list[_Block], err: LineErrors) -> None:
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
    err = LineErrors(name)
    blocks = _parse_blocks(Reader(text, err), err)
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

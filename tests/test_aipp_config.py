"""The AIPP config rules: the shipped file, ATC's checks, what the portable converter rejects, what the model settles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from aipp_configs import BLOCK_LINE, GUIDE_CONFIG, assert_error, config_text, line_of, parse_error, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senet_infer.aipp import FIELDS, AippOp, parse_aipp_config, parse_aipp_text, resolve_aipp_ops
from senet_infer.errors import PipelineError
from senet_infer.imagenet import MEAN, STD

# --- the shipped config ----------------------------------------------------------------------

def test_shipped_config_has_the_guides_values() -> None:
    (op,) = parse_aipp_config(GUIDE_CONFIG)
    assert (op.aipp_mode, op.input_format, op.related_input_rank) == ("static", "RGB888_U8", 0)
    assert op.src_hw == (256, 256) and op.crop is True
    assert (op.load_start_pos_h, op.load_start_pos_w) == (16, 16)
    assert op.output_hw == (224, 224) and op.channels == 3
    assert op.mean_chn[:3] == (0, 0, 0)
    assert op.min_chn[:3] == (123.675, 116.28, 103.53)
    assert op.var_reci_chn[:3] == (0.0171247538316637, 0.0175070028011204, 0.0174291938997821)
    np.testing.assert_allclose(op.min_chn[:3], 255 * np.array(MEAN), rtol=1e-12)
    np.testing.assert_allclose(op.var_reci_chn[:3], 1 / (255 * np.array(STD)), rtol=1e-12)
    assert op.source == str(GUIDE_CONFIG) and op.to_dict()["csc_switch"] is False
    assert op.input_shape(32) == (32, 256, 256, 3)


def test_generated_guide_block_parses_like_the_shipped_file(tmp_path: Path) -> None:
    assert parse_aipp_config(write(tmp_path, config_text())) == parse_aipp_config(GUIDE_CONFIG)


def test_blocks_are_sorted_by_related_input_rank(tmp_path: Path) -> None:
    second = config_text(related_input_rank="1", crop="false").replace("# test config\n", "")
    first = config_text(related_input_rank="0")
    ops = parse_aipp_config(write(tmp_path, second + first))
    assert [op.related_input_rank for op in ops] == [0, 1]
    assert ops[0].output_hw == (224, 224) and ops[1].output_hw == (256, 256)
    assert ops[1].line == 1 and ops[0].line == second.count("\n") + BLOCK_LINE


def test_two_blocks_with_the_same_rank(tmp_path: Path) -> None:
    first = config_text()
    text = first + config_text().replace("# test config\n", "")
    message = assert_error(tmp_path, text, first.count("\n") + 1, "related_input_rank", "two aipp_op blocks")
    assert f"lines {BLOCK_LINE} and {first.count(chr(10)) + 1}" in message


# --- ATC's rules: one test each ---------------------------------------------------------------

def test_rule_aipp_mode_is_required(tmp_path: Path) -> None:
    assert_error(tmp_path, config_text(aipp_mode=None), BLOCK_LINE, "aipp_mode", "not set")


def test_rule_input_format_is_required(tmp_path: Path) -> None:
    assert_error(tmp_path, config_text(input_format=None), BLOCK_LINE, "input_format", "not set")


@pytest.mark.parametrize("axis", ["w", "h"])
def test_rule_crop_stays_inside_the_source(tmp_path: Path, axis: str) -> None:
    text = config_text(**{f"load_start_pos_{axis}": "76"})
    assert_error(tmp_path, text, line_of(text, f"crop_size_{axis}"), f"crop_size_{axis}",
                 f"load_start_pos_{axis} + crop_size_{axis} = 300 > src_image_size_{axis} = 256")


def test_rule_source_size_is_needed_when_cropping(tmp_path: Path) -> None:
    text = config_text(src_image_size_h="0")
    assert_error(tmp_path, text, line_of(text, "src_image_size_h"), "src_image_size_h", "must be > 0 when crop is true")


@pytest.mark.parametrize(("key", "value", "bounds"), [
    ("src_image_size_w", "1", "[2, 4096]"),
    ("src_image_size_w", "4097", "4096]"),
    ("src_image_size_h", "5000", "4096]"),
])
def test_rule_source_size_range(tmp_path: Path, key: str, value: str, bounds: str) -> None:
    text = config_text(crop="false", **{key: value})
    assert_error(tmp_path, text, line_of(text, key), key, f"{value} is outside", bounds)


def test_rule_padding_size_at_most_32(tmp_path: Path) -> None:
    text = config_text(left_padding_size="33")
    assert_error(tmp_path, text, line_of(text, "left_padding_size"), "left_padding_size", "33 is outside [0, 32]")


@pytest.mark.parametrize("value", ["256", "-1"])
def test_rule_mean_chn_range(tmp_path: Path, value: str) -> None:
    text = config_text(mean_chn_1=value)
    assert_error(tmp_path, text, line_of(text, "mean_chn_1"), "mean_chn_1", f"{value} is outside [0, 255]")


def test_rule_min_chn_range(tmp_path: Path) -> None:
    text = config_text(min_chn_2="255.5")
    assert_error(tmp_path, text, line_of(text, "min_chn_2"), "min_chn_2", "255.5 is outside [0, 255]")


def test_rule_var_reci_chn_range(tmp_path: Path) -> None:
    text = config_text(var_reci_chn_0="-70000")
    assert_error(tmp_path, text, line_of(text, "var_reci_chn_0"), "var_reci_chn_0", "outside [-65504, 65504]")


def test_rule_no_field_given_twice(tmp_path: Path) -> None:
    text = config_text().replace("    crop_size_h: 224\n", "    crop_size_h: 224\n    crop_size_w: 224\n")
    assert_error(tmp_path, text, line_of(text, "crop_size_w", 2), "crop_size_w",
                 f"given twice (first on line {line_of(text, 'crop_size_w')})")


@pytest.mark.parametrize("key", ["src_image_size_w", "load_start_pos_h"])
def test_rule_yuv420sp_sizes_and_offsets_are_even(tmp_path: Path, key: str) -> None:
    value = {"src_image_size_w": "255", "load_start_pos_h": "15"}[key]
    text = config_text(input_format="YUV420SP_U8", **{key: value})
    assert_error(tmp_path, text, line_of(text, key), key, "must be even for YUV420SP_U8")


# --- what the portable converter does not implement ---------------------------------------

@pytest.mark.parametrize("fmt", ["YUV420SP_U8", "YUV400_U8", "YUV422SP_U8", "XRGB8888_U8", "ARGB8888_U8", "RAW10"])
def test_unsupported_input_formats_are_rejected_by_name(tmp_path: Path, fmt: str) -> None:
    text = config_text(input_format=fmt)
    assert_error(tmp_path, text, line_of(text, "input_format"), "input_format",
                 f"{fmt} is not supported by the portable converter", "RGB888_U8 only")


@pytest.mark.parametrize("switch", ["csc_switch", "padding", "resize", "ax_swap_switch"])
def test_unsupported_switches_are_rejected_by_name(tmp_path: Path, switch: str) -> None:
    text = config_text(**{switch: "true"})
    assert_error(tmp_path, text, line_of(text, switch), switch, "true is not supported by the portable converter")


def test_dynamic_mode_is_rejected_by_name(tmp_path: Path) -> None:
    text = config_text(aipp_mode="dynamic", max_src_image_size="752640")
    assert_error(tmp_path, text, line_of(text, "aipp_mode"), "aipp_mode",
                 "dynamic is not supported by the portable converter (static only)")


# --- the proto's other spellings, as ATC reads them (protobuf text format) --------------------------

@pytest.mark.parametrize("changes", [
    {"aipp_mode": "1", "input_format": "3"},            # enum numbers of insert_op.proto
    {"crop": "t", "csc_switch": "f", "rbuv_swap_switch": "False"},
    {"crop": "1", "rbuv_swap_switch": "0"},
    {"load_start_pos_h": "0x10", "load_start_pos_w": "020"},  # hex and octal integers
    {"var_reci_chn_0": "[0.0171247538316637]", "matrix_r0c0": "[]"},  # list syntax of repeated fields
    {"min_chn_1": "116.28f", "mean_chn_3": "0"},
    {"input_edge_idx": "0", "cpadding_value": "0", "padding_value": "0.5"},
])
def test_proto_spellings_parse_like_the_guide(tmp_path: Path, changes: dict[str, str]) -> None:
    (guide,) = parse_aipp_config(GUIDE_CONFIG)
    (op,) = parse_aipp_config(write(tmp_path, config_text(**changes)))
    assert op == (guide if "input_edge_idx" not in changes else replace(guide, input_edge_idx=0))


@pytest.mark.parametrize(("key", "value", "words"), [
    ("aipp_mode", "0", ("not set",)),  # 0 is the proto's 'undefined'
    ("aipp_mode", "undefined", ("not set",)),
    ("input_format", "0", ("not set",)),
    ("input_format", "21", ("unknown value 21", "RGB888_U8 (3)")),
    ("var_reci_chn_1", "[0.5, 0.25]", ("can not be configured repeatedly",)),
    ("crop", "[true]", ("only allowed for repeated fields",)),
    ("load_start_pos_h", "0x", ("expected an integer",)),
    ("load_start_pos_h", "08", ("expected an integer",)),  # not octal, as in protobuf
])
def test_proto_spellings_that_atc_refuses(tmp_path: Path, key: str, value: str, words: tuple[str, ...]) -> None:
    text = config_text(**{key: value})
    assert_error(tmp_path, text, line_of(text, key), key, *words)


def test_repeated_field_given_twice(tmp_path: Path) -> None:
    text = config_text() + ""
    text = text.replace("    var_reci_chn_2:", "    var_reci_chn_1: 0.5\n    var_reci_chn_2:")
    assert_error(tmp_path, text, line_of(text, "var_reci_chn_1", 2), "var_reci_chn_1",
                 "can not be configured repeatedly")


def test_multi_shape_op_is_refused_by_name(tmp_path: Path) -> None:
    text = config_text() + "multi_shape_op { mode: batch }\n"
    assert_error(tmp_path, text, text.count("\n"), "multi_shape_op", "not supported by the portable converter")


# --- what the model settles: sizes of 0, related_input_name, input_edge_idx ---------------------

SHAPES = {"image": (4, 3, 224, 224)}


def parse_text(tmp_path: Path, text: str) -> list[AippOp]:
    return parse_aipp_config(write(tmp_path, text))


def test_source_size_zero_is_the_models_size(tmp_path: Path) -> None:
    ops = parse_text(tmp_path, config_text(crop="false", src_image_size_w="0", src_image_size_h="0"))
    assert ops[0].src_hw == (0, 0)
    (op,) = resolve_aipp_ops(ops, ["image"], SHAPES, {"image": 1})
    assert op.src_hw == (224, 224) and op.output_hw == (224, 224) and op.input_shape(4) == (4, 224, 224, 3)


def test_crop_size_zero_is_the_models_size(tmp_path: Path) -> None:
    ops = parse_text(tmp_path, config_text(crop_size_w="0", crop_size_h="0"))
    (op,) = resolve_aipp_ops(ops, ["image"], SHAPES, {"image": 1})
    (guide,) = parse_aipp_config(GUIDE_CONFIG)
    assert (op.crop_size_h, op.crop_size_w) == (224, 224) and op.normalisation()[0].tolist() == guide.normalisation()[0].tolist()
    with pytest.raises(PipelineError, match=r"crop_size_w: load_start_pos_w \+ crop_size_w = 266 > src_image_size_w = 256 \(sizes of 0 taken"):
        resolve_aipp_ops(ops, ["image"], {"image": (4, 3, 224, 250)}, {"image": 1})


def test_related_input_name_picks_the_rank(tmp_path: Path) -> None:
    first = config_text(related_input_name='"b"', crop="false")
    second = config_text(related_input_name='"a"').replace("# test config\n", "")
    ops = parse_text(tmp_path, first + second)
    assert [op.related_input_name for op in ops] == ["b", "a"]
    resolved = resolve_aipp_ops(ops, ["a", "b"], {}, {"a": 1, "b": 1})
    assert [(op.related_input_name, op.related_input_rank) for op in resolved] == [("a", 0), ("b", 1)]
    with pytest.raises(PipelineError, match=r"related_input_name: 'b' is not an input of the model \(its inputs: a, x\)"):
        resolve_aipp_ops(ops, ["a", "x"], {}, {})


def test_related_input_name_in_every_block_or_none(tmp_path: Path) -> None:
    first = config_text(related_input_name='"a"')
    second = config_text(related_input_rank="1").replace("# test config\n", "")
    message = assert_error(tmp_path, first + second, first.count("\n") + 1, "related_input_name", "every block or in none")
    assert f"line {BLOCK_LINE}" in message
    same = first + config_text(related_input_name='"a"').replace("# test config\n", "")
    assert_error(tmp_path, same, line_of(same, "related_input_name", 2), "related_input_name", "two aipp_op blocks")


def test_input_edge_idx(tmp_path: Path) -> None:
    ops = parse_text(tmp_path, config_text(input_edge_idx="1"))
    with pytest.raises(PipelineError, match=r"input_edge_idx: 1 must be smaller than the number of nodes reading input 'image' \(1\)"):
        resolve_aipp_ops(ops, ["image"], SHAPES, {"image": 1})
    with pytest.raises(PipelineError, match="one of the 3 nodes reading input 'image': not supported"):
        resolve_aipp_ops(ops, ["image"], SHAPES, {"image": 3})


def test_unknown_field(tmp_path: Path) -> None:
    text = config_text(crop_size_x="3")
    assert_error(tmp_path, text, line_of(text, "crop_size_x"), "crop_size_x", "unknown field")


@pytest.mark.parametrize(("key", "value", "words"), [
    ("src_image_size_w", "256.0", "expected an integer, got '256.0'"),
    ("crop", "yes", "expected true or false"),
    ("min_chn_0", "abc", "expected a number"),
    ("var_reci_chn_1", "nan", "expected a finite number"),
    ("aipp_mode", '"static"', "quoted string"),
    ("input_format", "RGB", "unknown value 'RGB'"),
    ("mean_chn_0", "1.5", "expected an integer"),
])
def test_bad_value_types(tmp_path: Path, key: str, value: str, words: str) -> None:
    text = config_text(**{key: value})
    assert_error(tmp_path, text, line_of(text, key), key, words)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "# nothing here\n")
    assert parse_error(empty) == f"{empty}: no aipp_op block"
    missing = tmp_path / "absent.config"
    assert parse_error(missing) == f"{missing}: AIPP config not found"


# --- any text: parsed, or the parser's own one-line error ----------------------------------------

_PIECES = st.one_of(
    st.sampled_from(["aipp_op", "{", "}", "<", ">", "[", "]", ":", ";", ",", "\n", " ", "#c\n", '"', "'",
                     '"image"', "'a\\x41'", '"\\q"', "true", "t", "f", "0", "1", "-1", "0x10", "010", "08", "1e999",
                     "nan", "1.5f", "static", "dynamic", "RGB888_U8", "YUV420SP_U8", "multi_shape_op", "4096",
                     "99999999999999999999", "\\", "\x00", "é"]),
    st.sampled_from(sorted(FIELDS)),
    st.text(max_size=5),
)


def _assert_parses_or_pipeline_error(text: str) -> None:
    try:
        ops = parse_aipp_text(text, "fuzz.config")
    except PipelineError as exc:
        message = str(exc)
        assert message.startswith("fuzz.config") and "\n" not in message, message
    else:
        assert ops and all(isinstance(op, AippOp) for op in ops)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_any_config_text_parses_or_fails_with_the_parsers_error(text: str) -> None:
    _assert_parses_or_pipeline_error(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), st.one_of(
    st.integers(-2**40, 2**40).map(str), st.floats(allow_nan=True).map(repr), st.sampled_from(
        ["true", "f", "static", "RGB888_U8", "2", '"data"', "[1]", "[1, 2]", "[]", "0x1F"])), max_size=12))
def test_any_block_of_known_fields_parses_or_fails_with_the_parsers_error(fields: dict[str, str]) -> None:
    body = "".join(f"  {key}: {value}\n" for key, value in fields.items())
    _assert_parses_or_pipeline_error("aipp_op {\n" + body + "}\n")

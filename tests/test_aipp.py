"""Step 3's AIPP config: the shipped file, ATC's rules, what the portable converter rejects, the arithmetic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from senet_infer.aipp import AippOp, apply_aipp, parse_aipp_config, resolve_aipp_ops
from senet_infer.errors import PipelineError
from senet_infer.imagenet import MEAN, STD

REPO = Path(__file__).resolve().parents[1]
GUIDE_CONFIG = REPO / "aipp_SE_ResNet50_pth.config"

# The guide's block, one field per line; tests change, drop or add fields.
GUIDE_FIELDS: dict[str, str] = {
    "aipp_mode": "static",
    "input_format": "RGB888_U8",
    "src_image_size_w": "256",
    "src_image_size_h": "256",
    "crop": "true",
    "load_start_pos_h": "16",
    "load_start_pos_w": "16",
    "crop_size_w": "224",
    "crop_size_h": "224",
    "min_chn_0": "123.675",
    "min_chn_1": "116.28",
    "min_chn_2": "103.53",
    "var_reci_chn_0": "0.0171247538316637",
    "var_reci_chn_1": "0.0175070028011204",
    "var_reci_chn_2": "0.0174291938997821",
}
BLOCK_LINE = 2  # config_text puts a comment on line 1


def config_text(**changes: str | None) -> str:
    """The guide's block with fields changed (a value), dropped (None) or appended (a new key)."""
    fields = {**GUIDE_FIELDS, **changes}
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items() if value is not None)
    return "# test config\naipp_op {\n" + body + "}\n"


def line_of(text: str, key: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line that sets ``key``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"{key}:")]
    return hits[occurrence - 1]


def write(tmp_path: Path, text: str, name: str = "aipp.config") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def parse_error(path: Path) -> str:
    with pytest.raises(PipelineError) as info:
        parse_aipp_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_error(tmp_path: Path, text: str, line: int, key: str, *words: str) -> str:
    """Parsing ``text`` fails with one line ``<file>:<line>: <key>: ...`` holding ``words``."""
    path = write(tmp_path, text)
    message = parse_error(path)
    assert message.startswith(f"{path}:{line}: {key}: "), message
    for word in words:
        assert word in message, message
    return message


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


def test_comment_and_spacing_variants(tmp_path: Path) -> None:
    (guide,) = parse_aipp_config(GUIDE_CONFIG)
    one_line = "aipp_op{" + " ".join(f"{k}:{v}" for k, v in GUIDE_FIELDS.items()) + "}"
    spaced = "\r\n".join(
        ["# leading comment", "aipp_op :   {   # block comment"]
        + [f"\t{k}   :\t{v} ;  # why {k}" if i % 2 else f"{k} : {v},"
           for i, (k, v) in enumerate(GUIDE_FIELDS.items())]
        + ["}", "# trailing comment", ""]
    )
    aliases = config_text(crop="True", csc_switch="0", rbuv_swap_switch="false", var_reci_chn_3="1.0f",
                          min_chn_3="0")
    for text in (one_line, spaced, aliases):
        assert parse_aipp_config(write(tmp_path, text)) == [guide], text


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


def test_angle_brackets_and_colon_open_a_block(tmp_path: Path) -> None:
    body = "".join(f"  {k}: {v}\n" for k, v in GUIDE_FIELDS.items())
    for text in ("aipp_op <\n" + body + ">\n", "aipp_op: <\n" + body + ">\n"):
        assert parse_aipp_config(write(tmp_path, text)) == parse_aipp_config(GUIDE_CONFIG)


def test_related_input_name_is_a_quoted_string(tmp_path: Path) -> None:
    (op,) = parse_aipp_config(write(tmp_path, config_text(related_input_name='"ima" \'ge\'')))
    assert op.related_input_name == "image"
    text = config_text(related_input_name="image")
    assert_error(tmp_path, text, line_of(text, "related_input_name"), "related_input_name",
                 "expected a quoted string, got 'image'")


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


# --- syntax ---------------------------------------------------------------------------------


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


def test_missing_closing_brace(tmp_path: Path) -> None:
    text = config_text().rstrip("}\n") + "\n"
    assert_error(tmp_path, text, BLOCK_LINE, "aipp_op", "unbalanced braces", "never closed")


def test_extra_closing_brace(tmp_path: Path) -> None:
    text = config_text() + "}\n"
    path = write(tmp_path, text)
    assert parse_error(path) == f"{path}:{text.count(chr(10))}: unbalanced braces: '}}' without a matching '{{'"


def test_text_outside_a_block(tmp_path: Path) -> None:
    text = "crop: true\n" + config_text()
    path = write(tmp_path, text)
    message = parse_error(path)
    assert message.startswith(f"{path}:1: crop: outside an aipp_op block"), message


def test_missing_colon(tmp_path: Path) -> None:
    text = config_text().replace("crop: true", "crop true")
    assert_error(tmp_path, text, 7, "crop", "expected ':'")


def test_nested_block(tmp_path: Path) -> None:
    text = config_text().replace("    crop: true\n", "    crop: true\naipp_op {\n")
    assert_error(tmp_path, text, 8, "aipp_op", "cannot be nested")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "# nothing here\n")
    assert parse_error(empty) == f"{empty}: no aipp_op block"
    missing = tmp_path / "absent.config"
    assert parse_error(missing) == f"{missing}: AIPP config not found"


# --- the arithmetic -----------------------------------------------------------------------------


def _small_op(**changes: object) -> AippOp:
    fields: dict[str, object] = dict(
        src_image_size_w=4, src_image_size_h=3, crop=True, load_start_pos_w=1, load_start_pos_h=1,
        crop_size_w=3, crop_size_h=2, mean_chn=(10, 20, 30, 0), min_chn=(0.5, 0.25, 0.0, 0.0),
        var_reci_chn=(2.0, 0.5, -1.0, 1.0),
    )
    fields.update(changes)
    return AippOp(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("swap", [False, True])
def test_apply_aipp_matches_a_hand_computation(swap: bool) -> None:
    op = _small_op(rbuv_swap_switch=swap)
    images = np.random.default_rng(3).integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)
    expected = np.zeros((2, 3, 2, 3))
    for n in range(2):
        for c in range(3):
            src_c = 2 - c if swap else c
            for y in range(2):
                for x in range(3):
                    pixel = float(images[n, 1 + y, 1 + x, src_c])
                    expected[n, c, y, x] = (pixel - op.mean_chn[c] - op.min_chn[c]) * op.var_reci_chn[c]
    out = apply_aipp(images, op)
    assert out.dtype == np.float32 and out.shape == (2, 3, 2, 3) and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_array_equal(apply_aipp(images[1], op), out[1])  # one HWC image -> CHW


def test_apply_aipp_without_crop_keeps_the_source_size() -> None:
    op = _small_op(crop=False)
    out = apply_aipp(np.full((1, 3, 4, 3), 255, np.uint8), op)
    assert out.shape == (1, 3, 3, 4) and op.output_hw == (3, 4)
    np.testing.assert_allclose(out[0, :, 0, 0], [(255 - 10.5) * 2, (255 - 20.25) * 0.5, -(255 - 30)])


@pytest.mark.torch
def test_apply_aipp_equals_torchvision_center_crop_and_normalize(bin_dir: Path) -> None:
    from torchvision import transforms

    (op,) = parse_aipp_config(GUIDE_CONFIG)
    reference = transforms.Compose([
        transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(MEAN, STD),
    ])
    bins = sorted(bin_dir.glob("*.bin"))
    images = np.stack([np.frombuffer(p.read_bytes(), np.uint8).reshape(op.input_shape(1)[1:]) for p in bins])
    expected = np.stack([reference(Image.fromarray(image)).numpy() for image in images])
    out = apply_aipp(images, op)
    assert out.shape == (len(bins), 3, 224, 224)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_apply_aipp_rejects_inputs_that_do_not_fit() -> None:
    (op,) = parse_aipp_config(GUIDE_CONFIG)
    with pytest.raises(PipelineError, match=r"\[2, 224, 224, 3\] does not match src_image_size 256x256"):
        apply_aipp(np.zeros((2, 224, 224, 3), np.uint8), op)
    with pytest.raises(PipelineError, match="does not match"):
        apply_aipp(np.zeros(256 * 256 * 3, np.uint8), op)  # a flat .bin buffer: the caller reshapes it
    with pytest.raises(PipelineError, match="must be uint8"):
        apply_aipp(np.zeros((1, 256, 256, 3), np.float32), op)


# --- any text: parsed, or the parser's own one-line error ----------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from senet_infer.aipp import FIELDS, parse_aipp_text  # noqa: E402

# Pieces of real configs, so that generated text gets past the tokenizer and into every rule.
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

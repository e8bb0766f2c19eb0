"""Protobuf text syntax of an AIPP config: spellings it accepts, and the one-line error of each syntax slip."""

from __future__ import annotations

from pathlib import Path

import pytest
from aipp_configs import BLOCK_LINE, GUIDE_CONFIG, GUIDE_FIELDS, assert_error, config_text, line_of, parse_error, write

from senet_infer.aipp import parse_aipp_config
from senet_infer.aipp.textproto import LineErrors, Reader, parse_float, parse_int, tokenize, unquote
from senet_infer.errors import PipelineError


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


# --- the syntax layer on its own: no AIPP field involved ------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("-12", -12), ("+7", 7), ("0x1F", 31), ("010", 8), ("08", None),
                                             ("0x", None), ("1.0", None)])
def test_integer_literals(text: str, value: int | None) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize(("text", "value"), [("0x10", 16.0), ("1.5f", 1.5), ("-2e3", -2000.0), ("inf", float("inf")),
                                             ("abc", None), ("1.5ff", None)])
def test_number_literals(text: str, value: float | None) -> None:
    assert parse_float(text) == value


def test_tokens_carry_their_lines_and_drop_comments() -> None:
    tokens = tokenize('a {  # note\n  b: "x y" ;\n}\n', LineErrors("t"))
    assert [(t.kind, t.text, t.line) for t in tokens] == [
        ("word", "a", 1), ("punct", "{", 1), ("word", "b", 2), ("punct", ":", 2), ("string", '"x y"', 2),
        ("punct", ";", 2), ("punct", "}", 3)]


@pytest.mark.parametrize(("text", "message"), [
    ('a: "open\n', "t:1: unterminated string"),
    ("\n a: b @", "t:2: unexpected character '@'"),
])
def test_tokenizer_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PipelineError) as info:
        tokenize(text, LineErrors("t"))
    assert str(info.value) == message


def test_string_escapes() -> None:
    err = LineErrors("t")
    (token,) = tokenize(r'"a\x41\101\n\'"', err)
    assert unquote(token, "k", err) == "aAA\n'"
    (bad,) = tokenize(r'"\q"', err)
    with pytest.raises(PipelineError, match=r"^t:1: k: invalid escape '\\q'"):
        unquote(bad, "k", err)


def test_reader_walks_any_message_with_lists_and_joined_strings() -> None:
    reader = Reader('m: < n: [1, 2] s: "a" \'b\' ; x: 3 >', LineErrors("t"))
    seen = {}
    for name in reader.top_level():
        for key in reader.field_names(name, reader.open_message(name)):
            reader.colon(key)
            seen[key.text] = reader.values(key, lambda token: int(token.text), repeated=key.text == "n",
                                           joins_strings=key.text == "s")
    assert seen == {"n": [1, 2], "s": ["ab"], "x": [3]}

"""AIPP config texts for the tests: the guide's block with fields changed, and the one-line error check."""

from __future__ import annotations

from pathlib import Path

import pytest

from senet_infer.aipp import parse_aipp_config
from senet_infer.errors import PipelineError

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

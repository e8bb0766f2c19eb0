"""The shared argparse types of ``senet_infer.cli``."""

from __future__ import annotations

import argparse

import pytest

from senet_infer.cli import device_list, key_value, non_negative_int, positive_int, str2bool


@pytest.mark.parametrize("text, value", [("1", True), ("True", True), (" yes ", True), ("n", False), ("FALSE", False)])
def test_str2bool(text: str, value: bool) -> None:
    assert str2bool(text) is value


@pytest.mark.parametrize("kind, text, message", [
    (str2bool, "maybe", "not a boolean: 'maybe'"),
    (device_list, "0,x", "device must be an id or a list like 0,1, got '0,x'"),
    (device_list, "256", r"device ids must be in \[0, 255\], got '256'"),
    (device_list, "1,1", "device ids must differ, got '1,1'"),
    (positive_int, "0", "must be >= 1, got 0"),
    (non_negative_int, "-1", "must be >= 0, got -1"),
    (positive_int, "1.5", "not an integer: '1.5'"),
    (key_value, "=x", "expected KEY=VALUE, got '=x'"),
])
def test_bad_values_are_one_clear_message(kind: object, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)  # type: ignore[operator]


def test_good_values() -> None:
    assert device_list("0,3") == (0, 3) and positive_int("4") == 4 and non_negative_int("0") == 0
    assert key_value(" run = a=b") == ("run", " a=b")

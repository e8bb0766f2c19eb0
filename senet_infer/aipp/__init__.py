"""ATC's AIPP config: protobuf text syntax (:mod:`.textproto`), the ``aipp_op`` fields (:mod:`.fields`),
ATC's rules and what the model settles (:mod:`.config`), and the arithmetic (:mod:`.ops`)."""

from __future__ import annotations

from .config import parse_aipp_config, parse_aipp_text, resolve_aipp_ops
from .fields import AIPP_MODES, FIELDS, INPUT_FORMATS, SUPPORTED_INPUT_FORMATS, Value
from .ops import CHANNELS, AippOp, apply_aipp

__all__ = ["AIPP_MODES", "CHANNELS", "FIELDS", "INPUT_FORMATS", "SUPPORTED_INPUT_FORMATS", "AippOp", "Value", "apply_aipp",
           "parse_aipp_config", "parse_aipp_text", "resolve_aipp_ops"]

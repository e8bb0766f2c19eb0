"""ATC's command line for the portable converter: every flag ATC knows, as data, and what each does here.

Each ATC flag is one :class:`AtcFlag` row of :data:`FLAGS`. Its ``effect`` says what the portable
converter does with it:

* ``applied``: it means here what it means to ATC (``--model``, ``--input_shape``, ``--out_nodes``, ...);
* ``no_effect``: accepted, its value checked where ATC lists the valid ones, recorded in the model's
  metadata, and announced with one line ``--<flag>: no effect off Ascend`` (tuning, debugging,
  logging and chip options of the Ascend compiler);
* ``refused``: it would change what the model computes or how it is fed in a way this converter
  does not implement (dynamic batch, fp16 inputs, other run modes): one clear error, nothing written.

A flag ATC does not know fails as gflags fails it in ATC (``unknown command line flag 'x'``);
values ATC rejects fail with ATC's message (``E10001: Value [x] for parameter [--y] is invalid.
Reason: ...``; ``E10004: Value for [--soc_version] is empty.``), each as one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .errors import PipelineError
from .modelmeta import PRECISION_KEY
from .precision import DEFAULT_PRECISION, PRECISION_MODES

APPLIED, NO_EFFECT, REFUSED = "applied", "no_effect", "refused"
# ATC requires --soc_version. Off Ascend it only names the chip in the model's metadata; a driver
# that has no chip to name passes this one, the chip of the guide's published figures.
GUIDE_SOC_VERSION = "Ascend310P3"
NO_EFFECT_LINE = "{flag}: no effect off Ascend"

# ATC's own precision modes (its --help), and --precision_mode_v2's, with the mode each means here.
ATC_PRECISION_MODES = ("force_fp16", "force_fp32", "cube_fp16in_fp32out", "allow_mix_precision",
                       "allow_fp32_to_fp16", "must_keep_origin_dtype", "allow_mix_precision_fp16",
                       "allow_mix_precision_bf16", "allow_fp32_to_bf16")
PRECISION_MODE_V2: Dict[str, str] = {
    "fp16": "force_fp16", "origin": "must_keep_origin_dtype", "cube_fp16in_fp32out": "cube_fp16in_fp32out",
    "mixed_float16": "allow_mix_precision_fp16", "mixed_bfloat16": "allow_mix_precision_bf16",
}
OUTPUT_TYPES = ("FP32", "FP16", "INT8", "INT16", "UINT16", "UINT8", "INT32", "INT64", "UINT32", "UINT64", "DOUBLE")
RUN_MODES = {"0": "generate offline model", "1": "convert model to JSON", "3": "only pre-check",
             "5": "convert ge dump txt file to JSON", "6": "display model info"}
TRUE_FALSE = ("true", "false")
ZERO_ONE = ("0", "1")


@dataclass(frozen=True)
class AtcFlag:
    """One ATC flag: its name (without ``--``), what the portable converter does with it, its help."""

    name: str
    effect: str
    help: str
    choices: Tuple[str, ...] = ()  # the values ATC accepts, when ATC lists them
    required: bool = False
    refusal: str = ""  # why a refused flag is refused


def _flags() -> Tuple[AtcFlag, ...]:
    a, n, r = APPLIED, NO_EFFECT, REFUSED
    dynamic = "the batch and image size are fixed by --input_shape; convert one model per shape"
    rows = [
        # input
        AtcFlag("model", a, "source ONNX model (never modified)", required=True),
        AtcFlag("framework", a, "5 = ONNX (the only one here; ATC's 0 Caffe, 1 MindSpore, 3 TensorFlow are not)",
                required=True),
        AtcFlag("weight", n, "Caffe weights (ATC ignores it for ONNX)"),
        AtcFlag("input_format", a, "layout of the model input: NCHW (the only one here)"),
        AtcFlag("input_shape", a, "static input shapes, 'name:n,c,h,w[;name2:...]', e.g. image:32,3,224,224"),
        AtcFlag("input_shape_range", r, "shape ranges", refusal=dynamic),
        AtcFlag("dynamic_batch_size", r, "batch size profiles", refusal=dynamic),
        AtcFlag("dynamic_image_size", r, "image size profiles", refusal=dynamic),
        AtcFlag("dynamic_dims", r, "dimension profiles", refusal=dynamic),
        AtcFlag("singleop", r, "single-operator models", refusal="single-operator models are not built here"),
        AtcFlag("om", r, "model to convert to JSON (--mode=1)", refusal="only --mode=0 (generate a model) is supported"),
        AtcFlag("json", r, "JSON output of --mode=1", refusal="only --mode=0 (generate a model) is supported"),
        AtcFlag("mode", a, "0 = generate a model (the only mode here)", choices=tuple(RUN_MODES)),
        AtcFlag("insert_op_conf", a, "AIPP config (aipp_op blocks) to fuse in front of the model"),
        AtcFlag("op_name_map", n, "custom operator name map"),
        AtcFlag("cal_conf", r, "calibration config", refusal="calibration is AMCT's step, before conversion"),
        # output
        AtcFlag("output", a, "output path without extension: writes <output>.onnx", required=True),
        AtcFlag("output_type", a, "FP32 (the outputs as computed); other types are refused",
                choices=OUTPUT_TYPES),
        AtcFlag("out_nodes", a, "outputs of the converted model: 'node:index;...' or tensor names"),
        AtcFlag("check_report", n, "pre-check report file"),
        # precision
        AtcFlag("precision_mode", a, f"{DEFAULT_PRECISION} (default) | fp16 | bf16 or an ATC mode, recorded as {PRECISION_KEY}"),
        AtcFlag("precision_mode_v2", a, "ATC's newer precision modes: " + ", ".join(PRECISION_MODE_V2),
                choices=tuple(PRECISION_MODE_V2)),
        AtcFlag("allow_hf32", n, "HF32 for fp32 convolutions", choices=TRUE_FALSE),
        AtcFlag("op_precision_mode", n, "per-operator precision file (.ini)"),
        AtcFlag("modify_mixlist", n, "mixed-precision lists file"),
        AtcFlag("keep_dtype", n, "operators kept in their original precision (the graph here stays fp32)"),
        AtcFlag("customize_dtypes", n, "per-operator compute types file"),
        AtcFlag("op_select_implmode", n, "operator implementation mode",
                choices=("high_precision", "high_performance", "high_precision_for_all", "high_performance_for_all")),
        AtcFlag("optypelist_for_implmode", n, "operator types for --op_select_implmode"),
        AtcFlag("input_fp16_nodes", r, "inputs fed as fp16", refusal="inputs keep the model's type (and AIPP's uint8)"),
        AtcFlag("is_input_adjust_hw_layout", a, "NC1HWC0 inputs: false only here", choices=()),
        AtcFlag("is_output_adjust_hw_layout", a, "NC1HWC0 outputs: false only here", choices=()),
        # target
        AtcFlag("soc_version", a, "target chip, e.g. Ascend310P3 (required, as by ATC; recorded in the model)",
                required=True),
        AtcFlag("core_type", n, "AI Core or Vector Core", choices=("AiCore", "VectorCore")),
        AtcFlag("aicore_num", n, "number of AI Cores"),
        AtcFlag("virtual_type", n, "virtualised chip", choices=ZERO_ONE),
        AtcFlag("host_env_os", n, "OS of the host that runs the model"),
        AtcFlag("host_env_cpu", n, "CPU of the host that runs the model"),
        AtcFlag("target", n, "target (mini)"),
        AtcFlag("device_id", n, "device used while compiling"),
        # tuning
        AtcFlag("enable_small_channel", n, "small-channel optimisation for the first convolution", choices=ZERO_ONE),
        AtcFlag("fusion_switch_file", n, "fusion switches file"),
        AtcFlag("enable_scope_fusion_passes", n, "scope fusion passes"),
        AtcFlag("enable_single_stream", n, "single stream", choices=TRUE_FALSE),
        AtcFlag("disable_reuse_memory", n, "memory reuse switch", choices=ZERO_ONE),
        AtcFlag("buffer_optimize", n, "buffer optimisation", choices=("l2_optimize", "l1_optimize", "off_optimize")),
        AtcFlag("enable_compress_weight", n, "weight compression", choices=TRUE_FALSE),
        AtcFlag("compress_weight_conf", n, "weight compression config"),
        AtcFlag("compression_optimize_conf", n, "compression optimisation config"),
        AtcFlag("sparsity", n, "2:4 structured sparsity", choices=ZERO_ONE),
        AtcFlag("external_weight", n, "weights in separate files", choices=ZERO_ONE),
        AtcFlag("mdl_bank_path", n, "model tuning bank"),
        AtcFlag("op_bank_path", n, "operator tuning bank"),
        AtcFlag("auto_tune_mode", n, "auto tune mode"),
        AtcFlag("deterministic", n, "deterministic computation", choices=ZERO_ONE),
        AtcFlag("atomic_clean_policy", n, "atomic memory clean policy", choices=ZERO_ONE),
        AtcFlag("oo_level", n, "graph optimisation level"),
        AtcFlag("input_hint_shape", n, "hint shapes for dynamic inputs"),
        AtcFlag("shape_generalized_build_mode", n, "shape generalisation"),
        # debug
        AtcFlag("log", n, "ATC log level", choices=("debug", "info", "warning", "error", "null")),
        AtcFlag("status_check", n, "overflow status check", choices=ZERO_ONE),
        AtcFlag("op_debug_level", n, "operator compiler debug level", choices=("0", "1", "2", "3", "4")),
        AtcFlag("op_debug_config", n, "operator debug config"),
        AtcFlag("debug_dir", n, "operator compilation files"),
        AtcFlag("op_compiler_cache_mode", n, "operator compile cache", choices=("enable", "disable", "force")),
        AtcFlag("op_compiler_cache_dir", n, "operator compile cache folder"),
        AtcFlag("save_original_model", n, "also save the original model", choices=TRUE_FALSE),
        AtcFlag("dump_mode", n, "infershape JSON dump (--mode=1)", choices=ZERO_ONE),
        AtcFlag("display_model_info", n, "display model info", choices=ZERO_ONE),
        AtcFlag("job_id", n, "job id of the compilation"),
    ]
    return tuple(rows)


FLAGS: Tuple[AtcFlag, ...] = _flags()
BY_NAME: Dict[str, AtcFlag] = {flag.name: flag for flag in FLAGS}


def invalid_value(flag: str, value: str, reason: str) -> PipelineError:
    """ATC's E10001 message for a value it rejects."""
    return PipelineError(f"E10001: Value [{value}] for parameter [--{flag}] is invalid. Reason: {reason}")


class _Parser(argparse.ArgumentParser):
    """argparse that fails with one PipelineError line instead of usage + exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise PipelineError(message)


def build_parser(description: str, extras: Sequence[Tuple[str, dict]] = ()) -> argparse.ArgumentParser:
    """An argument parser for every ATC flag (``--flag=value`` or ``--flag value``), plus ``extras``."""
    parser = _Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                     allow_abbrev=False)
    groups = {
        APPLIED: parser.add_argument_group("ATC options applied here"),
        NO_EFFECT: parser.add_argument_group("ATC options with no effect off Ascend (checked and recorded)"),
        REFUSED: parser.add_argument_group("ATC options refused here"),
    }
    for flag in FLAGS:
        text = flag.help + (f" ({' | '.join(flag.choices)})" if flag.choices else "")
        groups[flag.effect].add_argument(f"--{flag.name}", metavar="VALUE", default=None, help=text)
    for name, options in extras:
        parser.add_argument(name, **options)
    return parser


def _gflags_style(argv: Sequence[str]) -> list[str]:
    """gflags (ATC's parser) also takes ``-flag=value``; spell those ``--flag=value``."""
    out = []
    for arg in argv:
        name = arg[1:].split("=", 1)[0]
        out.append("-" + arg if arg.startswith("-") and not arg.startswith("--") and name in BY_NAME else arg)
    return out


def parse_atc_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse ATC's command line: unknown flags fail as in ATC, listed values and required flags are checked."""
    import sys

    args, rest = parser.parse_known_args(_gflags_style(list(sys.argv[1:] if argv is None else argv)))
    for arg in rest:
        if arg.startswith("-"):
            raise PipelineError(f"unknown command line flag '{arg.lstrip('-').split('=', 1)[0]}'")
        raise PipelineError(f"unexpected argument {arg!r} (ATC takes only --flag=value options)")
    for flag in FLAGS:
        value = getattr(args, flag.name)
        if flag.required and not value:
            raise PipelineError(f"E10004: Value for [--{flag.name}] is empty.")
        if value is not None and flag.choices and flag.name not in ("output_type",) and value not in flag.choices:
            raise invalid_value(flag.name, value, "only support " + ", ".join(flag.choices))
    return args


def given_flags(args: argparse.Namespace) -> Dict[str, str]:
    """The ATC flags set on the command line, with their values."""
    return {flag.name: getattr(args, flag.name) for flag in FLAGS if getattr(args, flag.name) is not None}


def check_flags(args: argparse.Namespace) -> list[str]:
    """Refuse what cannot be honoured; return the one-line notes for flags with no effect off Ascend."""
    given = given_flags(args)
    for name in given:
        flag = BY_NAME[name]
        if flag.effect == REFUSED:
            raise PipelineError(f"--{name}={given[name]}: not supported by the portable converter: {flag.refusal}")
    mode = given.get("mode", "0")
    if mode != "0":
        raise PipelineError(f"--mode={mode} ({RUN_MODES[mode]}) is not supported by the portable converter: "
                            f"only 0 ({RUN_MODES['0']})")
    for name in ("is_input_adjust_hw_layout", "is_output_adjust_hw_layout"):
        values = [v.strip() for v in given.get(name, "").split(",") if v.strip()]
        for value in values:
            if value not in TRUE_FALSE:
                raise invalid_value(name, given[name], "only support true, false (comma-separated)")
        if "true" in values:
            raise PipelineError(f"--{name}={given[name]}: not supported by the portable converter: "
                                f"the NC1HWC0 fp16 layout is Ascend's; inputs and outputs keep the model's layout")
    if "precision_mode" in given and "precision_mode_v2" in given:
        raise invalid_value("precision_mode_v2", given["precision_mode_v2"],
                            "--precision_mode and --precision_mode_v2 can not be set at the same time")
    if "precision_mode" in given and given["precision_mode"] not in PRECISION_MODES:
        known = list(ATC_PRECISION_MODES)
        extra = [m for m in PRECISION_MODES if m not in ATC_PRECISION_MODES]
        raise invalid_value("precision_mode", given["precision_mode"],
                            "only support " + ", ".join(known) + " (and here also " + ", ".join(extra) + ")")
    check_output_type(given.get("output_type"))
    return [NO_EFFECT_LINE.format(flag=f"--{name}") for name in given if BY_NAME[name].effect == NO_EFFECT]


def precision_mode(args: argparse.Namespace, default: str = DEFAULT_PRECISION) -> str:
    """The precision mode asked for, by --precision_mode or --precision_mode_v2."""
    if args.precision_mode_v2 is not None:
        return PRECISION_MODE_V2[args.precision_mode_v2]
    return args.precision_mode if args.precision_mode is not None else default


def check_output_type(text: Optional[str]) -> None:
    """``--output_type``: FP32, or ``node:index:FP32;...``; the outputs here are what the model computes."""
    if text is None:
        return
    for part in filter(None, (p.strip() for p in text.split(";"))):
        dtype = part.rsplit(":", 1)[-1]
        if dtype not in OUTPUT_TYPES:
            raise invalid_value("output_type", text, "only support " + ", ".join(OUTPUT_TYPES))
        if dtype != "FP32":
            raise PipelineError(f"--output_type={text}: {dtype} is not supported by the portable converter: "
                                f"the outputs keep the type the model computes (FP32)")


def out_node_tensors(model: Any, text: str) -> list[str]:
    """The tensor names ``--out_nodes`` selects: ``node:index`` (a node's output) or a tensor name."""
    tensors: list[str] = []
    nodes = {node.name: node for node in model.graph.node if node.name}
    produced = {name for node in model.graph.node for name in node.output}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        node_name, colon, index = part.rpartition(":")
        if colon and node_name in nodes and index.isdigit():
            outputs = list(nodes[node_name].output)
            if int(index) >= len(outputs):
                raise invalid_value("out_nodes", text, f"node {node_name!r} has {len(outputs)} output(s), "
                                                       f"index {index} is out of range")
            tensors.append(outputs[int(index)])
        elif part in produced:
            tensors.append(part)
        else:
            raise invalid_value("out_nodes", text, f"{part!r} is neither 'node:index' of a node of the model "
                                                   f"nor one of its tensors")
    if not tensors:
        raise invalid_value("out_nodes", text, "no output named")
    return tensors

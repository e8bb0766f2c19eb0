#!/usr/bin/env python3
"""Step 3 without an Ascend toolkit: ATC's command line, writing <output>.onnx instead of <output>.om.

    python3 aipp_convert.py --model=./se_resnet50_dynamic_bs.onnx --framework=5 --input_format=NCHW \\
        --input_shape="image:32,3,224,224" --output=./se_resnet50_fp16_bs32 --log=error \\
        --soc_version=Ascend310P3 --insert_op_conf=./aipp_SE_ResNet50_pth.config --enable_small_channel=1

The batch of --input_shape is fixed in the model; with --insert_op_conf the input becomes uint8
NHWC [N, src_h, src_w, 3] and the AIPP crop + normalisation run inside the ONNX graph. The model
is written only after onnx.checker and a fidelity check (converted model vs source model fed the
numpy AIPP of the same photo-like images, relative error < 1e-5) pass; exit 1 if the check fails.

--precision_mode (default fp32) is recorded in the model's metadata as senet_infer.precision:
  fp32 <- fp32, force_fp32, must_keep_origin_dtype
  fp16 <- fp16, force_fp16, allow_fp32_to_fp16, allow_mix_precision, allow_mix_precision_fp16
  bf16 <- bf16, allow_fp32_to_bf16, allow_mix_precision_bf16
The graph stays fp32: OpenVINO runs the recorded precision (its inference precision hint; bf16
uses AMX where the CPU has it); ONNX Runtime on CPU runs fp32 only.
"""

import argparse
import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.aipp import parse_aipp_config
from senet_infer.cli import run_main
from senet_infer.convert import (
    FRAMEWORKS, METADATA_PREFIX, ONNX_FRAMEWORK, PRECISION_MODES, FidelityError, convert_model,
    parse_input_shape,
)
from senet_infer.errors import PipelineError

LOG_LEVELS = ("debug", "info", "warning", "error", "null")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    atc = parser.add_argument_group("ATC options")
    atc.add_argument("--model", required=True, help="source ONNX model (never modified)")
    atc.add_argument("--framework", required=True,
                     help="5 = ONNX (the only one here; ATC's 0 Caffe, 1 MindSpore, 3 TensorFlow are not supported)")
    atc.add_argument("--input_format", default="NCHW", help="layout of the model input: NCHW (the only one here)")
    atc.add_argument("--input_shape", help="static input shapes, 'name:n,c,h,w[;name2:...]', e.g. image:32,3,224,224")
    atc.add_argument("--output", required=True, help="output path without extension: writes <output>.onnx")
    atc.add_argument("--insert_op_conf", help="AIPP config (aipp_op blocks) to fuse in front of the model")
    atc.add_argument("--precision_mode", default="fp32", choices=list(PRECISION_MODES), metavar="MODE",
                     help="fp32 (default) | fp16 | bf16 or an ATC mode, recorded as senet_infer.precision "
                          "(mapping above)")
    atc.add_argument("--soc_version", help="target chip, e.g. Ascend310P3 (recorded in the model metadata)")
    atc.add_argument("--log", choices=LOG_LEVELS, default="null", help="ATC log level (recorded)")
    atc.add_argument("--enable_small_channel", choices=("0", "1"), default="0", help="ATC option (recorded)")
    parser.add_argument("--skip-check", action="store_true", help="skip the fidelity check (onnx.checker still runs)")
    args = parser.parse_args(argv)

    try:
        framework = int(args.framework)
    except ValueError:
        raise PipelineError(f"--framework={args.framework}: not a number (5 = ONNX)") from None
    if framework != ONNX_FRAMEWORK:
        known = f" ({FRAMEWORKS[framework]})" if framework in FRAMEWORKS else ""
        raise PipelineError(f"--framework={framework}{known} is not supported by the portable converter: "
                            f"only {ONNX_FRAMEWORK} (ONNX)")
    if args.input_format != "NCHW":
        raise PipelineError(f"--input_format={args.input_format} is not supported by the portable converter: only NCHW")
    shapes = parse_input_shape(args.input_shape) if args.input_shape is not None else None
    ops = parse_aipp_config(args.insert_op_conf) if args.insert_op_conf else None
    recorded = {"framework": str(framework), "input_format": args.input_format, "precision_mode": args.precision_mode,
                "log": args.log, "enable_small_channel": args.enable_small_channel}
    if args.soc_version:
        recorded["soc_version"] = args.soc_version
    if args.insert_op_conf:
        recorded["insert_op_conf"] = args.insert_op_conf
    metadata = {METADATA_PREFIX + key: value for key, value in recorded.items()}

    try:
        result = convert_model(args.model, args.output, shapes, ops, precision=args.precision_mode,
                               metadata=metadata, check=not args.skip_check)
    except FidelityError as exc:
        print(exc.report.line())
        print(f"error: {exc}", file=sys.stderr)
        return 1
    aipp = f", AIPP from {args.insert_op_conf}" if ops else ""
    print(f"wrote {result.path} (from {args.model}, precision {result.precision}{aipp})")
    for sig in result.inputs:
        print(f"  input  {sig}")
    for op in ops or ():
        print(f"    AIPP rank {op.related_input_rank}: {op.describe()}")
    for sig in result.outputs:
        print(f"  output {sig}")
    print(result.fidelity.line() if result.fidelity else "fidelity: skipped (--skip-check)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

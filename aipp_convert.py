#!/usr/bin/env python3
"""Step 3 without an Ascend toolkit: ATC's command line, writing <output>.onnx instead of <output>.om.

    python3 aipp_convert.py --model=./se_resnet50_dynamic_bs.onnx --framework=5 --input_format=NCHW \\
        --input_shape="image:32,3,224,224" --output=./se_resnet50_fp16_bs32 --log=error \\
        --soc_version=Ascend310P3 --insert_op_conf=./aipp_SE_ResNet50_pth.config --enable_small_channel=1

The batch of --input_shape is fixed in the model; with --insert_op_conf the input becomes uint8
NHWC [N, src_h, src_w, 3] and the AIPP crop + normalisation run inside the ONNX graph. The model
is written only after onnx.checker and a fidelity check (converted model vs source model fed the
numpy AIPP of the same photo-like images, relative error < 1e-5) pass; exit 1 if the check fails.

Every ATC flag is accepted (senet_infer/atc.py holds the table): those with a portable meaning are
applied (--out_nodes picks the outputs, --output_type FP32, --precision_mode[_v2]), the Ascend
compiler's tuning, debugging and chip options print "--<flag>: no effect off Ascend" and are
recorded, and those that would change the model's interface in a way not implemented here
(--dynamic_batch_size, --input_fp16_nodes, ...) are refused. As with ATC, --soc_version is required
and an unknown flag fails ("unknown command line flag 'x'").

--precision_mode (default fp32; ATC's default is force_fp16) is recorded in the model's metadata as
senet_infer.precision (the modes each precision takes are listed at the end). The graph stays fp32:
OpenVINO runs the recorded precision (its inference precision hint; bf16 uses AMX where the CPU has
it); ONNX Runtime on CPU runs fp32 only.
"""

import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.atc import build_parser, parse_atc_args
from senet_infer.cli import run_main
from senet_infer.convert import FidelityError, convert_atc_args
from senet_infer.precision import describe_modes


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser(__doc__, [
        ("--skip-check", dict(action="store_true", help="skip the fidelity check (onnx.checker still runs)")),
    ])
    parser.epilog = "--precision_mode values by the precision they record:\n" + describe_modes()
    args = parse_atc_args(parser, argv)
    try:
        converted = convert_atc_args(args, check=not args.skip_check)
    except FidelityError as exc:
        print(exc.agreement.line())
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result, ops = converted.result, converted.aipp_ops
    aipp = f", AIPP from {args.insert_op_conf}" if ops else ""
    print(f"wrote {result.path} (from {args.model}, precision {result.precision}{aipp})")
    for sig in result.inputs:
        print(f"  input  {sig}")
    for op in ops or ():
        which = repr(op.related_input_name) if op.related_input_name else f"rank {op.related_input_rank}"
        print(f"    AIPP {which}: {op.describe()}")
    for sig in result.outputs:
        print(f"  output {sig}")
    print(result.fidelity.line() if result.fidelity else "fidelity: skipped (--skip-check)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

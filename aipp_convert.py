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

--precision_mode (default fp32; ATC's default is force_fp16) is recorded in the model's metadata as senet_infer.precision:
  fp32 <- fp32, force_fp32, must_keep_origin_dtype
  fp16 <- fp16, force_fp16, allow_fp32_to_fp16, allow_mix_precision, allow_mix_precision_fp16
  bf16 <- bf16, allow_fp32_to_bf16, allow_mix_precision_bf16
The graph stays fp32: OpenVINO runs the recorded precision (its inference precision hint; bf16
uses AMX where the CPU has it); ONNX Runtime on CPU runs fp32 only.
"""

import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.aipp import parse_aipp_config
from senet_infer.atc import build_parser, check_flags, given_flags, out_node_tensors, parse_atc_args, precision_mode
from senet_infer.cli import run_main
from senet_infer.convert import (
    FRAMEWORKS,
    METADATA_PREFIX,
    ONNX_FRAMEWORK,
    SOURCE_KEY,
    FidelityError,
    convert_model,
    parse_input_shape,
)
from senet_infer.errors import PipelineError


def _with_outputs(model_path: str, text: str, folder: str) -> Path:
    """``--out_nodes``: the source model cut to the chosen outputs (the model itself when they are its outputs)."""
    import onnx
    import onnx.utils

    model = onnx.load(model_path)
    tensors = out_node_tensors(model, text)
    if tensors == [value.name for value in model.graph.output]:
        return Path(model_path)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value.name for value in model.graph.input if value.name not in initializers]
    cut = Path(folder) / Path(model_path).name
    onnx.utils.extract_model(model_path, str(cut), inputs, tensors)
    return cut


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser(__doc__, [
        ("--skip-check", dict(action="store_true", help="skip the fidelity check (onnx.checker still runs)")),
    ])
    args = parse_atc_args(parser, argv)
    notes = check_flags(args)

    try:
        framework = int(args.framework)
    except ValueError:
        raise PipelineError(f"--framework={args.framework}: not a number (5 = ONNX)") from None
    if framework != ONNX_FRAMEWORK:
        known = f" ({FRAMEWORKS[framework]})" if framework in FRAMEWORKS else ""
        raise PipelineError(f"--framework={framework}{known} is not supported by the portable converter: "
                            f"only {ONNX_FRAMEWORK} (ONNX)")
    input_format = args.input_format or "NCHW"
    if input_format != "NCHW":
        raise PipelineError(f"--input_format={input_format} is not supported by the portable converter: only NCHW")
    shapes = parse_input_shape(args.input_shape) if args.input_shape is not None else None
    ops = parse_aipp_config(args.insert_op_conf) if args.insert_op_conf else None
    precision = precision_mode(args)
    for note in notes:
        print(note)
    recorded = {**given_flags(args), "framework": str(framework), "input_format": input_format,
                "precision_mode": precision, "source_model": Path(args.model).name}
    metadata = {(SOURCE_KEY if key == "source_model" else METADATA_PREFIX + key): value
                for key, value in recorded.items() if key not in ("model", "output", "input_shape")}

    with tempfile.TemporaryDirectory(prefix="aipp_convert_") as folder:
        source = _with_outputs(args.model, args.out_nodes, folder) if args.out_nodes and Path(args.model).is_file() \
            else args.model
        try:
            result = convert_model(source, args.output, shapes, ops, precision=precision,
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
        which = repr(op.related_input_name) if op.related_input_name else f"rank {op.related_input_rank}"
        print(f"    AIPP {which}: {op.describe()}")
    for sig in result.outputs:
        print(f"  output {sig}")
    print(result.fidelity.line() if result.fidelity else "fidelity: skipped (--skip-check)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

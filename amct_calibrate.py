#!/usr/bin/env python3
"""AMCT's ONNX calibration without an Ascend toolkit: int8 post-training quantization of the dynamic model.

    python3 amct_calibrate.py --model=./se_resnet50_dynamic_bs.onnx --save_path=./int8/se_resnet50 \\
        --input_shape="image:32,3,224,224" --data_dir=./data/calibration_bin --data_types="float32" --batch_num=1

As `amct_onnx calibration`: the calibration data are the model's own input (step 1 with
--format fp32: normalised float32 NCHW 3x224x224 .bin files, 602,112 bytes each); the first
batch_num x N files (natural order) are read, N the batch of --input_shape. Writes
<save_path>_deploy_model.onnx (for the converter: aipp_convert.py, or atc on Ascend) and
<save_path>_fake_quant_model.onnx (the same QDQ graph here, for checking on ONNX Runtime); the
batch stays dynamic. Quantizer: NNCF. Prints the int8 drift from the fp32 model on a few of the
calibration images. Bad input (missing/short/wrong-size data, an already quantized model, a shape
that does not match the model) ends with one line and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from senet_infer.cli import positive_int, run_main
from senet_infer.onnxgraph import parse_input_shape
from senet_infer.quantize import DEFAULT_BATCH_NUM, QUANTIZERS, quantize_model


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    amct = parser.add_argument_group("amct_onnx calibration options")
    amct.add_argument("--model", required=True, help="fp32 ONNX model to quantize (never modified)")
    amct.add_argument("--save_path", required=True, help="folder and name prefix of the outputs, e.g. ./int8/se_resnet50")
    amct.add_argument("--input_shape", required=True, help="calibration batch shape, 'name:n,c,h,w', e.g. image:32,3,224,224")
    amct.add_argument("--data_dir", required=True, help="folder of .bin calibration inputs (model input layout)")
    amct.add_argument("--data_types", required=True, help="element type of the .bin data: float32")
    amct.add_argument("--batch_num", type=positive_int, default=DEFAULT_BATCH_NUM,
                      help="number of calibration batches (default %(default)s)")
    portable = parser.add_argument_group("portable options (not amct_onnx's)")
    portable.add_argument("--quantizer", choices=QUANTIZERS, default="auto",
                          help="auto (default): NNCF where it imports, else ONNX Runtime's quantize_static")
    args = parser.parse_args(argv)

    shapes = parse_input_shape(args.input_shape)
    result = quantize_model(args.model, args.save_path, shapes, args.data_dir, args.data_types,
                            args.batch_num, shape_text=args.input_shape, quantizer=args.quantizer)
    print(f"calibrated on {len(result.calibration_files)} images from {args.data_dir} "
          f"({result.batch_num} batch(es) of {result.batch}) with {result.quantizer}")
    print(f"wrote {result.deploy} (deploy model, for aipp_convert.py / atc)")
    print(f"wrote {result.fake_quant} (fake-quant model, for ONNX Runtime)")
    print(result.drift.one_line())
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

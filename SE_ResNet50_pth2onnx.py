#!/usr/bin/env python3
"""Step 2: export the pretrainedmodels SE-ResNet50 checkpoint to a dynamic-batch ONNX model (opset 11).

    python3 SE_ResNet50_pth2onnx.py ./se_resnet50-ce0d4300.pth ./se_resnet50_dynamic_bs.onnx
"""

import argparse
import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.demo import DEMO_WARNING
from senet_infer.export import OPSET, PARITY_TOLERANCE, check_parity, export_onnx
from senet_infer.model import calibration_batch, is_demo_checkpoint, load_checkpoint, verify_weights


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pth", help="checkpoint: a state_dict, a {'state_dict': ...} wrapper or 'module.'-prefixed keys")
    parser.add_argument("onnx", help="output ONNX file")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET}, as the guide)")
    parser.add_argument("--parity-images", type=int, default=4,
                        help="photo-like images for the PyTorch vs ONNX Runtime check (default 4; 0 skips it)")
    args = parser.parse_args(argv)

    verify_weights(args.pth)
    if is_demo_checkpoint(args.pth):
        print(f"WARNING: {args.pth}: {DEMO_WARNING}")
    model = load_checkpoint(args.pth)
    path = export_onnx(model, args.onnx, opset=args.opset)
    print(f"exported {path} (opset {args.opset}, input image [batch,3,224,224] float32, output class [batch,1000])")
    if args.parity_images:
        report = check_parity(model, path, calibration_batch(args.parity_images, seed=2024))
        verdict = "OK" if report.passed else "FAILED"
        print(f"parity: ONNX Runtime vs PyTorch on {report.batch} photo-like images: "
              f"rel err {report.relative_error:.2e} (< {PARITY_TOLERANCE:.0e}), max abs err "
              f"{report.max_abs_error:.2e}, same top-1 {report.same_top1}/{report.batch} {verdict}")
        if not report.passed:
            path.unlink()  # a model that fails the check must not be taken for a good one on rerun
            print(f"error: {path} removed: relative error {report.relative_error:.2e} >= {PARITY_TOLERANCE:.0e}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

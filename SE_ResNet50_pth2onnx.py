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
from senet_infer.export import FIDELITY_TOLERANCE, OPSET, check_fidelity, export_onnx
from senet_infer.model import calibration_batch, is_demo_checkpoint, load_checkpoint, verify_weights


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pth", help="checkpoint: a state_dict, a {'state_dict': ...} wrapper or 'module.'-prefixed keys")
    parser.add_argument("onnx", help="output ONNX file")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET}, as the guide)")
    parser.add_argument("--fidelity-images", type=int, default=4,
                        help="photo-like images for the PyTorch vs ONNX Runtime check (default 4; 0 skips it)")
    parser.add_argument("--parity-images", dest="fidelity_images", type=int, help=argparse.SUPPRESS)  # the old name
    args = parser.parse_args(argv)

    verify_weights(args.pth)
    if is_demo_checkpoint(args.pth):
        print(f"WARNING: {args.pth}: {DEMO_WARNING}")
    model = load_checkpoint(args.pth)
    path = export_onnx(model, args.onnx, opset=args.opset)
    print(f"exported {path} (opset {args.opset}, input image [batch,3,224,224] float32, output class [batch,1000])")
    if args.fidelity_images:
        agreement = check_fidelity(model, path, calibration_batch(args.fidelity_images, seed=2024))
        verdict = "OK" if agreement.passed else "FAILED"
        print(f"fidelity: ONNX Runtime vs PyTorch on {agreement.batch} photo-like images: "
              f"rel err {agreement.relative_error:.2e} (< {FIDELITY_TOLERANCE:.0e}), max abs err "
              f"{agreement.max_abs_error:.2e}, same top-1 {agreement.same_top1}/{agreement.batch} {verdict}")
        if not agreement.passed:
            path.unlink()  # a model that fails the check must not be taken for a good one on rerun
            print(f"error: {path} removed: relative error {agreement.relative_error:.2e} >= {FIDELITY_TOLERANCE:.0e}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

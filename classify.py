#!/usr/bin/env python3
"""Classify a few images with the converted model: each image's top-k ImageNet classes, named, with probabilities.

    python3 classify.py dog.jpg cat.png
    python3 classify.py ./dataset/ImageNet/val_union/ILSVRC2012_val_0000000[1-4].JPEG --topk 3

The images go through step 1's transform in memory (the bytes imagenet_torch_preprocess.py writes, with the
same --resize), then through the converted model: the .onnx aipp_convert.py writes (its AIPP fused) on
--backend, or an Ascend .om through python3 -m ais_bench with the guide's step 4 flags. The images fill the
model's static batch; a short last batch is padded as ais_bench pads it. Scores are softmax probabilities of
the model's 1000 class scores. Default --model: the converted model bash run_infer.sh left in the current
folder (se_resnet50_fp32_bs32.onnx by default).
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.backends import BACKEND_CHOICES
from senet_infer.classify import classify, default_model
from senet_infer.cli import positive_int, run_main
from senet_infer.preprocess import RESIZE_MODES, EvalTransform


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line, classify the images, print each one's top classes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", metavar="IMAGE", nargs="+", type=Path, help="image files (.JPEG/.jpg/.jpeg/.png, any case)")
    parser.add_argument("--model", type=Path, default=None,
                        help="converted model: aipp_convert.py's .onnx or an Ascend .om (default: the one "
                             "bash run_infer.sh left in the current folder)")
    parser.add_argument("--topk", type=positive_int, default=5, help="classes shown per image (default %(default)s)")
    parser.add_argument("--resize", choices=RESIZE_MODES, default="shorter",
                        help="step 1's protocol, as imagenet_torch_preprocess.py --resize (default %(default)s)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                        help="runtime for an .onnx model, as ais_infer.py --backend (default: the first installed "
                             "one that runs the model's precision; auto's timing trial would take longer than a few "
                             "images)")
    args = parser.parse_args(argv)

    model = args.model if args.model is not None else default_model(Path("."))
    outcome = classify(args.images, model, backend=args.backend, transform=EvalTransform(resize=args.resize),
                       topk=args.topk, log=lambda line: print(line, file=sys.stderr))
    print("\n".join(outcome.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

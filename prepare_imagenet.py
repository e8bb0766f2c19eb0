#!/usr/bin/env python3
"""Bring your own ImageNet: the validation set in any common layout into the guide's.

    python3 prepare_imagenet.py SOURCE [--devkit PATH] [--labels FILE] [--out ./dataset/ImageNet]

SOURCE is a flat image folder, an ImageFolder (one <wnid>/ folder per class), the Kaggle download's
root (ILSVRC/Data/CLS-LOC/val/, LOC_val_solution.csv) or ILSVRC2012_img_val.tar. Writes
OUT/val_union/ (the images, linked; --copy copies them; from the tar they are extracted) and
OUT/val_label.txt ('<image> <class>' per line) for the labelled images present. The class is the
position of the image's WordNet ID in the sorted list of the 1000 ImageNet-1k WordNet IDs
(n01440764 -> 0 ... n15075141 -> 999), the order of torchvision, timm and the pretrainedmodels weights.

Labels: an ImageFolder's class folders; else --labels: the devkit's
ILSVRC2012_validation_ground_truth.txt (1-based ILSVRC2012_IDs in the devkit's order: needs --devkit,
the devkit tar.gz, its folder or its meta.mat), Kaggle's LOC_val_solution.csv, or a file already in
the guide's format ('<image> <0-based class>'; with --devkit, '<image> <ILSVRC2012_ID>', as paste of the image
list and the ground truth gives). --devkit alone (tar.gz or folder) also supplies its ground truth; an option
that cannot apply to the input is refused.

SOURCE is never written to. A rerun into the same OUT is a no-op; an OUT holding another dataset
is refused (--force replaces it). A tar is read to its end: a damaged or cut one is refused. Exit status: 0
written or up to date, 2 bad input (one line naming the file and the problem; nothing written).
"""

import argparse
import os
import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.imagenet import DATASET_DIR, IMAGES_DIRNAME, LABELS_NAME
from senet_infer.imagenet_prep import prepare


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", metavar="SOURCE",
                        help="flat image folder, ImageFolder, Kaggle root or ILSVRC2012_img_val.tar (only read)")
    parser.add_argument("--devkit", metavar="PATH", default=None,
                        help="ILSVRC2012_devkit_t12.tar.gz, its unpacked folder, or its data/meta.mat")
    parser.add_argument("--labels", metavar="FILE", default=None,
                        help="ILSVRC2012_validation_ground_truth.txt (with --devkit), LOC_val_solution.csv, or a "
                             "'<image> <class>' file (with --devkit: '<image> <ILSVRC2012_ID>')")
    parser.add_argument("--out", metavar="DIR", default=f"./{DATASET_DIR}",
                        help=f"where {IMAGES_DIRNAME}/ and {LABELS_NAME} go (default %(default)s)")
    parser.add_argument("--copy", action="store_true", help="copy the images instead of linking them")
    parser.add_argument("--force", action="store_true", help="replace an OUT that holds another dataset")
    args = parser.parse_args(argv)

    report = prepare(args.source, args.out, devkit=args.devkit, labels=args.labels, copy=args.copy, force=args.force)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "prepare_imagenet.py"
    for warning in report.plan.warnings:
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    print(report.line())
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

#!/usr/bin/env python3
"""Step 1: preprocess an image folder into one model-input file per image, with every core.

    python3 imagenet_torch_preprocess.py ./dataset/ImageNet/val_union ./data/ImageNet_bin

Default output: DST_DIR/<stem>.bin, raw uint8 RGB HWC 256x256 (196,608 bytes), identical to
torchvision Resize(256) + CenterCrop(256) on the image converted to RGB (the AIPP model's input).
--resize squash gives the ModelZoo original's bytes instead (OpenCV imread, BGR->RGB,
cv2.resize to 256x256 INTER_CUBIC), which is what the guide's accuracy figures were measured on.

DST_DIR/.preprocess.json records the source folder, the transform and each output's image (name,
size, mtime). A rerun skips the outputs whose image is unchanged, redoes the others, removes the
outputs of images no longer in SRC_DIR, and refuses a folder made from another image folder or
with another --resize/--format (--force redoes it). Exit status: 0 all written, 1 some images
failed (the others are written), 2 usage, folder or write error.
"""

import argparse
import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer import imagenet
from senet_infer.cli import default_workers, positive_int, run_main
from senet_infer.preprocess import FORMATS, RESIZE_MODES, EvalTransform, preprocess_folder


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", metavar="SRC_DIR", help="folder of .JPEG/.jpg/.jpeg/.png images (any case); never written to")
    parser.add_argument("dst", metavar="DST_DIR", help="output folder (created; must not be inside SRC_DIR)")
    transform = parser.add_argument_group("transform")
    transform.add_argument("--resize", choices=RESIZE_MODES, default="shorter",
                           help="shorter (default): shorter side to 256, bilinear, center crop 256 (torchvision); "
                                "squash: the ModelZoo original's bytes (OpenCV imread, BGR->RGB, whole image "
                                "stretched to 256x256 with cv2.INTER_CUBIC), as the guide's accuracy figures; "
                                "needs opencv-python-headless")
    transform.add_argument("--format", choices=FORMATS, default="uint8",
                           help="uint8 (default): RGB HWC 256x256 for the AIPP model; fp32: float32 NCHW "
                                f"3x{imagenet.CROP_SIZE}x{imagenet.CROP_SIZE} center crop normalised with the "
                                "ImageNet mean/std (input of the dynamic ONNX model, no AIPP)")
    run = parser.add_argument_group("run")
    run.add_argument("--workers", type=positive_int, default=default_workers(),
                     help="processes (default: all cores, %(default)s here)")
    run.add_argument("--force", action="store_true",
                     help="redo every output, also when DST_DIR was made from another folder or with "
                          "another --resize/--format, and remove .bin files that are not outputs of SRC_DIR")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    chosen = EvalTransform(resize=args.resize, output_format=args.format)
    result = preprocess_folder(args.src, args.dst, chosen, workers=args.workers, force=args.force,
                               progress=not args.quiet)
    print(f"transform: {chosen.describe()}")
    if result.written + result.failed:
        print(f"{result.images} images -> {result.dst} in {result.elapsed_s:.1f} s "
              f"({result.images_per_s:.1f} images/s, {result.workers} workers)")
    else:
        print(f"{result.images} images -> {result.dst}: every output already up to date")
    print(result.counts_line())
    if not result.ok:
        print(f"error: {result.failed} of {result.images} images failed (named above); the output folder is "
              "incomplete", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

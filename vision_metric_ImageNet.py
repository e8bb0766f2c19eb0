#!/usr/bin/env python3
"""Step 5: top-1..top-5 accuracy of ais_bench results against the ImageNet label file.

    python3 vision_metric_ImageNet.py ./result/ ./dataset/ImageNet/val_label.txt ./ accuracy_result.json

The JSON is the ModelZoo original's, byte for byte. With RESULT_DIR's summary beside it
(./result_summary.json for ./result/), only the results that run wrote are scored, and the
other result files in the folder are counted and named in a warning. Results named as the real
ais_bench names them (text before the first dot) are matched to their labels too.
--predictions FILE also writes one CSV row per scored image, with the ImageNet class names.
"""

import argparse
import os
import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer import imagenet, metric
from senet_infer.cli import key_value, positive_int, run_main


def build_parser() -> argparse.ArgumentParser:
    """The guide's four positional arguments plus this project's options."""
    parser = argparse.ArgumentParser(
        description="Score ais_bench result files (<image>_0.txt|npy|bin) against a label file "
        "('<image name> <0-based class>' per line) and write the guide's accuracy JSON."
    )
    parser.add_argument("result_dir", help="folder of inference results (ais_bench --output_dirname)")
    parser.add_argument("label_file", help="label file, e.g. val_label.txt")
    parser.add_argument("out_dir", help="folder to write the JSON into (created if missing)")
    parser.add_argument("json_name", help="name of the JSON file, e.g. accuracy_result.json")
    parser.add_argument("--num-classes", type=positive_int, default=imagenet.NUM_CLASSES,
                        help="class scores per .bin result (float32, no shape of its own); "
                        "TXT and NPY results carry their own (default %(default)s)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score only the labelled images that have a result instead of failing")
    parser.add_argument("--ignore-summary", action="store_true",
                        help="score every result in the folder even when its summary lists the files of one run")
    parser.add_argument("--annotate", action="append", default=[], type=key_value,
                        metavar="KEY=VALUE", help="add a top-level string field to the JSON (repeatable)")
    parser.add_argument("--predictions", metavar="FILE", default=None,
                        help="also write one CSV row per scored image: image, label, label name, top-5 classes "
                             "with names and scores, correct@1, correct@5")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="threads reading result files (default: all cores)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line, score, write the JSON, print one summary line."""
    args = build_parser().parse_args(argv)
    annotations = metric.collect_annotations(args.annotate)
    out_path = metric.output_path(args.out_dir, args.json_name, args.result_dir)
    accuracy = metric.evaluate(args.result_dir, args.label_file, num_classes=args.num_classes,
                               allow_missing=args.allow_missing, use_summary=not args.ignore_summary,
                               workers=args.workers, predictions=args.predictions)
    prog = os.path.basename(sys.argv[0])
    for warning in accuracy.warnings:
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    metric.write_accuracy_json(accuracy, out_path, annotations)
    print(accuracy.summary_line())
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

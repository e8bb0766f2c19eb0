"""Steps 4 and 6: ``python3 ais_infer.py`` takes ais_bench's command line and runs ONNX models anywhere.

    python3 ais_infer.py --model se_resnet50_fp16_bs32.onnx --batchsize 32 --input ./data/ImageNet_bin \\
        --output ./ --output_dirname result --outfmt TXT
    python3 ais_infer.py --model=se_resnet50_fp16_bs32.onnx --loop=20 --batchsize=32

An .om model is passed on to the real ``python3 -m ais_bench`` (Ascend toolkit) when it is installed.
"""

import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.runner import build_parser, config_from_args, print_report, run, run_om


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ais_bench's options, run the model, print ais_bench's Performance Summary."""
    raw = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(raw)
    if args.model.suffix.lower() == ".om":
        return run_om(args.model, raw)
    summary = run(config_from_args(args))
    print_report(summary, args.display_all_summary)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Steps 4 and 6: ``python3 ais_infer.py`` takes ais_bench's command line and runs ONNX models anywhere.

    python3 ais_infer.py --model se_resnet50_fp16_bs32.onnx --batchsize 32 --input ./data/ImageNet_bin \\
        --output ./ --output_dirname result --outfmt TXT
    python3 ais_infer.py --model=se_resnet50_fp16_bs32.onnx --loop=20 --batchsize=32

An .om model is passed on, with every argument as given (this runner's own --backend, --threads,
--hint and --annotate removed), to the real ``python3 -m ais_bench`` (Ascend toolkit).
"""

import sys
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.runner import build_parser, config_from_args, is_om_command, print_report, run, run_devices, run_om


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ais_bench's options, run the model, print ais_bench's Performance Summary."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if is_om_command(raw):  # before argparse: ais_bench's options this runner does not know go through too
        return run_om(raw)
    args = build_parser().parse_args(raw)
    config = config_from_args(args, [sys.argv[0] if sys.argv and sys.argv[0] else "ais_infer.py", *raw])
    if len(config.devices) > 1:
        return run_devices(config)
    summary = run(config)
    print_report(summary, config.display_all_summary)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Steps 4 and 6: ``python3 ais_infer.py`` takes ais_bench's command line and runs ONNX models anywhere.

    python3 ais_infer.py --model se_resnet50_fp16_bs32.onnx --batchsize 32 --input ./data/ImageNet_bin \\
        --output ./ --output_dirname result --outfmt TXT
    python3 ais_infer.py --model=se_resnet50_fp16_bs32.onnx --loop=20 --batchsize=32

An .om model is passed on, with every argument as given (this runner's own --backend, --threads,
--hint and --annotate removed), to the real ``python3 -m ais_bench`` (Ascend toolkit).
The runner lives in ``senet_infer.infer``.
"""

import sys

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.infer import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run_main(main))

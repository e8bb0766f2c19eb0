#!/usr/bin/env python3
"""Get SE-ResNet50 weights: the official checkpoint (download + SHA-256 check) or a seeded demo.

    python3 get_weights.py                      # ./se_resnet50-ce0d4300.pth from the guide's URL
    python3 get_weights.py --demo               # ./se_resnet50-DEMO-random-weights.pth, offline

The demo checkpoint has the real key layout and behaves numerically like trained weights
(input-dependent predictions), so every step and fidelity check can run offline; its
"accuracy" means nothing.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.demo import DEMO_WARNING
from senet_infer.model import DEMO_WEIGHTS_NAME, WEIGHTS_NAME, WEIGHTS_URL, download_weights, verify_weights, write_demo_checkpoint


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help=f"where to write (default ./{WEIGHTS_NAME}, or ./{DEMO_WEIGHTS_NAME} with --demo)")
    parser.add_argument("--demo", action="store_true", help="write the seeded demo checkpoint instead of downloading")
    parser.add_argument("--seed", type=int, default=0, help="demo seed (default 0)")
    parser.add_argument("--url", default=WEIGHTS_URL, help="download address (default: the guide's)")
    args = parser.parse_args(argv)

    if args.demo:
        path = Path(args.path or DEMO_WEIGHTS_NAME)
        if "demo" not in path.name.lower():
            parser.error(f"a demo checkpoint's name must say it is a demo (got {path.name})")
        write_demo_checkpoint(path, seed=args.seed)
        print(f"wrote {path} (seed {args.seed}): {DEMO_WARNING}")
        return 0
    path = Path(args.path or WEIGHTS_NAME)
    if path.exists():
        verify_weights(path)
        print(f"{path} exists and its SHA-256 matches the name")
        return 0
    download_weights(path, args.url)
    print(f"downloaded {args.url} -> {path} (SHA-256 checked)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

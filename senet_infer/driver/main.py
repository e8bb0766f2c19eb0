"""The guide end to end (``bash run_infer.sh``): weights, dataset, steps 1-6, int8 calibration, fidelity and
throughput.

Options (:mod:`.options`) -> the engine (:mod:`.engine`) -> the step table (:data:`.steps.STEPS`). Each step runs
the project's step script (or, on an Ascend host, the vendor tool) with the guide's command line, from the work
folder, and prints the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..demo import DEMO_WARNING
from ..errors import PipelineError
from . import options, steps
from .engine import Engine
from .options import Options
from .resolve import check_imagenet_source
from .state import place_aipp_config, start_run

REPO = Path(__file__).resolve().parents[2]

__all__ = ["build_parser", "main", "parse_options"]


def build_parser() -> argparse.ArgumentParser:
    """``run_infer.sh``'s options, with the step table's names."""
    return options.build_parser(steps.step_names())


def parse_options(argv: Optional[Sequence[str]] = None) -> Options:
    """``run_infer.sh``'s command line, parsed and checked."""
    given = tuple(sys.argv[1:] if argv is None else argv)
    parsed = Options.from_args(build_parser().parse_args(given), steps.step_names())
    return dataclasses.replace(parsed, argv=user_args(given))


SET_UP_FLAGS = ("--set-up-seconds", "--set-up-python")  # run_infer.sh's own, not the user's


def user_args(argv: Sequence[str]) -> tuple[str, ...]:
    """The command line as the user gave it to ``run_infer.sh``: without the flags the script adds."""
    kept = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in SET_UP_FLAGS:
            skip = True
        elif not arg.startswith(tuple(flag + "=" for flag in SET_UP_FLAGS)):
            kept.append(arg)
    return tuple(kept)


def main(argv: Optional[Sequence[str]] = None, repo: Path = REPO) -> int:
    """Parse options, take the work folder and run the chosen steps."""
    opts = parse_options(argv)
    check_imagenet_source(opts)  # before anything runs: a bad source is not said after the weights' download
    opts.work.mkdir(parents=True, exist_ok=True)
    engine = Engine(opts.work, steps.STEPS, opts.steps, force=opts.force, first_number=steps.FIRST_STEP_NUMBER)
    if opts.set_up_seconds is not None:
        engine.print_earlier_step(steps.FIRST_STEP_NUMBER - 1, steps.SET_UP, steps.SET_UP_IO, opts.set_up_seconds,
                                  opts.set_up_python or sys.executable)
    engine.start()
    ended = False
    try:
        run = start_run(opts, repo)
        place_aipp_config(run, repo)
        run = engine.execute(run, steps.describe_run)
        print(f"all steps done in {engine.total_seconds:.1f} s" + (f" — {DEMO_WARNING}" if run.demo_weights else ""))
        ended = True
    except PipelineError:
        ended = True  # a failed step is a finished run: its error says what to fix
        raise
    finally:
        engine.release(ended=ended)
    return 0


if __name__ == "__main__":
    from ..cli import run_main

    sys.exit(run_main(main, prog="run_infer.sh"))

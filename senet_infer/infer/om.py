"""The ``.om`` hand-off: an Ascend model goes, with its command line as given, to the real ``python3 -m ais_bench``.

The decision is taken on the raw command line, before argparse, so ais_bench's options that this runner
does not know pass through too; only this runner's own options are removed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from typing import List, Optional

from ..errors import PipelineError

# Options only this runner knows: (name, takes a value); not passed on to the real ais_bench.
PROJECT_OPTIONS = {"--backend": True, "--threads": True, "--annotate": True, "--hint": True}


def model_argument(argv: Sequence[str]) -> Optional[str]:
    """The value of ``--model``/``-m`` in a raw command line (last one wins, as in argparse); None if absent."""
    found = None
    for i, arg in enumerate(argv):
        if arg in ("--model", "-m"):
            if i + 1 < len(argv):
                found = argv[i + 1]
        elif arg.startswith("--model="):
            found = arg.split("=", 1)[1]
        elif arg.startswith("-m") and not arg.startswith("--") and len(arg) > 2:
            found = arg[2:].lstrip("=")
    return found


def is_om_command(argv: Sequence[str]) -> bool:
    """True when the command line's model is an ``.om`` file (decided before any option is checked)."""
    model = model_argument(argv)
    return model is not None and model.lower().endswith(".om")


def strip_project_options(argv: Sequence[str]) -> List[str]:
    """``argv`` without the options only this runner knows; everything else untouched, in order."""
    kept: List[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        name = arg.split("=", 1)[0]
        if name in PROJECT_OPTIONS:
            skip_next = PROJECT_OPTIONS[name] and "=" not in arg
            continue
        kept.append(arg)
    return kept


def run_om(argv: Sequence[str]) -> int:
    """Hand an ``.om`` command line to the real ``python3 -m ais_bench`` as it is; its exit code."""
    model = model_argument(argv) or ""
    if importlib.util.find_spec("ais_bench") is None:
        raise PipelineError(
            f"{model}: an .om model needs the Ascend toolkit (CANN + ais_bench), which is not installed here; "
            "aipp_convert.py produces a portable .onnx that this runner runs"
        )
    return subprocess.call([sys.executable, "-m", "ais_bench", *strip_project_options(argv)])

"""Steps 4 and 6: an ais_bench-compatible runner (file mode and pure mode) over the portable backends.

Command line: ``python3 ais_infer.py --model M.onnx [--input DIR[,DIR2]] [--output OUT --output_dirname NAME]
[--outfmt BIN|NPY|TXT] [--batchsize N] [--loop N] [--device 0[,1]] ...`` — ais_bench's options and
behaviour (batching, padding of the last batch, result names and formats, summary, one process per
listed device), plus ``--backend``, ``--threads``, ``--hint`` and ``--annotate``. An ``.om`` model is
handed, with every argument, to the real ``python3 -m ais_bench``.

One concern per module: :mod:`.args` (the command line), :mod:`.om` (the ``.om`` hand-off), :mod:`.load`
(the model and its batch, resolved once), :mod:`.inputs` (file-mode inputs: listing, order, plan),
:mod:`.flight` (requests in flight and their timing), :mod:`.outputs` (the result folder), :mod:`.run`
(pure and file mode), :mod:`.devices` (several devices), :mod:`.publish` (the summary, built once, written,
printed).

Every line the runner prints goes through one ``log`` callable (default :func:`print`, to stdout, where
ais_bench's log parsers read its ``[INFO]`` lines): a caller that runs it as a library silences or collects
them by passing its own; the progress bar alone goes to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

from .args import RunConfig, build_parser, config_from_args
from .devices import run_devices
from .om import is_om_command, run_om
from .run import run, run_files, run_pure

# What callers need: ais_infer.py's main, and one run from a RunConfig (a benchmark's loop). The parts (inputs,
# requests in flight, outputs, the summary) are imported from their modules.
__all__ = ["RunConfig", "main", "run", "run_files", "run_pure"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``ais_infer.py``: parse ais_bench's options, run the model, write and print ais_bench's summary."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if is_om_command(raw):  # before argparse: ais_bench's options this runner does not know go through too
        return run_om(raw)
    args = build_parser().parse_args(raw)
    config = config_from_args(args, [sys.argv[0] if sys.argv and sys.argv[0] else "ais_infer.py", *raw])
    if len(config.devices) > 1:
        return run_devices(config)
    run(config)
    return 0

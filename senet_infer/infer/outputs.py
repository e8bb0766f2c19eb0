"""The result folder, ``<output>/<output_dirname>/``: created and checked once, result files written into it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import List, Optional, Set, Tuple

import numpy as np

from ..errors import PipelineError
from ..fileio import clear_stale_temps, is_hidden_temp, is_within, parse_result_name, result_file_name, write_result
from .args import RunConfig

TIMESTAMP_FORMAT = "%Y_%m_%d-%H_%M_%S"  # ais_bench's default result folder name


def result_dirname(config: RunConfig) -> str:
    """``--output_dirname``, else ais_bench's timestamp (taken now)."""
    return config.output_dirname or time.strftime(TIMESTAMP_FORMAT)


def prepare_result_dir(config: RunConfig, folders: Sequence[Path],
                       log: Callable[[str], None] = print) -> Tuple[Optional[str], Optional[str]]:
    """(``<output>/<dirname>`` as ais_bench joins it, dirname), created and cleared of a killed run's hidden
    temporaries; (None, None) without ``--output``. ``folders``: the input folders it must not lie in."""
    if config.output is None:
        return None, None
    dirname = result_dirname(config)
    result_dir = os.path.join(config.output, dirname)
    for folder in folders:
        if is_within(config.output, folder):
            raise PipelineError(f"{config.output}: is inside the input folder {folder}; write results elsewhere")
    if os.path.exists(result_dir) and not os.path.isdir(result_dir):
        raise PipelineError(f"{result_dir}: exists and is not a folder")
    try:
        os.makedirs(result_dir, 0o755, exist_ok=True)
    except OSError as exc:
        raise PipelineError(f"{result_dir}: cannot create the result folder: {exc.strerror or exc}") from None
    if not os.access(result_dir, os.W_OK | os.X_OK):
        raise PipelineError(f"{result_dir}: result folder is not writable")
    clear_stale_temps(result_dir, log)
    return result_dir, dirname


def _result_files(result_dir: str) -> Set[str]:
    """Names of the result files (``<stem>_<k>.<fmt>``) in a folder, hidden temporaries excluded."""
    with os.scandir(result_dir) as entries:
        return {e.name for e in entries if not is_hidden_temp(e.name) and parse_result_name(e.name) is not None}


def warn_other_files(result_dir: str, written: Set[str], log: Callable[[str], None]) -> int:
    """One loud line when the result folder holds result files this run did not write; their count."""
    others = _result_files(result_dir) - written
    if others:
        log(f"[WARNING] {result_dir}: holds {len(others)} result files this run did not write (an earlier run's); "
            f"they were left in place: the summary's filesinfo lists the {len(written)} written by this run")
    return len(others)


def write_outputs(outputs: Sequence[np.ndarray], names: Sequence[str], stems: Sequence[str], result_dir: str,
                  fmt: str, axis: int, files_per_batch: int) -> List[List[str]]:
    """Split each output into one piece per input file, write the real ones; per sample, the paths written."""
    written: List[List[str]] = [[] for _ in stems]
    for k, (name, out) in enumerate(zip(names, outputs)):
        if out.ndim <= axis or out.shape[axis] % files_per_batch:
            raise PipelineError(f"model output {name!r} of shape {list(out.shape)} cannot be split into "
                                f"{files_per_batch} pieces (one per input file) along --output_batchsize_axis {axis}")
        pieces = np.split(out, files_per_batch, axis=axis) if files_per_batch > 1 else [out]
        for j, (stem, piece) in enumerate(zip(stems, pieces)):
            path = os.path.join(result_dir, result_file_name(stem, k, fmt))
            write_result(path, piece, fmt)
            written[j].append(path)
    return written

"""File mode's inputs, the one place: ``--input`` listed and ordered, paired with the model inputs, checked, and
read batch by batch.

ais_bench's rules: one folder per model input (scanned for ``.bin``/``.npy``, natural-sorted, files paired
by position) or a file list cut into one consecutive block per input; files per batch = the model input's
batch bytes / one file's bytes; a last, short batch is padded with copies of its first file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from ..backends import TensorInfo
from ..errors import PipelineError
from ..fileio import list_inputs, stem_of

INPUT_EXTENSIONS = (".bin", ".npy")


@dataclass(frozen=True)
class InputFile:
    """One input file: path as ais_bench names it, data bytes, and whether it is an .npy (header first)."""

    path: str
    nbytes: int
    is_npy: bool


@dataclass
class InputPlan:
    """The files of each model input and how they fill a batch."""

    files: List[List[InputFile]]  # per model input, in order
    files_per_batch: int          # input files that fill one batch (the batch's samples / one file's samples)
    batch_nbytes: List[int]
    stems: List[str]
    folders: List[Path]

    @property
    def num_inputs(self) -> int:
        """Input files per model input (= result files per model output)."""
        return len(self.stems)

    @property
    def num_batches(self) -> int:
        """Runs needed, the last one possibly padded."""
        return -(-self.num_inputs // self.files_per_batch)

    def share(self, part: int, parts: int) -> "InputPlan":
        """ais_bench's share of one of ``parts`` devices: each input's list cut into consecutive blocks
        of ceil(n / parts) (``seg_input_data_for_multi_process`` / ``split_inputs_new``)."""
        size = -(-self.num_inputs // parts)
        lo, hi = part * size, min(self.num_inputs, (part + 1) * size)
        return InputPlan([group[lo:hi] for group in self.files], self.files_per_batch, self.batch_nbytes,
                         self.stems[lo:hi], self.folders)


def _scan_folder(folder: str) -> List[str]:
    found = [str(p) for p in list_inputs(folder, INPUT_EXTENSIONS)]
    if not found:
        raise PipelineError(f"{folder}: no .bin or .npy files")
    return found


def _describe_file(path: str, info: TensorInfo) -> InputFile:
    if path.lower().endswith(".npy"):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # ValueError/OSError for a corrupt header or a pickled array
            raise PipelineError(f"{path}: not a readable .npy file: {exc}") from None
        if array.dtype != info.dtype:
            raise PipelineError(f"{path}: .npy holds {array.dtype}, but model input {info.name!r} is {info.dtype}")
        return InputFile(path, int(array.nbytes), True)
    try:
        return InputFile(path, os.stat(path).st_size, False)
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None


def group_inputs(entries: Sequence[str], n_inputs: int, names: Sequence[str] = ()) -> List[List[str]]:
    """``--input`` -> files per model input, as ais_bench pairs them: one folder per input, files paired by
    natural-sorted position; or a file list cut into ``n_inputs`` consecutive blocks (its ``list_split``)."""
    for entry in entries:
        if not os.path.exists(entry):
            raise PipelineError(f"{entry}: input not found")
    if all(os.path.isdir(e) for e in entries):
        if len(entries) != n_inputs:
            raise PipelineError(f"--input gives {len(entries)} folders but the model has {n_inputs} inputs "
                                f"({', '.join(names)}): one folder per input")
        groups = [_scan_folder(e) for e in entries]
    elif not any(os.path.isdir(e) for e in entries):
        if len(entries) % n_inputs:
            raise PipelineError(f"--input gives {len(entries)} files for a model with {n_inputs} inputs: "
                                f"the list is cut into {n_inputs} equal consecutive blocks, one per input")
        block = len(entries) // n_inputs
        groups = [list(entries[k * block:(k + 1) * block]) for k in range(n_inputs)]
    else:
        raise PipelineError("--input mixes folders and files: give folders (one per model input) or files")
    counts = [len(g) for g in groups]
    if len(set(counts)) != 1:
        raise PipelineError(f"--input: the model inputs get different numbers of files: {counts}")
    return groups


def plan_inputs(entries: Sequence[str], inputs: Sequence[TensorInfo]) -> InputPlan:
    """Resolve ``--input`` into files per model input and check every file's size before running."""
    groups = group_inputs(entries, len(inputs), [i.name for i in inputs])
    folders = sorted({Path(p).resolve().parent for group in groups for p in group[:1]} |
                     {Path(e).resolve() for e in entries if os.path.isdir(e)})
    files: List[List[InputFile]] = []
    batch_nbytes: List[int] = []
    files_per_batch: Set[int] = set()
    for info, group in zip(inputs, groups):
        need = info.nbytes
        described = [_describe_file(p, info) for p in group]
        first = described[0]
        for f in described:
            if f.nbytes != first.nbytes:
                raise PipelineError(f"{f.path}: {f.nbytes} bytes, unlike the {first.nbytes} bytes of "
                                    f"{os.path.basename(first.path)}: all input files must have the same size")
        if first.nbytes == 0 or need % first.nbytes:
            raise PipelineError(f"{first.path}: {first.nbytes} bytes does not divide the {need}-byte batch of "
                                f"model input {info.describe()}")
        files_per_batch.add(need // first.nbytes)
        files.append(described)
        batch_nbytes.append(need)
    if len(files_per_batch) != 1:
        raise PipelineError(f"--input: the model inputs need different numbers of files per batch: "
                            f"{sorted(files_per_batch)}")

    stems: List[str] = []
    seen: Dict[str, str] = {}
    for f in files[0]:
        stem = stem_of(f.path)
        if stem in seen:
            raise PipelineError(f"{f.path}: same result name {stem!r} as {seen[stem]}; rename one of them")
        seen[stem] = f.path
        stems.append(stem)
    return InputPlan(files, files_per_batch.pop(), batch_nbytes, stems, folders)


def _read_into(f: InputFile, view: memoryview, dtype: np.dtype) -> None:
    if f.is_npy:
        try:
            array = np.load(f.path, allow_pickle=False)
        except Exception as exc:
            raise PipelineError(f"{f.path}: not a readable .npy file: {exc}") from None
        if array.dtype != dtype or array.nbytes != len(view):
            raise PipelineError(f"{f.path}: changed while running ({array.dtype}, {array.nbytes} bytes)")
        view[:] = np.ascontiguousarray(array).reshape(-1).view(np.uint8).data
        return
    try:
        with open(f.path, "rb", buffering=0) as fh:
            got = 0
            while got < len(view):
                n = fh.readinto(view[got:])
                if not n:
                    break
                got += n
            extra = fh.read(1)
    except OSError as exc:
        raise PipelineError(f"{f.path}: cannot read: {exc.strerror or exc}") from None
    if got != len(view) or extra:
        raise PipelineError(f"{f.path}: size changed while running (expected {len(view)} bytes)")


def read_batches(plan: InputPlan, inputs: Sequence[TensorInfo],
                 stop: Optional[threading.Event] = None) -> Iterator[Tuple[Dict[str, np.ndarray], int, int]]:
    """Yield (feeds, index of the batch's first file, real files) per batch; a short batch repeats its first file."""
    per_batch = plan.files_per_batch
    for b in range(plan.num_batches):
        if stop is not None and stop.is_set():
            return
        lo = b * per_batch
        real = min(per_batch, plan.num_inputs - lo)
        feeds = {}
        for info, group, need in zip(inputs, plan.files, plan.batch_nbytes):
            buf = np.empty(need, dtype=np.uint8)
            view = buf.data  # a memoryview of the batch buffer
            size = need // per_batch
            for j in range(real):
                _read_into(group[lo + j], view[j * size:(j + 1) * size], info.dtype)
            for j in range(real, per_batch):
                buf[j * size:(j + 1) * size] = buf[:size]
            feeds[info.name] = buf.view(info.dtype).reshape(info.shape)
        yield feeds, lo, real

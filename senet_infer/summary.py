"""The runner's summary file, ``<output>/<output_dirname>_summary.json``: one typed record, one loader.

The file has ais_bench's own keys with their meanings (its ``summary.py``), so scripts written for
the vendor's summary work unchanged:

- ``filesinfo``: ``{sample id (str): {"infiles": [...], "outfiles": [...]}}``, the files this run read
  and wrote, sample ids counting from 0 in input order;
- ``args``: the run's command line (ais_bench writes its ``sys.argv``); ``pid``: the runner's process id;
- ``NPU_compute_time``, ``H2D_latency``, ``D2H_latency``: each ``{"min", "max", "mean", "median",
  "percentile(99%)", "count"}`` in milliseconds;
- ``throughput``: ``1000 * mean batch / NPU_compute_time.mean``;
- ``npu_compute_time_list``: every timed run's compute time, ms.

Everything this project adds lives under the one extra key :data:`EXTRA_KEY` (see :class:`Extras`).
Readers (the metric, the driver's perf step) go through :func:`load_summary`, never through the
runner's printed lines.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .errors import PipelineError

SUMMARY_SUFFIX = "_summary.json"
EXTRA_KEY = "senet_infer"
PERCENTILE = 99
PERCENTILE_KEY = "percentile({}%)".format(PERCENTILE)
_STAT_KEYS = ("min", "max", "mean", "median", PERCENTILE_KEY, "count")


def summary_path(output: "os.PathLike[str] | str", dirname: str) -> Path:
    """Where ais_bench puts the summary of ``<output>/<dirname>``: beside the folder, never inside it."""
    return Path(output) / (dirname + SUMMARY_SUFFIX)


def summary_path_for(result_dir: "os.PathLike[str] | str") -> Path:
    """The summary that belongs to a result folder (``result/`` -> ``result_summary.json``)."""
    folder = Path(result_dir)
    return folder.parent / (folder.name + SUMMARY_SUFFIX)


@dataclass(frozen=True)
class TimeStats:
    """ais_bench's statistics of a list of times, in milliseconds (zeros for an empty list)."""

    min: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    median: float = 0.0
    p99: float = 0.0
    count: int = 0

    @classmethod
    def from_ms(cls, values_ms: Sequence[float]) -> "TimeStats":
        """Statistics of per-run times in milliseconds."""
        import numpy as np

        ms = np.asarray(values_ms, dtype=np.float64)
        if ms.size == 0:
            return cls()
        return cls(float(ms.min()), float(ms.max()), float(ms.mean()), float(np.median(ms)),
                   float(np.percentile(ms, PERCENTILE)), int(ms.size))

    def to_json(self) -> Dict[str, Any]:
        """ais_bench's record: ``{"min", "max", "mean", "median", "percentile(99%)", "count"}``."""
        return dict(zip(_STAT_KEYS, (self.min, self.max, self.mean, self.median, self.p99, self.count)))

    @classmethod
    def from_json(cls, record: Dict[str, Any]) -> "TimeStats":
        low, high, mean, median, p99 = (float(record[key]) for key in _STAT_KEYS[:-1])
        return cls(low, high, mean, median, p99, int(record["count"]))


@dataclass
class Extras:
    """This project's additions to the summary, all under :data:`EXTRA_KEY`."""

    backend: str = ""              # runtime that ran the model (auto resolved), e.g. "openvino"
    backend_version: str = ""
    device: str = ""               # e.g. "CPU", "cuda:0"
    precision: str = "fp32"        # precision the backend really ran at
    mode: str = "file"             # "file" or "pure"
    batchsize: int = 0             # samples per run (the model's static batch)
    num_inputs: int = 0            # input files read (0 in pure mode)
    files_per_batch: int = 0
    end_to_end_s: float = 0.0      # wall time after the warm-up: to the last write (file mode) or of the timed loop (pure)
    end_to_end_images_per_s: float = 0.0
    result_dir: Optional[str] = None
    model: str = ""
    timing: str = ""               # how NPU_compute_time, H2D and D2H were measured (e.g. overlapping requests)
    annotations: Dict[str, str] = field(default_factory=dict)
    throughput_batchsize: int = 0  # the batch of the throughput formula (--batchsize, else the model's)
    hint: str = ""                 # "throughput" or "latency"
    requests: int = 1              # batches in flight at once
    streams: int = 1               # the runtime's parallel streams
    request_latency: Dict[str, Any] = field(default_factory=dict)  # each request's own latency, ms (stats record)
    options: Dict[str, Any] = field(default_factory=dict)          # every option of the run, resolved
    other_files_in_result_dir: int = 0  # result files in the folder that this run did not write


@dataclass
class RunSummary:
    """One run's summary file, typed."""

    compute: TimeStats
    throughput: float
    extras: Extras
    filesinfo: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)
    args: Any = field(default_factory=list)  # ais_bench: its command line (a list of strings)
    h2d: TimeStats = field(default_factory=TimeStats)
    d2h: TimeStats = field(default_factory=TimeStats)
    compute_list_ms: List[float] = field(default_factory=list)
    pid: int = 0
    path: Optional[Path] = field(default=None, compare=False)  # where it was written or read; not in the file

    def outfiles(self) -> List[str]:
        """Every result file this run wrote, in sample order."""
        ordered = sorted(self.filesinfo.items(), key=lambda item: int(item[0]) if item[0].isdigit() else item[0])
        return [name for _, info in ordered for name in info.get("outfiles", [])]

    def to_json(self) -> Dict[str, Any]:
        """The file's content: the vendor's keys, then :data:`EXTRA_KEY`."""
        return {
            "filesinfo": self.filesinfo,
            "args": self.args,
            "NPU_compute_time": self.compute.to_json(),
            "H2D_latency": self.h2d.to_json(),
            "D2H_latency": self.d2h.to_json(),
            "throughput": self.throughput,
            "npu_compute_time_list": list(self.compute_list_ms),
            "pid": self.pid,
            EXTRA_KEY: asdict(self.extras),
        }

    @classmethod
    def from_json(cls, record: Dict[str, Any]) -> "RunSummary":
        """Parse a summary; one written by the vendor's ais_bench (no extras) is accepted too."""
        extras_record = dict(record.get(EXTRA_KEY) or {})
        known = set(Extras.__dataclass_fields__)  # a newer writer's extra fields are ignored
        extras = Extras(**{k: v for k, v in extras_record.items() if k in known})
        zero = TimeStats().to_json()
        return cls(
            compute=TimeStats.from_json(record["NPU_compute_time"]),
            throughput=float(record["throughput"]),
            extras=extras,
            filesinfo={str(k): v for k, v in (record.get("filesinfo") or {}).items()},
            args=record.get("args") or [],
            h2d=TimeStats.from_json(record.get("H2D_latency") or zero),
            d2h=TimeStats.from_json(record.get("D2H_latency") or zero),
            compute_list_ms=[float(x) for x in record.get("npu_compute_time_list") or []],
            pid=int(record.get("pid") or 0),
        )


def load_summary(path: "os.PathLike[str] | str") -> RunSummary:
    """Read a summary file; a missing, unreadable or malformed one is one clear error naming it."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError("{}: summary not found".format(path)) from None
    except (OSError, ValueError) as exc:
        raise PipelineError("{}: not a readable summary JSON ({})".format(path, exc)) from None
    try:
        summary = RunSummary.from_json(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError("{}: not an ais_bench summary (missing or bad field {})".format(path, exc)) from None
    summary.path = path
    return summary

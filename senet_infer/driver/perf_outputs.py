"""The perf step's figures: parse ais_bench's throughput line, write the perf table and chart.

One table and one chart for every precision measured, each with its drift from PyTorch fp32 and its
speed relative to fp32 at the same batch size.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..errors import PipelineError
from ..fileio import atomic_path, atomic_write_json, atomic_write_text, read_json
from .paths import Paths

# ais_bench prints: "[INFO] throughput 1000*batchsize.mean(32)/NPU_compute_time.mean(11.9): 2690.2"
_THROUGHPUT = re.compile(
    r"throughput 1000\*batchsize\.mean\((?P<batch>[\d.]+)\)/NPU_compute_time\.mean\((?P<ms>[\d.eE+-]+)\):\s*(?P<value>[\d.eE+-]+)"
)


@dataclass(frozen=True)
class PerfRecord:
    """One batch size's pure-inference result."""

    batch_size: int
    throughput_images_per_s: float  # ais_bench's formula: 1000 * batch / mean compute ms
    compute_mean_ms: float
    backend: str = ""
    precision: str = ""
    compute_median_ms: float | None = None
    compute_p99_ms: float | None = None
    runs: int | None = None


@dataclass(frozen=True)
class Drift:
    """A precision's drift from PyTorch fp32 on a few images (the perf step's small fidelity check)."""

    precision: str
    images: int
    top1_agreement: float
    top5_agreement: float
    min_cosine_similarity: float
    max_relative_error: float

    def short(self) -> str:
        """``top-1 100 %, cos 0.9991, rel err 3.1e-02``."""
        return (f"top-1 {100 * self.top1_agreement:.0f} %, cos {self.min_cosine_similarity:.4f}, "
                f"rel err {self.max_relative_error:.1e}")


def parse_throughput(text: str, source: str = "ais_bench output") -> tuple[float, float, float]:
    """(batch, mean compute ms, throughput) from the last ais_bench throughput line in ``text``."""
    matches = list(_THROUGHPUT.finditer(text))
    if not matches:
        raise PipelineError(f"{source}: no 'throughput 1000*batchsize.mean(...)/NPU_compute_time.mean(...)' line")
    last = matches[-1]
    return float(last["batch"]), float(last["ms"]), float(last["value"])


def _speedups(records: list[PerfRecord]) -> dict[tuple[str, int], float]:
    """Each record's throughput over fp32's at the same batch size (where fp32 was measured)."""
    fp32 = {r.batch_size: r.throughput_images_per_s for r in records if r.precision == "fp32"}
    return {(r.precision, r.batch_size): r.throughput_images_per_s / fp32[r.batch_size]
            for r in records if fp32.get(r.batch_size)}


def markdown_table(chip: str, records: list[PerfRecord], drift: Optional[Mapping[str, Drift]] = None) -> str:
    """A table shaped like the guide's (chip, batch size, throughput), with the runtime and precision, and
    with ``drift`` given: the speed relative to fp32 and each precision's drift from PyTorch fp32."""
    head = "| chip | backend | precision | batch size | throughput (images/s) | mean compute (ms/batch) |"
    rule = "| --- | --- | --- | ---: | ---: | ---: |"
    if drift is not None:
        head += " vs fp32 | top-1 agree | top-5 agree | min cosine | max rel err |"
        rule += " ---: | ---: | ---: | ---: | ---: |"
    speedups = _speedups(records)
    lines = [head, rule]
    for record in records:
        line = (f"| {chip} | {record.backend} | {record.precision} | {record.batch_size} | "
                f"{record.throughput_images_per_s:.1f} | {record.compute_mean_ms:.2f} |")
        if drift is not None:
            ratio = speedups.get((record.precision, record.batch_size))
            line += f" {ratio:.2f}x |" if ratio is not None else " – |"
            d = drift.get(record.precision)
            line += (f" {100 * d.top1_agreement:.1f} % | {100 * d.top5_agreement:.1f} % | "
                     f"{d.min_cosine_similarity:.6f} | {d.max_relative_error:.2e} |" if d else " – | – | – | – |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_perf_outputs(
    work_dir: Path, chip: str, records: list[PerfRecord], meta: dict[str, object],
    drift: Optional[Mapping[str, Drift]] = None,
) -> tuple[Path, Path, Path]:
    """Write ``perf.json``, ``perf.md`` and the ``perf.png`` chart (throughput against batch size, one line per
    precision, its drift in the legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    json_path, md_path, png_path = Paths(work_dir).perf_outputs
    drift_json = {p: asdict(d) for p, d in (drift or {}).items()}
    atomic_write_json(json_path, {**meta, "chip": chip, "results": [asdict(r) for r in records],
                                  **({"drift": drift_json} if drift is not None else {})})
    header = (f"SE-ResNet50 throughput, pure inference (ais_bench `--loop {meta.get('loop')}`, no file I/O), "
              f"measured {meta.get('date')} on {meta.get('machine', chip)}")
    if drift:
        images = max(d.images for d in drift.values())
        header += (f"; drift vs PyTorch fp32 on {images} images of the evaluation set through the same chain "
                   "(step 4 on that precision's model)")
    atomic_write_text(md_path, header + "\n\n" + markdown_table(chip, records, drift))

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    precisions = list(dict.fromkeys(r.precision for r in records))
    top = 0.0
    for precision in precisions:
        rows = [r for r in records if r.precision == precision]
        sizes = [r.batch_size for r in rows]
        values = [r.throughput_images_per_s for r in rows]
        top = max([top, *values])
        d = (drift or {}).get(precision)
        label = f"{precision}" + (f" ({d.short()})" if d else "")
        ax.plot(sizes, values, marker="o", label=label)
        for x, y in zip(sizes, values):
            ax.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    sizes = sorted({r.batch_size for r in records})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("throughput (images/s)")
    ax.set_ylim(bottom=0, top=top * 1.25 if top else 1)
    backends = sorted({r.backend for r in records})
    ax.set_title(f"SE-ResNet50, {chip}, {', '.join(backends)}", fontsize=9)
    if len(precisions) > 1 or drift:
        ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return json_path, md_path, png_path


@dataclass(frozen=True)
class PerfFigures:
    """``perf.json`` read back: the chip, each measurement, each precision's drift, and the rest of the record."""

    chip: str
    records: List[PerfRecord]
    drift: Dict[str, Drift]
    meta: Dict[str, Any]  # date, machine, loop, precisions, the run's notes

    def speedups(self) -> Dict[tuple[str, int], float]:
        """Each record's throughput over fp32's at the same batch size."""
        return _speedups(self.records)


def _typed(cls: Any, record: Mapping[str, Any]) -> Any:
    """A dataclass from its ``asdict`` record, numbers checked (TypeError or ValueError when they are not)."""
    values: Dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in record:
            continue
        value = record[f.name]
        kind = str(f.type)
        if value is not None and ("float" in kind or "int" in kind):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{f.name} is not a number")
            value = int(value) if kind.startswith("int") else float(value)
        values[f.name] = value
    return cls(**values)


def read_perf_json(path: Path) -> PerfFigures:
    """The one reader of :func:`write_perf_outputs`'s ``perf.json``; another file is one error naming it."""
    doc = read_json(path)
    try:
        records = [_typed(PerfRecord, r) for r in doc["results"]]
        drift = {str(p): _typed(Drift, d) for p, d in dict(doc.get("drift") or {}).items()}
        meta = {k: v for k, v in doc.items() if k not in ("chip", "results", "drift")}
        return PerfFigures(str(doc["chip"]), records, drift, meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PipelineError(f"{path}: not the perf step's record ({type(exc).__name__}: {exc})") from None

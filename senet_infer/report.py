"""Throughput reporting: parse ais_bench's summary line, describe the machine, write the perf table and chart."""

from __future__ import annotations

import platform
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import PipelineError
from .fileio import atomic_path, atomic_write_json, atomic_write_text

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


def parse_throughput(text: str, source: str = "ais_bench output") -> tuple[float, float, float]:
    """(batch, mean compute ms, throughput) from the last ais_bench throughput line in ``text``."""
    matches = list(_THROUGHPUT.finditer(text))
    if not matches:
        raise PipelineError(f"{source}: no 'throughput 1000*batchsize.mean(...)/NPU_compute_time.mean(...)' line")
    last = matches[-1]
    return float(last["batch"]), float(last["ms"]), float(last["value"])


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown_table(chip: str, records: list[PerfRecord]) -> str:
    """A table shaped like the guide's (chip, batch size, throughput), with the runtime and precision."""
    lines = [
        "| chip | backend | precision | batch size | throughput (images/s) | mean compute (ms/batch) |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for record in records:
        lines.append(
            f"| {chip} | {record.backend} | {record.precision} | {record.batch_size} | "
            f"{record.throughput_images_per_s:.1f} | {record.compute_mean_ms:.2f} |"
        )
    return "\n".join(lines) + "\n"


def short_cpu_name(name: str) -> str:
    """``Intel(R) Xeon(R) Processor @ 2.50GHz`` -> ``Intel Xeon @ 2.50GHz``."""
    for noise in ("(R)", "(TM)", "(tm)", " CPU", " Processor"):
        name = name.replace(noise, "")
    return " ".join(name.split())


def write_perf_outputs(
    work_dir: Path, chip: str, records: list[PerfRecord], meta: dict[str, object]
) -> tuple[Path, Path, Path]:
    """Write ``perf.json``, ``perf.md`` and the ``perf.png`` chart (throughput against batch size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    json_path, md_path, png_path = work_dir / "perf.json", work_dir / "perf.md", work_dir / "perf.png"
    atomic_write_json(json_path, {**meta, "chip": chip, "results": [asdict(r) for r in records]})
    header = (f"SE-ResNet50 throughput, pure inference (ais_bench `--loop {meta.get('loop')}`, no file I/O), "
              f"measured {meta.get('date')} on {meta.get('machine', chip)}\n\n")
    atomic_write_text(md_path, header + markdown_table(chip, records))

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    sizes = [r.batch_size for r in records]
    values = [r.throughput_images_per_s for r in records]
    ax.plot(sizes, values, marker="o")
    for x, y in zip(sizes, values):
        ax.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("throughput (images/s)")
    ax.set_ylim(bottom=0, top=max(values) * 1.15 if values else 1)
    runtimes = sorted({f"{r.backend} {r.precision}".strip() for r in records})
    ax.set_title(f"SE-ResNet50, {chip}, {', '.join(runtimes)}", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return json_path, md_path, png_path

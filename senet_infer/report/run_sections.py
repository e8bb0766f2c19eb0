"""The sections about the run: performance (throughput, ratios, step times) and the run's record."""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Sequence, Tuple

from ..driver.engine import Timings
from . import charts
from .gather import RunOutputs
from .page import chart, esc, missing, note, section, table
from .references import FULL_SET, GUIDE_THROUGHPUT

ISA_WORDS = (("amx_int8", "AMX"), ("avx512_fp16", "AVX512-FP16"), ("avx512_bf16", "AVX512-BF16"),
             ("avx512_vnni", "AVX512-VNNI"))


def isa_words(flags: Sequence[str]) -> str:
    """The instruction sets that decide int8/bf16 speed, in words (``AVX2 only`` without AVX-512)."""
    words = [word for flag, word in ISA_WORDS if flag in flags]
    if not words:
        if "avx512f" in flags:
            return "AVX-512 without VNNI, BF16 or AMX"
        return "AVX2 only (no AVX-512)" if "avx2" in flags else "neither AVX2 nor AVX-512"
    return ", ".join(words)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def performance_section(out: RunOutputs) -> str:
    perf, timings = out.perf, out.timings
    parts: List[str] = []
    if perf is None:
        parts.append(missing("perf.json", "the perf step of run_infer.sh (step 6, throughput per batch size)"))
    else:
        lines: Dict[str, List[Tuple[int, float]]] = {}
        for r in perf.records:
            lines.setdefault(r.precision or "?", []).append((r.batch_size, r.throughput_images_per_s))
        backends = sorted({r.backend for r in perf.records if r.backend})
        title = f"SE-ResNet50, {perf.chip}" + (f", {', '.join(backends)}" if backends else "")
        parts.append(chart(charts.throughput_chart(lines, title, GUIDE_THROUGHPUT),
                           "throughput against batch size, one line per precision"))
        speedups = perf.speedups()
        rows = []
        for r in perf.records:
            ratio = speedups.get((r.precision, r.batch_size))
            d = perf.drift.get(r.precision)
            rows.append([r.precision, r.backend, r.batch_size, f"{r.throughput_images_per_s:.1f}",
                         f"{r.compute_mean_ms:.2f}", f"{ratio:.2f}x" if ratio is not None else "–",
                         d.short() if d is not None else "–"])
        parts.append(table(["precision", "backend", "batch size", "images/s", "mean compute ms/batch", "vs fp32",
                            "drift from PyTorch fp32"], rows, (2, 3, 4, 5)))
        loop = perf.meta.get("loop")
        parts.append(note(f"Pure inference (ais_bench --loop {loop}, no file I/O), measured {perf.meta.get('date')} "
                          f"on {perf.meta.get('machine', perf.chip)}. The star is {GUIDE_THROUGHPUT[1]:.0f} images/s at "
                          f"batch {GUIDE_THROUGHPUT[0]}: {charts.GUIDE_MARK_LABEL}."))
    if timings is None:
        parts.append(missing(".run_infer/timings.json", "run_infer.sh (each step's wall time)"))
    else:
        parts.append("<h3>Each step's wall time</h3>")
        parts.append(chart(charts.step_times_chart(step_times(timings)), "each step's wall time"))
        parts.append(f"<p>Last run {esc(timings.date)} on {esc(timings.machine)}; light bars: the step was up to "
                     "date or not chosen in the last run, its time is from the run that last ran it.</p>")
        parts.append(_projection(timings))
    return section("performance", "Performance", "\n".join(parts))


def step_times(timings: Timings) -> List[Tuple[str, float, str]]:
    """(step, seconds, note) in the steps table's order: the last run's time where it ran the step, else the time
    of the run that last did (noted), else the last run's (up to date)."""
    from ..driver.steps import step_names

    last = {s.name: s for s in timings.steps}
    found = []
    for name in step_names():
        step = last.get(name)
        earlier = timings.last_ran.get(name)
        if step is not None and step.ran:
            found.append((name, step.seconds, ""))
        elif earlier is not None:
            found.append((name, float(earlier["seconds"]), f"run of {earlier['date']}"))
        elif step is not None:
            found.append((name, step.seconds, "up to date"))
    return found


def _projection(timings: Timings) -> str:
    """The infer step's last measured time, projected to the whole validation set."""
    infer = timings.last_ran.get("infer")
    if infer is None or not isinstance(infer.get("images"), int) or not infer["images"]:
        return note("No measured time of the infer step in this work folder: no projection to 50,000 images.")
    seconds, images = float(infer["seconds"]), int(infer["images"])
    rate = images / seconds
    return (f'<p id="projection">The infer step took {seconds:.1f} s for {images:,} images ({rate:.1f} images/s, '
            f"file I/O and model load included; run of {esc(infer['date'])}): about "
            f"<b>{esc(_duration(FULL_SET / rate))}</b> for the {FULL_SET:,} images of the ImageNet validation set "
            "at this speed.</p>")


def _kv(record: Dict[str, object], key: str) -> Optional[object]:
    value = record.get(key)
    return value if value not in (None, "", [], {}) else None


def run_section(out: RunOutputs, made: dt.datetime) -> str:
    record = out.record
    rows: List[List[object]] = [["report made", made.isoformat(timespec="seconds")]]
    parts: List[str] = []
    if record is None:
        parts.append(missing(".run_infer/run.json", "the report step of run_infer.sh (the run's command, options, "
                                                    "toolchain, versions and machine)"))
        if out.summary is not None:
            extras = out.summary.extras
            rows.append(["step 4's command (result_summary.json)", " ".join(str(a) for a in out.summary.args)])
            if extras.backend:
                rows.append(["runtime (result_summary.json)", f"{extras.backend} {extras.backend_version}".strip()])
    else:
        rows += [["run date", record.get("date")], ["project commit", _kv(record, "commit") or "not a git checkout"],
                 ["command", record.get("command")], ["toolchain", record.get("toolchain")],
                 ["runtime", record.get("runtime")], ["Python", record.get("python")]]
        if out.summary is not None and out.summary.extras.backend:
            extras = out.summary.extras
            rows.append(["step 4 ran on", f"{extras.backend} {extras.backend_version} at {extras.precision}"])
        packages = record.get("packages")
        if isinstance(packages, dict):
            rows.append(["packages", ", ".join(f"{k} {v}" for k, v in packages.items())])
        flags = record.get("cpu_flags")
        cpu = f"{record.get('cpu')}, {record.get('cores')} cores"
        if isinstance(flags, list):
            cpu += f"; {isa_words([str(f) for f in flags])}"
        rows.append(["CPU", cpu])
        if _kv(record, "gpu"):
            rows.append(["GPU", record.get("gpu")])
        checkpoint = record.get("checkpoint")
        if isinstance(checkpoint, dict):
            demo = " (DEMO: seeded random weights)" if checkpoint.get("demo") else ""
            rows.append(["checkpoint", f"{checkpoint.get('path')}, SHA-256 {checkpoint.get('sha256_prefix')}…{demo}"])
        dataset = record.get("dataset")
        if isinstance(dataset, dict):
            rows += [[f"dataset: {k}", v] for k, v in dataset.items() if v not in (None, "")]
        options = record.get("options")
        if isinstance(options, dict):
            parts.append('<details><summary>Every option</summary>'
                         + table(["option", "value"], [[k, v] for k, v in options.items()]) + "</details>")
    if out.image_source is not None:
        rows.append(["images (step 1's record)", f"{out.image_source} ({len(out.images):,} images)"])
    if out.predictions is not None:
        rows.append(["images scored", f"{len(out.predictions):,}"])
    return section("run", "The run", table(["", ""], rows) + "\n" + "\n".join(parts))

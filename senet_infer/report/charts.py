"""The report's charts: matplotlib figures as SVG data URIs (a document of their own each, so that their ids
never collide; nothing is fetched when the page opens)."""

from __future__ import annotations

import base64
import io
from typing import Dict, List, Optional, Sequence, Tuple

GUIDE_MARK_LABEL = "Ascend 310P3, from the guide, not measured here"


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, and the page's font
    plt.rcParams["svg.hashsalt"] = "senet-report"  # the same figure gives the same bytes
    return plt


def _svg_uri(fig: object) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})  # type: ignore[attr-defined]
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def class_histogram(top1_percents: Sequence[float]) -> str:
    """How many classes fall in each 10-point band of top-1 accuracy."""
    plt = _pyplot()
    bands = [0] * 10
    for value in top1_percents:
        bands[min(int(value // 10), 9)] += 1
    fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
    ax.bar([f"{10 * i}–{10 * i + 10}" for i in range(10)], bands, color="#4c78a8")
    for i, count in enumerate(bands):
        if count:
            ax.annotate(str(count), (i, count), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=8)
    ax.set_xlabel("top-1 of the class (%)")
    ax.set_ylabel("classes")
    ax.set_ylim(0, max(bands) * 1.2 + 1)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _svg_uri(fig)


def throughput_chart(lines: Dict[str, List[Tuple[int, float]]], title: str,
                     guide_mark: Optional[Tuple[int, float]] = None) -> str:
    """Throughput against batch size, one line per precision, and the guide's figure as a reference mark."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    sizes = set()
    for precision, points in lines.items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        sizes.update(xs)
        ax.plot(xs, ys, marker="o", label=precision)
        for x, y in points:
            ax.annotate(f"{y:.0f}" if y >= 10 else f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 5),
                        ha="center", fontsize=7)
    if guide_mark is not None:
        ax.plot([guide_mark[0]], [guide_mark[1]], marker="*", markersize=12, linestyle="none", color="#b22222",
                label=f"{guide_mark[1]:.0f} images/s: {GUIDE_MARK_LABEL}")
        sizes.add(guide_mark[0])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ordered = sorted(sizes)
    ax.set_xticks(ordered)
    ax.set_xticklabels([str(s) for s in ordered])
    ax.set_xlabel("batch size")
    ax.set_ylabel("throughput (images/s, log scale)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return _svg_uri(fig)


def step_times_chart(steps: Sequence[Tuple[str, float, str]]) -> str:
    """Each step's wall time as a horizontal bar: (name, seconds, note); a note marks a time not of the last run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(steps) + 1.0), dpi=100)
    rows = list(steps)[::-1]
    ax.barh([name for name, _, _ in rows], [s for _, s, _ in rows],
            color=["#4c78a8" if not note else "#a9c1dc" for _, _, note in rows])
    top = max([s for _, s, _ in rows] + [0.1])
    for i, (_, value, note) in enumerate(rows):
        ax.annotate(f"{value:.1f} s" + (f" ({note})" if note else ""), (value, i), textcoords="offset points",
                    xytext=(3, -3), fontsize=7)
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("wall time (s)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return _svg_uri(fig)

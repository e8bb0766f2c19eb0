"""A run's work folder made by hand, through the project's own writers, for the report's tests and benchmark.

The answers are planted: every image's label and logits are chosen, so per-class figures, confusions and the
examples shown are known in advance.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from senet_infer.agreement import Agreement
from senet_infer.driver.engine import Engine
from senet_infer.driver.paths import Paths
from senet_infer.driver.perf_outputs import Drift, PerfRecord, write_perf_outputs
from senet_infer.fidelity import FidelityRecord, write_fidelity_json
from senet_infer.fileio import write_result
from senet_infer.metric import Accuracy, write_accuracy_json
from senet_infer.metric.predictions import write_predictions
from senet_infer.metric.ranking import label_ranks
from senet_infer.preprocess import EvalTransform
from senet_infer.preprocess.outputs import write_manifest

CLASSES = 1000


def image_name(i: int) -> str:
    return f"ILSVRC2012_val_{i + 1:08d}.JPEG"


def planted_logits(labels: Sequence[int], answers: Sequence[int], seed: int = 0) -> np.ndarray:
    """Logits whose top-1 is ``answers[i]``, with the label second where the answer is wrong."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (len(labels), CLASSES)).astype(np.float32)
    for i, (label, answer) in enumerate(zip(labels, answers)):
        logits[i, answer] = 12.0
        if label != answer:
            logits[i, label] = 11.0
    return logits


def write_images(folder: Path, names: Sequence[str], distinct: int = 8) -> None:
    """JPEGs for ``names``: ``distinct`` real ones, the rest hard links to them (cheap at 50,000)."""
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for k in range(min(distinct, len(names))):
        path = folder / names[k]
        colour = (40 + 25 * k % 200, 90, 200 - 20 * k % 180)
        Image.new("RGB", (500, 375), colour).save(path, quality=85)
        originals.append(path)
    for k in range(len(originals), len(names)):
        os.link(originals[k % len(originals)], folder / names[k])


def make_run(work: Path, labels: Sequence[int], answers: Sequence[int], *, images: bool = True,
             accuracy: bool = True, predictions: bool = True, fidelity: bool = True, perf: bool = True,
             timings: bool = True, results: bool = False, notes: dict[str, str] | None = None,
             resize: str = "shorter") -> Paths:
    """A work folder as a run with these planted answers leaves it; each output can be left out."""
    paths = Paths(work)
    work.mkdir(parents=True, exist_ok=True)
    names = [image_name(i) for i in range(len(labels))]
    logits = planted_logits(labels, answers)
    targets = np.asarray(labels, np.int64)
    ranks = label_ranks(logits, targets)
    source = paths.imagenet / "val_union"
    if images:
        write_images(source, names)
        (paths.imagenet / "val_label.txt").write_text("".join(f"{n} {c}\n" for n, c in zip(names, labels)))
        write_manifest(paths.bin_dir, str(source), EvalTransform(resize=resize),
                       {f"{Path(n).stem}.bin": {"source": n, "size": 1, "mtime_ns": 1} for n in names})
    if results:
        paths.result_dir.mkdir(parents=True, exist_ok=True)
        for name, row in zip(names, logits):
            write_result(paths.result_dir / f"{Path(name).stem}_0.txt", row, "TXT")
    if predictions:
        write_predictions(paths.predictions_csv, names, targets, logits, ranks)
    if accuracy:
        hits = tuple(int((ranks < k).sum()) for k in range(1, 6))
        write_accuracy_json(Accuracy(len(names), len(names), CLASSES, hits), paths.accuracy_json, notes)
    if fidelity:
        reference = logits.copy()
        changed = list(range(0, len(labels), max(1, len(labels) // 3)))[:3]
        for i in changed:  # PyTorch's top-1 differs on these
            reference[i, (int(answers[i]) + 1) % CLASSES] = 20.0
        agreement = Agreement.from_logits(logits, reference, tolerance=1e-4, subject="fidelity vs PyTorch fp32",
                                          enforced=False, precision="int8", names=[Path(n).stem for n in names])
        write_fidelity_json(paths.fidelity_json, FidelityRecord(agreement, "openvino", "fidelity on all images",
                                                                 agreement.one_line(), dict(notes or {})))
    if perf:
        records = [PerfRecord(b, t, 1000.0 * b / t, "openvino", p) for p, rate in (("fp32", 20.0), ("int8", 60.0))
                   for b, t in ((1, rate), (4, rate * 1.1), (32, rate * 1.2))]
        drift = {"int8": Drift("int8", 8, 0.875, 0.5, 0.98, 0.17)}
        write_perf_outputs(work, "AMD EPYC", records, {"date": dt.date.today().isoformat(), "machine": "test",
                                                       "loop": 3, **(notes or {})}, drift)
    if timings:
        engine: Engine[object] = Engine(work, [], [])
        engine.timings = {"weights": 0.2, "dataset": 0.1, "preprocess": 3.0, "infer": 12.5, "metric": 0.5}
        engine.ran = {"preprocess": True, "infer": True, "metric": True}
        paths.state_dir.mkdir(exist_ok=True)
        engine.record_timings({"images": len(labels)})
    return paths


def write_vendor_summary(paths: Paths, count: int) -> None:
    """``result_summary.json`` as the vendor's ais_bench writes it (no project keys), listing every result."""
    from senet_infer.fileio import atomic_write_json

    stats = {"min": 1.0, "max": 1.0, "mean": 1.0, "median": 1.0, "percentile(99%)": 1.0, "count": 1}
    files = {str(i): {"infiles": [f"data/ImageNet_bin/{Path(image_name(i)).stem}.bin"],
                      "outfiles": [f"result/{Path(image_name(i)).stem}_0.txt"]} for i in range(count)}
    atomic_write_json(paths.result_summary, {"filesinfo": files, "NPU_compute_time": stats, "H2D_latency": stats,
                                              "D2H_latency": stats, "throughput": 32000.0,
                                              "args": ["ais_bench", "--model", "./se_resnet50_fp16_bs32.om"]})

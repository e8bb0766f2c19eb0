"""The sections about the model's answers: headline, classes, examples, fidelity."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple, TypeVar

from .. import imagenet
from ..metric import ClassAccuracy, Prediction, per_class
from . import charts
from .gather import RunOutputs
from .page import Raw, chart, esc, missing, note, section, table
from .references import PROTOCOLS, REFERENCES, verdict
from .thumbs import Thumbnails

DEMO_BANNER = "DEMO: accuracy from demo weights means nothing"
DEMO_DATA_BANNER = "DEMO data: the labels are PyTorch's own predictions, so accuracy here is agreement with PyTorch"
RANKED_CLASSES = 20
CONFUSIONS = 20
WRONG_EXAMPLES = 48
RIGHT_EXAMPLES = 16

T = TypeVar("T")


def evenly(items: Sequence[T], count: int) -> List[T]:
    """Up to ``count`` items spread evenly over ``items``, first and last included, the same every time."""
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def banner(out: RunOutputs) -> str | None:
    """The line no one can miss when the weights or the data are the demo ones."""
    parts = ([DEMO_BANNER] if out.demo_weights else []) + ([DEMO_DATA_BANNER] if out.demo_data else [])
    return "; ".join(parts) or None


def headline(out: RunOutputs) -> str:
    acc = out.accuracy
    if acc is None:
        return section("headline", "Headline", missing("accuracy_result.json", "step 5 (metric)"))
    figures = (f'<div class="figures"><div class="figure"><small>top-1</small><b id="top1">{acc.top1:.2f} %</b></div>'
               f'<div class="figure"><small>top-5</small><b id="top5">{acc.top5:.2f} %</b></div>'
               f'<div class="figure"><small>images scored</small><b id="images">{acc.images:,}</b></div></div>')
    rows = [[r.source, f"{r.top1:.2f}", f"{r.top5:.2f}", PROTOCOLS[r.protocol]] for r in REFERENCES]
    refs = table(["reference", "top-1 %", "top-5 %", "protocol"], rows, numeric=(1, 2))
    protocol = PROTOCOLS.get(out.protocol or "", "not recorded (step 1's record is absent)")
    parts = [figures, f"<p>Protocol of this run: {esc(protocol)}.</p>", refs]
    if out.demo_weights or out.demo_data:
        parts.append(note("No verdict: the figures above come from demo weights or demo data and mean nothing "
                          "about ImageNet accuracy."))
    else:
        parts.append(f'<p id="verdict"><b>Verdict:</b> {esc(verdict(acc.top1, acc.images, out.protocol))}.</p>')
    if out.scored_here:
        parts.append(note(out.scored_here))
    calibration = out.notes.get("calibration_note")
    if calibration:
        parts.append(note(f"Calibration: {calibration}"))
    return section("headline", "Headline", "\n".join(parts))


@dataclass(frozen=True)
class Confusion:
    """Images of one true class answered with one other class."""

    truth: int
    truth_name: str
    predicted: int
    predicted_name: str
    count: int
    example: str


def confusions(rows: Sequence[Prediction], count: int = CONFUSIONS) -> List[Confusion]:
    """The ``count`` most frequent (true class, top-1 class) pairs among the wrong answers; ties in class order;
    the first image of each pair (in the run's order) as its example."""
    pairs: Counter[Tuple[int, int]] = Counter()
    first: Dict[Tuple[int, int], Prediction] = {}
    for row in rows:
        if row.correct_at_1 or not row.top:
            continue
        key = (row.label, row.top[0])
        pairs[key] += 1
        first.setdefault(key, row)
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:count]
    found = []
    for (truth, predicted), n in ranked:
        row = first[(truth, predicted)]
        found.append(Confusion(truth, row.label_name, predicted, row.top_names[0] if row.top_names else "", n,
                               row.image))
    return found


def _class_rows(classes: Sequence[ClassAccuracy]) -> List[List[object]]:
    return [[c.cls, _named(c.cls, c.name), c.images, f"{c.percent:.1f}", f"{c.percent_at_5:.1f}"] for c in classes]


def _named(cls: int, name: str) -> str:
    return name or imagenet.synsets().name(cls) or f"class {cls}"


CLASS_HEADERS = ["class", "name", "images", "top-1 %", "top-5 %"]


def classes_section(out: RunOutputs, thumbs: Thumbnails) -> str:
    rows = out.predictions
    if rows is None:
        return section("classes", "Classes", missing("predictions.csv", "step 5 (metric, --predictions)"))
    if not rows:
        return section("classes", "Classes", note("No image was scored."))
    stats = per_class(rows)
    ordered = sorted(stats, key=lambda c: (c.percent, -c.images, c.cls))
    weakest = ordered[:RANKED_CLASSES]
    strongest = sorted(stats, key=lambda c: (-c.percent, -c.images, c.cls))[:RANKED_CLASSES]
    parts = [f"<p>{len(stats):,} classes present, {len(rows):,} images.</p>",
             chart(charts.class_histogram([c.percent for c in stats]), "histogram of per-class top-1"),
             f"<h3>The {len(weakest)} weakest classes</h3>", table(CLASS_HEADERS, _class_rows(weakest), (0, 2, 3, 4)),
             f"<h3>The {len(strongest)} strongest classes</h3>",
             table(CLASS_HEADERS, _class_rows(strongest), (0, 2, 3, 4)),
             f'<details id="all-classes"><summary>Every class present ({len(stats):,})</summary>'
             + table(CLASS_HEADERS, _class_rows(stats), (0, 2, 3, 4)) + "</details>"]
    found = confusions(rows)
    parts.append(f"<h3>The {len(found)} most frequent confusions</h3>")
    if found:
        parts.append(table(["true class", "answered (top-1)", "images", "example"],
                           [[_named(c.truth, c.truth_name) + f" ({c.truth})",
                             _named(c.predicted, c.predicted_name) + f" ({c.predicted})", c.count,
                             Raw(thumbs.tag(c.example) + esc(c.example))] for c in found], (2,)))
    else:
        parts.append(note("No image was answered wrongly at top-1."))
    return section("classes", "Classes", "\n".join(parts))


def _card(row: Prediction, thumbs: Thumbnails) -> str:
    answers = []
    for k, cls in enumerate(row.top):
        name = row.top_names[k] if k < len(row.top_names) else ""
        score = f" ({row.top_scores[k]:.3f})" if k < len(row.top_scores) else ""
        hit = ' class="hit"' if cls == row.label else ""
        answers.append(f"<li{hit}>{esc(_named(cls, name).split(',')[0])} [{cls}]{esc(score)}</li>")
    return (f'<div class="card">{thumbs.tag(row.image)}<div>{esc(row.image)}</div>'
            f'<div class="truth">true: {esc(_named(row.label, row.label_name).split(",")[0])} [{row.label}]</div>'
            f'<ol>{"".join(answers)}</ol></div>')


def examples_section(out: RunOutputs, thumbs: Thumbnails) -> str:
    rows = out.predictions
    if rows is None:
        return section("examples", "Examples", missing("predictions.csv", "step 5 (metric, --predictions)"))
    wrong = evenly([r for r in rows if not r.correct_at_1], WRONG_EXAMPLES)
    right = evenly([r for r in rows if r.correct_at_1], RIGHT_EXAMPLES)
    parts = [note("Top-5 answers with their logits (the model's raw scores); the true class in green where it is "
                  "among them. Chosen evenly over the run's images, the same every time.")]
    parts.append(f"<h3>Misclassified at top-1: {len(wrong)} of {sum(not r.correct_at_1 for r in rows):,}</h3>")
    parts.append('<div class="grid" id="wrong">' + "".join(_card(r, thumbs) for r in wrong) + "</div>"
                 if wrong else note("None."))
    parts.append(f"<h3>Correct at top-1: {len(right)} of {sum(r.correct_at_1 for r in rows):,}</h3>")
    parts.append('<div class="grid" id="right">' + "".join(_card(r, thumbs) for r in right) + "</div>"
                 if right else note("None."))
    return section("examples", "Examples", "\n".join(parts))


def fidelity_section(out: RunOutputs, thumbs: Thumbnails) -> str:
    fid, perf = out.fidelity, out.perf
    if fid is None and (perf is None or not perf.drift):
        return section("fidelity", "Fidelity", missing("fidelity.json", "the fidelity step of run_infer.sh"))
    headers = ["precision", "checked on", "images", "top-1 agree %", "top-5 agree %", "max abs err", "max rel err",
               "min cosine", "verdict"]
    rows: List[List[object]] = []
    if fid is not None:
        a = fid.agreement
        rows.append([a.precision, f"the run ({fid.backend})", a.images, f"{100 * a.top1_agreement:.2f}",
                     f"{100 * a.top5_agreement:.2f}", f"{a.max_abs_error:.2e}", f"{a.max_relative_error:.2e}",
                     f"{a.min_cosine_similarity:.6f}",
                     ("PASS" if a.passed else "FAIL") if a.enforced else "drift reported"])
    for precision, d in (perf.drift.items() if perf is not None else ()):
        rows.append([precision, "the perf step's model", d.images, f"{100 * d.top1_agreement:.2f}",
                     f"{100 * d.top5_agreement:.2f}", "–", f"{d.max_relative_error:.2e}",
                     f"{d.min_cosine_similarity:.6f}", "drift reported"])
    parts = [note("Agreement of the results with PyTorch fp32 on the same .bin inputs (AIPP in numpy): what the "
                  "chain computes against what the model computes; nothing about ImageNet accuracy."),
             table(headers, rows, (2, 3, 4, 5, 6, 7))]
    if fid is None:
        parts.append(missing("fidelity.json", "the fidelity step of run_infer.sh"))
    else:
        parts.append(f"<p>{esc(fid.selection)}.</p>")
        changes = fid.agreement.top1_changes
        changed = fid.agreement.images - fid.agreement.same_top1
        if changes:
            shown = "" if len(changes) == changed else f" (the first {len(changes)} shown)"
            parts.append(f"<h3>Top-1 changed against PyTorch on {changed:,} images{shown}</h3>")
            cards = []
            for image, ref, got in changes:
                cards.append(f'<div class="card">{thumbs.tag(_image_name(out, image))}<div>{esc(image)}</div>'
                             f"<div>PyTorch: {esc(_named(ref, '').split(',')[0])} [{ref}]</div>"
                             f"<div>results: {esc(_named(got, '').split(',')[0])} [{got}]</div></div>")
            parts.append('<div class="grid" id="changed">' + "".join(cards) + "</div>")
        else:
            parts.append(f"<p>The top-1 class is PyTorch's on every image checked ({fid.agreement.images:,}).</p>")
    return section("fidelity", "Fidelity", "\n".join(parts))


def _image_name(out: RunOutputs, stem: str) -> str:
    """fidelity.json names images by stem: the original's file name where step 1's record has it."""
    path = out.thumbnail_source(stem)
    return path.name if path is not None else stem

"""Matching SOURCE's images with their labels: every check of a run, nothing written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .. import imagenet
from ..errors import PipelineError
from ..fileio import stem_of
from ..labels import format_labels
from .label_sources import LabelSource, ground_truth_labels, read_devkit, read_label_source
from .layout import Source, SourceImage, detect_source


@dataclass(frozen=True)
class Plan:
    """What will be written: the labelled images present with their classes, and what is left out."""

    source: Source
    labels_from: str
    entries: Tuple[Tuple[SourceImage, int], ...]
    absent: int  # labelled images that are not in the source
    unlabelled: Tuple[str, ...]  # images of the source without a label: left out
    warnings: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = ()  # said in the report line

    @property
    def classes_present(self) -> int:
        return len({cls for _, cls in self.entries})

    def label_text(self) -> str:
        return format_labels((image.name, cls) for image, cls in self.entries)


def plan(source: Source, labels: Optional[LabelSource]) -> Plan:
    """Match the source's images with their labels (by stem, as every reader of the label file does)."""
    entries: List[Tuple[SourceImage, int]] = []
    unlabelled: List[str] = []
    for image in source.images:
        stem = stem_of(image.name)
        if labels is None:
            assert image.folder_class is not None
            entries.append((image, image.folder_class))
            continue
        cls = labels.classes.get(stem)
        if cls is None:
            if image.folder_class is None:
                unlabelled.append(image.name)
                continue
            cls = image.folder_class
        if image.folder_class is not None and cls != image.folder_class:
            wnids = imagenet.synsets().wnids
            raise PipelineError(f"{labels.lines.get(stem, labels.what)}: image {stem!r} has class {cls} "
                                f"({wnids[cls]}) but is in class folder {wnids[image.folder_class]} "
                                f"(class {image.folder_class})")
        entries.append((image, cls))
    if not entries:
        where = labels.what if labels else "its class folders"
        if len(source.images) == 1:
            raise PipelineError(f"{source.path}: its one image {source.images[0].name!r} has no label in {where}")
        raise PipelineError(f"{source.path}: none of its {len(source.images):,} images has a label in {where} "
                            f"(e.g. {source.images[0].name!r})")
    _refuse_unreadable(source, entries)
    present = {stem_of(image.name) for image, _ in entries}
    absent = 0 if labels is None else sum(1 for stem in labels.classes if stem not in present)
    what = labels.what if labels is not None else "the class folders"
    return Plan(source, what, tuple(entries), absent, tuple(unlabelled),
                source.warnings + (labels.warnings if labels else ()), _one_based_notes(labels, entries))


def _refuse_unreadable(source: Source, entries: Sequence[Tuple[SourceImage, int]]) -> None:
    """An image to be written that step 1 could not read is named now, while the source can still be fixed."""
    bad = [(image.origin, source.problems[image.origin]) for image, _ in entries if image.origin in source.problems]
    if not bad:
        return
    origin, why = bad[0]
    where = f"{source.path}: member {origin!r}" if source.tar else origin
    more = f" ({len(bad) - 1:,} more such: {', '.join(repr(o) for o, _ in bad[1:4])}{', ...' if len(bad) > 4 else ''})" \
        if len(bad) > 1 else ""
    raise PipelineError(f"{where} {why}{more}: step 1 could not read it; fix or remove it in the source")


ONE_BASED_NOTE_CLASSES = 100  # classes present from which a file of numbers without class 0 is said


def _one_based_notes(labels: Optional[LabelSource], entries: Sequence[Tuple[SourceImage, int]]) -> Tuple[str, ...]:
    """A file of class numbers that counts from 1 passes when it is a subset without the last class (which would be
    1000, refused). It cannot be told from a subset without class 0, but many classes and no 0 are worth a word."""
    classes = {cls for _, cls in entries}
    if labels is None or not labels.numbered or 0 in classes or len(classes) < ONE_BASED_NOTE_CLASSES:
        return ()
    return (f"no label is class 0 although {len(classes):,} classes are present: if the label file "
            "counts classes from 1, every label is one too high (the model's classes are 0..999)",)


def resolve(source: str | os.PathLike[str], *, devkit: Optional[str | os.PathLike[str]] = None,
            labels: Optional[str | os.PathLike[str]] = None) -> Plan:
    """Detect SOURCE's layout, read the labels that go with it and match them: every check, nothing written."""
    found = detect_source(source)
    kit = read_devkit(devkit) if devkit is not None else None
    label_source: Optional[LabelSource] = None
    if labels is not None:
        label_source = read_label_source(labels, kit)
    elif found.class_folders and kit is not None:
        if kit.ground_truth is None:
            raise PipelineError(f"{found.path}: the class folders name the classes, and {kit.meta} alone (no ground "
                                "truth) has nothing to map: leave --devkit out")
        label_source = ground_truth_labels(kit.ground_truth[0], kit.ground_truth[1], kit)  # checked against them
    elif found.default_labels is not None and found.class_folders == 0:
        label_source = read_label_source(found.default_labels, kit)
    elif found.class_folders == 0:
        if kit is not None and kit.ground_truth is not None:
            label_source = ground_truth_labels(kit.ground_truth[0], kit.ground_truth[1], kit)
        else:
            need = ("--devkit ILSVRC2012_devkit_t12.tar.gz (the simplest: the devkit's ground truth and meta.mat), "
                    "or --labels (the devkit's ILSVRC2012_validation_ground_truth.txt with --devkit, Kaggle's "
                    "LOC_val_solution.csv, or a '<image> <class>' file)")
            if kit is not None:
                need = f"--labels ({kit.meta} alone holds no ground truth)"
            raise PipelineError(f"{found.path}: {found.layout} carries no labels; pass {need}")
    return plan(found, label_source)

"""Bring your own ImageNet: the validation set in any common layout into the guide's ``val_union/`` + ``val_label.txt``.

Layouts of SOURCE (:mod:`.layout`, :func:`detect_source`): a flat image folder; an ImageFolder (one ``<wnid>/``
folder per class, torchvision's layout after ``valprep.sh``); the Kaggle download's root
(``ILSVRC/Data/CLS-LOC/val/`` and ``LOC_val_solution.csv``); the official ``ILSVRC2012_img_val.tar``.
Labels (:mod:`.label_sources`, :func:`read_label_source`): the class folders themselves; the devkit's ground
truth (1-based ``ILSVRC2012_ID``s in the devkit's own synset order, mapped through its ``meta.mat``); Kaggle's
``LOC_val_solution.csv``; or a label file in the guide's format. :mod:`.plan` matches them, :mod:`.build` writes.

The model's class index is the position of the WordNet ID in the sorted list of the 1000
ImageNet-1k WordNet IDs (:func:`senet_infer.imagenet.synsets`), whatever order the source uses.
SOURCE is only read. The images are linked (or copied, or extracted once from the tar) into a hidden
temporary folder that replaces ``val_union/`` by a rename; ``.prepare_imagenet.json`` beside it records
what it was made from, so a rerun from the same source is a no-op and one from another is refused.
"""

from __future__ import annotations

from .build import IMAGES_DIRNAME, LABELS_NAME, MANIFEST_NAME, MODES, PrepReport, prepare, read_manifest, remove_stale_builds
from .label_sources import (
           DEVKIT_GROUND_TRUTH,
           DEVKIT_META,
           KAGGLE_HEADER,
           Devkit,
           LabelSource,
           read_devkit,
           read_label_source,
           val_image_stem,
)
from .layout import KAGGLE_SOLUTION, KAGGLE_VAL, Source, SourceImage, detect_source, source_inputs
from .plan import Plan, plan, resolve

__all__ = ["DEVKIT_GROUND_TRUTH", "DEVKIT_META", "IMAGES_DIRNAME", "KAGGLE_HEADER", "KAGGLE_SOLUTION", "KAGGLE_VAL",
           "LABELS_NAME", "MANIFEST_NAME", "MODES", "Devkit", "LabelSource", "Plan", "PrepReport", "Source",
           "SourceImage", "detect_source", "plan", "prepare", "read_devkit", "read_manifest", "read_label_source", "remove_stale_builds",
           "resolve", "source_inputs", "val_image_stem"]

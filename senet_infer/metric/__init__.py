"""Step 5: top-1 .. top-5 accuracy of ais_bench result files against an ImageNet label file.

:mod:`.results` reads the result folder, :mod:`.ranking` holds the top-k arithmetic, :mod:`.evaluate`
scores a run, :mod:`.accuracy_json` writes the guide's JSON and :mod:`.predictions` the per-image CSV.
``vision_metric_ImageNet.py`` is the CLI.
"""

from __future__ import annotations

from .accuracy_json import Accuracy, AccuracyRecord, collect_annotations, output_path, read_accuracy_json, write_accuracy_json
from .evaluate import evaluate
from .predictions import ClassAccuracy, Prediction, lowest_classes, per_class, read_predictions

# What callers need: score a result folder, write its JSON and read it back, read the per-image CSV back and
# tally it per class. The parts (result files, top-k arithmetic, the label reader) are imported from their modules.
__all__ = ["Accuracy", "AccuracyRecord", "ClassAccuracy", "Prediction", "collect_annotations", "evaluate",
           "lowest_classes", "output_path", "per_class", "read_accuracy_json", "read_predictions",
           "write_accuracy_json"]

"""Step 5: top-1 .. top-5 accuracy of ais_bench result files against an ImageNet label file.

:mod:`.results` reads the result folder, :mod:`.ranking` holds the top-k arithmetic, :mod:`.evaluate`
scores a run, :mod:`.accuracy_json` writes the guide's JSON and :mod:`.predictions` the per-image CSV.
``vision_metric_ImageNet.py`` is the CLI.
"""

from __future__ import annotations

from .accuracy_json import (
    JSON_TITLE,
    Accuracy,
    AccuracyRecord,
    collect_annotations,
    json_text,
    output_path,
    read_accuracy_json,
    write_accuracy_json,
)
from .evaluate import BACKGROUND_CLASSES, RunSelection, evaluate, match_labels, read_labels, select_run
from .predictions import (
    PREDICTION_COLUMNS,
    ClassAccuracy,
    Prediction,
    class_name,
    lowest_classes,
    per_class,
    read_predictions,
    write_predictions,
)
from .ranking import TOP_K, label_ranks, top_classes, topk_accuracy, topk_hits
from .results import LOGITS_OUTPUT, ResultScan, load_results, read_logits, scan_results

__all__ = ["BACKGROUND_CLASSES", "JSON_TITLE", "LOGITS_OUTPUT", "PREDICTION_COLUMNS", "TOP_K", "AccuracyRecord",
           "ClassAccuracy", "Accuracy", "Prediction", "ResultScan", "RunSelection", "class_name",
           "collect_annotations", "evaluate", "json_text", "label_ranks", "load_results", "lowest_classes",
           "match_labels", "output_path", "per_class", "read_accuracy_json", "read_labels", "read_logits", "read_predictions",
           "scan_results", "select_run", "top_classes", "topk_accuracy", "topk_hits", "write_accuracy_json",
           "write_predictions"]

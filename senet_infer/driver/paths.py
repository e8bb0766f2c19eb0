"""Every name in the work folder, in one place: what the guide's commands read and write, and the driver's own
records. Paths are properties of :class:`Paths` (one work folder); module constants are the bare names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

from ..imagenet import DATASET_DIR, IMAGES_DIRNAME
from ..quantize import DEPLOY_SUFFIX, FAKE_QUANT_SUFFIX
from ..summary import summary_path

AIPP_CONFIG = "aipp_SE_ResNet50_pth.config"
DYNAMIC_ONNX = "se_resnet50_dynamic_bs.onnx"
BIN_DIR = "data/ImageNet_bin"
CALIB_IMAGES_DIR = "data/ImageNet_calib"  # links to the images chosen for int8 calibration
CALIB_BIN_DIR = "data/ImageNet_calib_bin"  # step 1 --format fp32 of them: AMCT's --data_dir
DEMO_DIR = "dataset/demo"  # a generated set, laid out as DATASET_DIR (IMAGES_DIRNAME, LABELS_NAME)
RESULT_DIRNAME = "result"
ACCURACY_JSON = "accuracy_result.json"
PREDICTIONS_CSV = "predictions.csv"  # step 5 --predictions: one row per scored image, with class names
FIDELITY_JSON = "fidelity.json"
PERF_OUTPUTS = ("perf.json", "perf.md", "perf.png")
PERF_RUNS = "perf_runs"
PERF_MODELS = "perf_models"
DRIFT_BIN_DIR = PERF_RUNS + "/drift_bin"
# AMCT's --save_path for int8: it writes <prefix>_deploy_model.onnx (the converter's input) and
# <prefix>_fake_quant_model.onnx in the work folder; the converted model is then se_resnet50_int8_bs<N>.
INT8_SAVE_PATH = "se_resnet50_int8"
STATE_DIR = ".run_infer"  # the driver's own records: lock, stamps, timings
LOCK_NAME = "lock"
TIMINGS_JSON = "timings.json"  # each step's wall time of the last run
RUN_RECORD = "run.json"  # the run's command, options, toolchain, versions, machine (the report step writes it)
REPORT_HTML = "report.html"  # the report page (make_report.py)


def precision_batch(precision: str, batch: int) -> str:
    """``fp16_bs32``: how the name of everything made at one precision and batch size ends (models, perf runs,
    their stamps and records)."""
    return f"{precision}_bs{batch}"


def model_stem(precision: str, batch: int) -> str:
    """A converted model's name without suffix, as the guide names its fp16 one: ``se_resnet50_fp16_bs32``."""
    return "se_resnet50_" + precision_batch(precision, batch)


def perf_run_dirname(precision: str, batch: int) -> str:
    """The portable perf run's ``--output_dirname`` in ``./perf_runs``."""
    return precision_batch(precision, batch)


def drift_dirname(precision: str) -> str:
    """The perf step's small fidelity check's ``--output_dirname`` in ``./perf_runs``."""
    return f"drift_{precision}"


@dataclass(frozen=True)
class Paths:
    """One work folder's files."""

    work: Path

    def rel(self, path: Path) -> str:
        """A path as the guide writes it: ``./x`` inside the work folder, absolute elsewhere."""
        try:
            return "./" + path.resolve().relative_to(self.work.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    @property
    def aipp_config(self) -> Path:
        return self.work / AIPP_CONFIG

    @property
    def dynamic_onnx(self) -> Path:
        return self.work / DYNAMIC_ONNX

    @property
    def bin_dir(self) -> Path:
        return self.work / BIN_DIR

    @property
    def calib_images(self) -> Path:
        return self.work / CALIB_IMAGES_DIR

    @property
    def calib_bin(self) -> Path:
        return self.work / CALIB_BIN_DIR

    @property
    def imagenet(self) -> Path:
        """Where the guide reads ``val_union/`` and ``val_label.txt`` (and ``--imagenet`` writes them)."""
        return self.work / DATASET_DIR

    @property
    def demo(self) -> Path:
        return self.work / DEMO_DIR

    @property
    def result_dir(self) -> Path:
        return self.work / RESULT_DIRNAME

    @property
    def result_summary(self) -> Path:
        return summary_path(self.work, RESULT_DIRNAME)

    @property
    def accuracy_json(self) -> Path:
        return self.work / ACCURACY_JSON

    @property
    def predictions_csv(self) -> Path:
        return self.work / PREDICTIONS_CSV

    @property
    def fidelity_json(self) -> Path:
        return self.work / FIDELITY_JSON

    @property
    def perf_outputs(self) -> Tuple[Path, Path, Path]:
        """``perf.json``, ``perf.md``, ``perf.png``."""
        json_path, md_path, png_path = (self.work / name for name in PERF_OUTPUTS)
        return json_path, md_path, png_path

    @property
    def perf_runs(self) -> Path:
        return self.work / PERF_RUNS

    @property
    def perf_models(self) -> Path:
        return self.work / PERF_MODELS

    @property
    def drift_bin(self) -> Path:
        return self.work / DRIFT_BIN_DIR

    @property
    def int8_save_path(self) -> Path:
        """AMCT's ``--save_path``: the prefix of the deploy and fake-quant models."""
        return self.work / INT8_SAVE_PATH

    @property
    def deploy_model(self) -> Path:
        """The calibrated int8 ONNX model the converter reads (AMCT's ``<save_path>_deploy_model.onnx``)."""
        return self.work / (INT8_SAVE_PATH + DEPLOY_SUFFIX)

    @property
    def fake_quant_model(self) -> Path:
        """AMCT's ``<save_path>_fake_quant_model.onnx`` (for checking on ONNX Runtime)."""
        return self.work / (INT8_SAVE_PATH + FAKE_QUANT_SUFFIX)

    def model(self, precision: str, batch: int, suffix: str, *, perf: bool = False) -> Path:
        """A converted model: in the work folder, or in ``./perf_models`` for one only the perf step uses."""
        return (self.perf_models if perf else self.work) / (model_stem(precision, batch) + suffix)

    @property
    def state_dir(self) -> Path:
        return self.work / STATE_DIR

    @property
    def lock(self) -> Path:
        return self.state_dir / LOCK_NAME

    def stamp(self, key: str) -> Path:
        """A unit's stamp."""
        return self.state_dir / f"{key}.json"

    @property
    def timings_json(self) -> Path:
        return self.state_dir / TIMINGS_JSON

    @property
    def run_record(self) -> Path:
        return self.state_dir / RUN_RECORD

    @property
    def report_html(self) -> Path:
        return self.work / REPORT_HTML

    def temp_folders(self) -> List[Path]:
        """The folders the steps write into (where a killed run can leave hidden temporaries)."""
        folders = [self.work, self.state_dir, self.bin_dir, self.bin_dir.parent, self.result_dir,
                   self.perf_models, self.perf_runs, self.demo, self.demo / IMAGES_DIRNAME, self.calib_bin,
                   self.drift_bin]
        runs = self.perf_runs
        folders += sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
        return folders

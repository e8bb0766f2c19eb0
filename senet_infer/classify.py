"""``classify.py``: a few images through step 1's transform and the converted model, each with its top-k classes.

The portable model (``aipp_convert.py``'s ``.onnx``, its AIPP fused) runs in this process on a backend of
:mod:`.backends`, fed step 1's uint8 images from memory. An Ascend ``.om`` runs through ``python3 -m ais_bench``
with the guide's step 4 flags, on the same bytes written as step 1's ``.bin`` files to a temporary folder, and
its TXT results are read back. Either way the images fill the model's static batch, a short last batch padded
with copies of its first image as ais_bench pads it; the padded slots' outputs are dropped.

Scores are softmax probabilities over the model's 1000 class scores (the network ends in logits).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from . import imagenet
from .backends import BACKENDS, LATENCY, available_backends
from .cli import default_workers
from .driver.ascend_host import can_import
from .driver.paths import model_stem
from .errors import PipelineError
from .fileio import read_result
from .infer.args import RunConfig
from .infer.load import load
from .metric.predictions import class_name
from .metric.ranking import top_classes
from .metric.results import LOGITS_OUTPUT
from .modelmeta import AIPP_KEY, model_precision, read_aipp
from .precision import PRECISIONS
from .preprocess import EvalTransform, preprocess_file

ONNX_SUFFIX = ".onnx"
OM_SUFFIX = ".om"
COLUMNS = f"per image: rank, probability (softmax over the model's {imagenet.NUM_CLASSES} class scores), class, class name"
RESULT_DIRNAME = "result"
# The names run_infer.sh gives a converted model in the work folder (driver.paths.model_stem + suffix).
_MODEL_NAME = re.compile(r"^se_resnet50_(?P<precision>[a-z0-9]+)_bs(?P<batch>\d+)(?P<suffix>\.onnx|\.om)$")
_OM_BATCH = re.compile(r"_bs(\d+)$")


@dataclass(frozen=True)
class Guess:
    """One of an image's top classes: class index, its ImageNet-1k words, softmax probability."""

    cls: int
    name: str
    probability: float


@dataclass(frozen=True)
class Classification:
    """One image's top-k classes, best first."""

    image: str
    top: Tuple[Guess, ...]


@dataclass(frozen=True)
class Outcome:
    """What :func:`classify` ran and found."""

    model: Path
    runtime: str  # "onnxruntime 1.32.0 (CPU, fp32)" or "python3 -m ais_bench"
    batch: Optional[int]  # the model's static batch; None for an .om whose name does not give it
    transform: EvalTransform
    images: Tuple[Classification, ...]

    def lines(self) -> List[str]:
        """The printed report: what ran, then per image its top classes (rank, probability, class, words)."""
        n = len(self.images)
        if self.batch is None:
            batches = f"{n} image{'s' if n != 1 else ''}, batched by ais_bench"
        else:
            runs = -(-n // self.batch)
            padded = runs * self.batch - n
            batches = (f"static batch {self.batch}: {n} image{'s' if n != 1 else ''} in {runs} "
                       f"batch{'es' if runs != 1 else ''}, {padded} padded slot{'s' if padded != 1 else ''}")
        out = [f"model: {self.model} on {self.runtime}, {batches}",
               f"step 1: {self.transform.describe()}",
               COLUMNS]
        for item in self.images:
            out.append("")
            out.append(item.image)
            out += [f"  {rank}  {guess.probability:.4f}  {guess.cls:>3}  {guess.name}"
                    for rank, guess in enumerate(item.top, start=1)]
        return out


def default_model(work: Path) -> Path:
    """The converted model ``bash run_infer.sh`` left in ``work`` (``se_resnet50_fp32_bs32.onnx``, or ``.om`` on an
    Ascend host); one clear error when there is none, or several to choose from."""
    found = sorted(p for p in work.iterdir() if _is_run_model(p.name)) if work.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise PipelineError(f"no --model given and no converted model in {work.resolve()} (bash run_infer.sh writes "
                            f"se_resnet50_<precision>_bs<batch>{ONNX_SUFFIX} there, {OM_SUFFIX} on an Ascend host): "
                            "run it first, or give --model PATH")
    raise PipelineError(f"no --model given and {len(found)} converted models in {work.resolve()} "
                        f"({', '.join(p.name for p in found)}): choose one with --model")


def _is_run_model(name: str) -> bool:
    """True for a name :func:`~senet_infer.driver.paths.model_stem` gives, with a converted model's suffix."""
    match = _MODEL_NAME.match(name)
    return (match is not None and match["precision"] in PRECISIONS
            and model_stem(match["precision"], int(match["batch"])) + match["suffix"] == name)


def read_images(paths: Sequence[Path], transform: EvalTransform) -> np.ndarray:
    """Step 1's transform of each image, in memory: uint8 [N, 256, 256, 3]; a missing or corrupt image is one error."""
    if transform.output_format != "uint8":
        raise PipelineError("the converted model takes step 1's uint8 images (its AIPP normalises them)")
    arrays = []
    for path in paths:
        if not path.exists():
            raise PipelineError(f"{path}: image not found")
        if path.is_dir():
            raise PipelineError(f"{path}: a folder, not an image (give its images, e.g. {path}/*.JPEG)")
        arrays.append(preprocess_file(path, transform))
    return np.stack(arrays)


def check_model_file(model: Path) -> None:
    """Refuse, in one line, a path that is no converted model of this pipeline (before anything is loaded)."""
    if not model.exists():
        raise PipelineError(f"{model}: model not found")
    if model.suffix.lower() not in (ONNX_SUFFIX, OM_SUFFIX):
        raise PipelineError(f"{model}: not a converted model of this pipeline (expected the {ONNX_SUFFIX} that "
                            f"aipp_convert.py writes, or an Ascend {OM_SUFFIX} from atc)")


def check_aipp(model: Path, transform: EvalTransform) -> None:
    """Refuse an ONNX model without the AIPP of step 3, or whose AIPP takes other images than step 1 makes."""
    ops = read_aipp(model)
    if not ops:
        raise PipelineError(f"{model}: no AIPP in the model (metadata {AIPP_KEY}): not a model aipp_convert.py wrote "
                            "with --insert_op_conf (the dynamic ONNX of step 2 takes normalised float32, not images)")
    size = transform.resize_size
    takes = [op for op in ops if op.input_format == "RGB888_U8" and op.src_hw == (size, size)]
    if len(ops) != 1 or not takes:
        found = "; ".join(f"{op.input_format} {op.src_image_size_w}x{op.src_image_size_h}" for op in ops)
        raise PipelineError(f"{model}: its AIPP takes {found} images, but step 1 makes one uint8 RGB {size}x{size} "
                            "image per input: not a model of this pipeline")


def pad_batch(images: np.ndarray, batch: int) -> np.ndarray:
    """``images`` filled up to ``batch`` with copies of the first, as ais_bench pads a short last batch."""
    missing = batch - len(images)
    if missing <= 0:
        return images
    return np.concatenate([images, np.repeat(images[:1], missing, axis=0)])


def first_backend(model: Path) -> str:
    """The first installed runtime of the registry that runs ``model``'s precision, taken without ``auto``'s timing
    trial (on a few images the trial would cost more than the classification)."""
    precision = model_precision(model)
    installed = available_backends()
    for name in installed:
        if BACKENDS[name].supports(precision):
            return name
    raise PipelineError(f"{model}: no installed backend runs {precision} (installed: {', '.join(installed) or 'none'})")


def run_onnx(model: Path, images: np.ndarray, backend: str, transform: EvalTransform,
             log: Callable[[str], None]) -> Tuple[np.ndarray, str, int]:
    """Logits [N, 1000] of the converted ONNX model on ``backend``, in batches of its static batch; with the
    runtime's description and that batch."""
    check_aipp(model, transform)
    loaded = load(RunConfig(model=model, backend=backend, threads=default_workers(), hint=LATENCY, progress=False),
                  log)
    runtime = loaded.backend
    batch = loaded.batch.samples
    side = transform.resize_size
    info = loaded.inputs[0]
    if len(loaded.inputs) != 1 or info.shape != (batch, side, side, 3) or info.dtype != np.uint8:
        found = "; ".join(i.describe() for i in loaded.inputs)
        raise PipelineError(f"{model}: inputs {found}, not the one uint8 [{batch},{side},{side},3] of a model "
                            "aipp_convert.py wrote for step 1's images")
    logits = []
    for lo in range(0, len(images), batch):
        chunk = images[lo:lo + batch]
        scores = runtime.run({info.name: pad_batch(chunk, batch)})[LOGITS_OUTPUT]
        logits.append(class_scores(model, scores, batch)[:len(chunk)])
    described = f"{runtime.name} {runtime.version} ({runtime.device}, {runtime.precision})"
    return np.concatenate(logits), described, batch


def class_scores(model: Path, scores: np.ndarray, rows: int) -> np.ndarray:
    """``scores`` (one output, ``rows`` images) as [rows, 1000]; any other size is no classifier of this pipeline."""
    if scores.size != rows * imagenet.NUM_CLASSES:
        raise PipelineError(f"{model}: output {LOGITS_OUTPUT} holds {scores.size // max(1, rows)} values per image, not "
                            f"{imagenet.NUM_CLASSES} ImageNet class scores: not a model of this pipeline")
    return scores.reshape(rows, imagenet.NUM_CLASSES)


def ais_bench_python(model: Path) -> str:
    """The interpreter that runs ``python3 -m ais_bench``: this one when it can import it, else ``python3``."""
    here = Path.cwd()
    if can_import(sys.executable, "ais_bench", here):
        return sys.executable
    host = shutil.which("python3")
    if host is not None and can_import(host, "ais_bench", here):
        return host
    raise PipelineError(f"{model}: an {OM_SUFFIX} model runs through python3 -m ais_bench (Ascend toolkit), which "
                        f"neither {sys.executable} nor python3 on the PATH can import; aipp_convert.py writes a "
                        f"portable {ONNX_SUFFIX} that runs here")


def run_om(model: Path, images: np.ndarray) -> Tuple[np.ndarray, str, Optional[int]]:
    """Logits [N, 1000] of an Ascend ``.om`` by ``python3 -m ais_bench`` with the guide's step 4 flags, on the
    images written as step 1's ``.bin`` files; with the runtime's description and the batch its name gives."""
    python = ais_bench_python(model)
    batch_in_name = _OM_BATCH.search(model.stem)
    batch = int(batch_in_name.group(1)) if batch_in_name else None
    width = len(str(len(images) - 1))
    stems = [f"{i:0{width}d}" for i in range(len(images))]
    with tempfile.TemporaryDirectory(prefix="classify-") as tmp:
        bins = Path(tmp, "bin")
        bins.mkdir()
        for stem, image in zip(stems, images):
            (bins / f"{stem}.bin").write_bytes(image.tobytes())
        # ais_bench takes the batch from the model itself; --batchsize is only its throughput formula's
        batch_flags = ["--batchsize", str(batch)] if batch is not None else []
        command = [python, "-m", "ais_bench", "--model", str(model), *batch_flags, "--input", str(bins),
                   "--output", tmp, "--output_dirname", RESULT_DIRNAME, "--outfmt", "TXT"]
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if proc.returncode != 0:
            said = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
            raise PipelineError(f"{model}: python3 -m ais_bench exited {proc.returncode}"
                                + (f": {said[-1]}" if said else ""))
        rows = []
        for stem in stems:
            path = Path(tmp, RESULT_DIRNAME, f"{stem}_{LOGITS_OUTPUT}.txt")
            if not path.is_file():
                raise PipelineError(f"{model}: python3 -m ais_bench wrote no result {path.name} for image {int(stem) + 1}")
            rows.append(class_scores(model, read_result(path, imagenet.NUM_CLASSES), 1))
    return np.concatenate(rows), "python3 -m ais_bench", batch


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (the largest score subtracted first, so no row overflows)."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def top_guesses(logits: np.ndarray, k: int) -> List[Tuple[Guess, ...]]:
    """Each row's ``k`` best classes with names and probabilities; ties in class order, as step 5 ranks them."""
    probabilities = softmax(logits)
    top = top_classes(logits, k)
    return [tuple(Guess(int(c), class_name(int(c), imagenet.NUM_CLASSES), float(probabilities[i, c])) for c in row)
            for i, row in enumerate(top)]


def classify(images: Sequence[Path], model: Path, *, backend: Optional[str], transform: EvalTransform, topk: int,
             log: Callable[[str], None] = print) -> Outcome:
    """Classify ``images`` with the converted ``model``: an ``.onnx`` on ``backend`` (None: :func:`first_backend`),
    an ``.om`` through ais_bench."""
    if not 1 <= topk <= imagenet.NUM_CLASSES:
        raise PipelineError(f"--topk must lie in 1..{imagenet.NUM_CLASSES}, got {topk}")
    if not images:
        raise PipelineError("no image given")
    check_model_file(model)
    arrays = read_images(images, transform)
    if model.suffix.lower() == OM_SUFFIX:
        logits, runtime, batch = run_om(model, arrays)
    else:
        logits, runtime, onnx_batch = run_onnx(model, arrays, backend or first_backend(model), transform, log)
        batch = onnx_batch
    guesses = top_guesses(logits, topk)
    return Outcome(model, runtime, batch, transform,
                   tuple(Classification(os.fspath(path), top) for path, top in zip(images, guesses)))

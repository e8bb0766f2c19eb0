"""The guide end to end (``bash run_infer.sh``): weights, dataset, steps 1-6, fidelity and throughput.

Each step runs the project's step script (or, on an Ascend host, the vendor tool) with the guide's
command line, from the work folder, and prints the command. A step whose inputs and options have not
changed since its last successful run is skipped (stamps in ``<work>/.run_infer/``); ``--force``
redoes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import imagenet
from .cli import positive_int
from .errors import PipelineError
from .fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, stem_of
from .precision import FLOAT_PRECISIONS as PRECISIONS

STEPS = ("weights", "dataset", "preprocess", "export", "convert", "infer", "metric", "fidelity", "perf")
FIRST_STEP_NUMBER = 2  # step 1, set-up, is run_infer.sh's own
TOTAL_STEPS = len(STEPS) + 1
PERF_BATCH_SIZES = (1, 4, 8, 16, 32, 64)
BACKENDS = ("auto", "onnxruntime", "openvino")
AIPP_CONFIG = "aipp_SE_ResNet50_pth.config"
DYNAMIC_ONNX = "se_resnet50_dynamic_bs.onnx"
BIN_DIR = "data/ImageNet_bin"
RESULT_DIRNAME = "result"
ACCURACY_JSON = "accuracy_result.json"
DEMO_WARNING = "DEMO weights (seeded random, calibrated): accuracy figures from them mean nothing"
DEMO_DATA_NOTE = ("demo images labelled with the PyTorch reference model's own top-1: accuracy on them measures "
                  "agreement with PyTorch, not ImageNet accuracy")
DEMO_SEED = 0
_NPU_ROW = re.compile(r"^\|\s*\d+\s+(\S+)\s+\|\s*\w+")


def build_parser() -> argparse.ArgumentParser:
    """The driver's options."""
    parser = argparse.ArgumentParser(
        prog="run_infer.sh",
        description="Run the SE_ResNet50 inference guide end to end: weights, dataset, preprocess, export, "
                    "convert (ATC+AIPP), infer (ais_bench), metric, fidelity vs PyTorch, throughput. On an "
                    "Ascend host (atc on the PATH) the vendor tools run the guide's exact commands; elsewhere "
                    "the portable aipp_convert.py and ais_infer.py do, with the same flags and files.",
    )
    data = parser.add_argument_group("inputs")
    data.add_argument("--checkpoint", type=Path, default=None,
                      help="weights (default <work>/se_resnet50-ce0d4300.pth; if absent it is downloaded and "
                           "checked, and offline a seeded demo checkpoint is written instead)")
    data.add_argument("--data-dir", type=Path, default=None,
                      help="image folder (default <work>/dataset/ImageNet/val_union; if absent a demo set is generated)")
    data.add_argument("--label-file", type=Path, default=None,
                      help="labels, one '<image> <class>' line per image (default <work>/dataset/ImageNet/val_label.txt)")
    data.add_argument("--offline", action="store_true", help="do not try to download the weights")
    data.add_argument("--demo-images", type=positive_int, default=64, help="size of the generated demo set (default %(default)s)")
    run = parser.add_argument_group("run")
    run.add_argument("--backend", choices=BACKENDS, default="auto", help="runtime for the portable runner; auto picks the fastest, measured (default %(default)s)")
    run.add_argument("--precision", choices=PRECISIONS, default="fp32",
                     help="portable converter's --precision_mode (fp32 exact; bf16/fp16 on OpenVINO, drift reported; default %(default)s)")
    run.add_argument("--batch-size", type=positive_int, default=32, help="static batch of the converted model (default %(default)s)")
    run.add_argument("--soc-version", default=None,
                     help="ATC --soc_version, e.g. Ascend310P3 (default: read from 'npu-smi info')")
    run.add_argument("--work-dir", type=Path, default=Path("."), help="where every artefact goes (default: the current folder, as in the guide)")
    run.add_argument("--steps", default=",".join(STEPS),
                     help=f"comma-separated subset of: {','.join(STEPS)} (default: all)")
    run.add_argument("--force", action="store_true", help="redo steps even when their outputs are up to date")
    perf = parser.add_argument_group("perf")
    perf.add_argument("--perf-batch-sizes", default=",".join(map(str, PERF_BATCH_SIZES)),
                      help="batch sizes measured by the perf step (default %(default)s)")
    perf.add_argument("--perf-loop", type=positive_int, default=20, help="timed runs per batch size, ais_bench --loop (default %(default)s)")
    perf.add_argument("--fidelity-images", type=positive_int, default=None,
                      help="check only this many images, evenly spaced (default: all)")
    return parser


def _parse_steps(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown or not chosen:
        raise PipelineError(f"--steps: unknown step(s) {', '.join(unknown) or '(none given)'}; choose from {','.join(STEPS)}")
    return [s for s in STEPS if s in chosen]


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise PipelineError(f"--perf-batch-sizes: not a list of integers: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise PipelineError(f"--perf-batch-sizes: need integers >= 1, got {text!r}")
    return sizes


def _fingerprint(paths: Sequence[Path], options: Mapping[str, object]) -> str:
    """Hash of the options and of each input's name, size and modification time (folders: every file)."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    for path in paths:
        digest.update(str(path).encode())
        if path.is_dir():
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    st = entry.stat()
                    digest.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        elif path.is_file():
            st = path.stat()
            digest.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
        else:
            digest.update(b"<absent>")
    return digest.hexdigest()


@dataclass
class Pipeline:
    """State shared by the steps of one run."""

    args: argparse.Namespace
    repo: Path
    work: Path
    steps: list[str]
    perf_sizes: list[int]
    python: str = sys.executable
    checkpoint: Path | None = None
    demo_weights: bool = False
    data_dir: Path | None = None
    label_file: Path | None = None
    demo_data: bool = False
    ascend: bool = False
    soc_version: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    current_step: str = ""

    # -- helpers ---------------------------------------------------------------------------------

    def rel(self, path: Path) -> str:
        """A path as the guide writes it: ``./x`` inside the work folder, absolute elsewhere."""
        try:
            return "./" + path.resolve().relative_to(self.work.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def script(self, name: str, args: Sequence[str]) -> tuple[list[str], list[str]]:
        """(command to run, command as shown): a project script run with this interpreter, shown as
        ``python3 <script>`` the way a user in the work folder would type it."""
        path = self.repo / name
        shown = name if path.parent.resolve() == self.work.resolve() else str(path)
        return [self.python, str(path), *args], ["python3", shown, *args]

    def run(self, command: list[str], display: list[str] | None = None, *, capture: bool = False) -> str:
        """Run a command in the work folder, echoing it as a user would type it; fail on non-zero exit."""
        shown = display or command
        print("  $ " + " ".join(shlex.quote(part) for part in shown), flush=True)
        if not capture:
            rc = subprocess.run(command, cwd=self.work).returncode
            output = ""
        else:
            proc = subprocess.Popen(command, cwd=self.work, stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                sys.stdout.write("    " + line)
                lines.append(line)
            rc = proc.wait()
            output = "".join(lines)
        sys.stdout.flush()
        if rc != 0:
            raise PipelineError(f"command failed with exit status {rc}: {' '.join(shown[:3])} …")
        return output

    def stamp_path(self, step: str) -> Path:
        return self.work / ".run_infer" / f"{step}.json"

    def up_to_date(self, step: str, inputs: Sequence[Path], options: Mapping[str, object],
                   outputs: Sequence[Path]) -> bool:
        forced = self.args.force and self.current_step in self.steps  # not the always-run resolution steps
        if forced or not all(p.exists() for p in outputs):
            return False
        stamp = self.stamp_path(step)
        try:
            recorded = json.loads(stamp.read_text())
        except (OSError, ValueError):
            return False
        return recorded.get("inputs") == _fingerprint(inputs, options) and recorded.get("outputs") == _fingerprint(outputs, {})

    def record(self, step: str, inputs: Sequence[Path], options: Mapping[str, object],
               outputs: Sequence[Path]) -> None:
        atomic_write_json(self.stamp_path(step), {"inputs": _fingerprint(inputs, options),
                                                  "outputs": _fingerprint(outputs, {})})

    def annotations(self) -> dict[str, str]:
        """Marks every JSON the run writes carries when the weights or the data are demos."""
        notes: dict[str, str] = {}
        if self.demo_weights:
            notes["warning"] = DEMO_WARNING
        if self.demo_data:
            notes["dataset_note"] = DEMO_DATA_NOTE
        return notes

    def annotate_flags(self) -> list[str]:
        flags: list[str] = []
        for key, value in self.annotations().items():
            flags += ["--annotate", f"{key}={value}"]
        return flags

    # -- paths -----------------------------------------------------------------------------------

    @property
    def bin_dir(self) -> Path:
        return self.work / BIN_DIR

    @property
    def dynamic_onnx(self) -> Path:
        return self.work / DYNAMIC_ONNX

    @property
    def precision(self) -> str:
        return "fp16" if self.ascend else self.args.precision

    def model_path(self, batch: int) -> Path:
        """Converted model: the guide's ``.om`` name on Ascend, ``.onnx`` named for its precision elsewhere."""
        if self.ascend:
            return self.work / f"se_resnet50_fp16_bs{batch}.om"
        folder = self.work if batch == self.args.batch_size else self.work / "perf_models"
        return folder / f"se_resnet50_{self.precision}_bs{batch}.onnx"

    @property
    def result_dir(self) -> Path:
        return self.work / RESULT_DIRNAME

    @property
    def aipp_config(self) -> Path:
        """The config the guide reads from the work folder; the project's copy is put there when absent."""
        path = self.work / AIPP_CONFIG
        if not path.exists():
            atomic_write_bytes(path, (self.repo / AIPP_CONFIG).read_bytes())
            print(f"  copied the project's {AIPP_CONFIG} to {self.rel(path)}")
        return path

    # -- steps -----------------------------------------------------------------------------------

    def step_weights(self) -> None:
        from .model import DEMO_WEIGHTS_NAME, WEIGHTS_NAME, download_weights, is_demo_checkpoint, verify_weights

        explicit = self.args.checkpoint is not None
        path = self.args.checkpoint.resolve() if explicit else self.work / WEIGHTS_NAME
        print(f"  reads {self.rel(path)}")
        if not path.exists() and explicit:
            raise PipelineError(f"{path}: checkpoint not found")
        if not path.exists() and not self.args.offline:
            print(f"  {path.name} absent: fetching the guide's weights")
            try:
                download_weights(path)
                print(f"  downloaded {self.rel(path)} (SHA-256 checked)")
            except PipelineError as exc:
                print(f"  download failed: {exc}")
        if path.exists():
            verify_weights(path)
            self.checkpoint = path
        else:
            demo = self.work / DEMO_WEIGHTS_NAME
            if demo.exists() and is_demo_checkpoint(demo):
                print(f"  using the existing seeded demo checkpoint {self.rel(demo)}")
            else:
                from .model import write_demo_checkpoint

                print(f"  writing the seeded demo checkpoint {self.rel(demo)} (same keys and shapes as the real one)")
                write_demo_checkpoint(demo, seed=0)
            self.checkpoint = demo
        self.demo_weights = is_demo_checkpoint(self.checkpoint)
        if self.demo_weights:
            print(f"  WARNING: {DEMO_WARNING}")

    def step_dataset(self) -> None:
        default_root = self.work / "dataset" / "ImageNet"
        data_dir = self.args.data_dir.resolve() if self.args.data_dir else default_root / "val_union"
        label_file = self.args.label_file.resolve() if self.args.label_file else default_root / "val_label.txt"
        if data_dir.is_dir():
            if not label_file.is_file():
                raise PipelineError(f"{label_file}: label file not found (needed with {data_dir})")
            self.data_dir, self.label_file = data_dir, label_file
            print(f"  images {self.rel(data_dir)}, labels {self.rel(label_file)}")
            return
        if self.args.data_dir is not None:
            raise PipelineError(f"{data_dir}: image folder not found")
        self.demo_data = True
        demo_root = self.work / "dataset" / "demo"
        self.data_dir, self.label_file = demo_root / "val_union", demo_root / "val_label.txt"
        print(f"  {self.rel(data_dir)} absent: using a generated demo set in {self.rel(demo_root)}")
        print(f"  NOTE: {DEMO_DATA_NOTE}")
        options = {"images": self.args.demo_images, "seed": DEMO_SEED}
        assert self.checkpoint is not None
        if self.up_to_date("dataset", [self.checkpoint], options, [self.data_dir, self.label_file]):
            print("  demo set up to date")
            return
        self._generate_demo_set()
        self.record("dataset", [self.checkpoint], options, [self.data_dir, self.label_file])

    def _generate_demo_set(self) -> None:
        import numpy as np
        import torch

        from .aipp import apply_aipp, parse_aipp_config
        from .model import load_checkpoint
        from .preprocess import EvalTransform, preprocess_file
        from .synthetic import make_image_folder

        assert self.data_dir is not None and self.label_file is not None and self.checkpoint is not None
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # our own generated folder: regenerate it whole
        images = make_image_folder(self.data_dir, self.args.demo_images, seed=DEMO_SEED)
        (aipp,) = parse_aipp_config(self.aipp_config)
        model = load_checkpoint(self.checkpoint)
        labels = []
        transform = EvalTransform()
        for start in range(0, len(images), 16):
            chunk = images[start:start + 16]
            batch = np.stack([preprocess_file(p, transform) for p in chunk])
            with torch.no_grad():
                logits = model(torch.from_numpy(apply_aipp(batch, aipp)))
            labels += [f"{p.name} {int(c)}\n" for p, c in zip(chunk, logits.argmax(1).tolist())]
        atomic_write_text(self.label_file, "".join(labels))
        print(f"  generated {len(images)} images (RGB/grayscale/CMYK JPEG, palette/RGBA PNG) and their labels")

    def step_preprocess(self) -> None:
        from .preprocess import list_images

        assert self.data_dir is not None
        print(f"  reads {self.rel(self.data_dir)}, writes {self.rel(self.bin_dir)}")
        if self.up_to_date("preprocess", [self.data_dir], {}, [self.bin_dir]):
            print("  up to date, skipped")
            return
        command = ["imagenet_torch_preprocess.py", self.rel(self.data_dir), self.rel(self.bin_dir)]
        command += ["--force"] if self.args.force else []
        self.run(*self.script(command[0], command[1:]))
        # Inputs removed since an earlier run leave .bin files behind that would be inferred and scored.
        images, _ = list_images(self.data_dir)
        wanted = {stem_of(p) for p in images}
        stale = [p for p in self.bin_dir.glob("*.bin") if stem_of(p) not in wanted]
        for path in stale:
            path.unlink()
        if stale:
            print(f"  removed {len(stale)} .bin files whose images are gone from {self.rel(self.data_dir)}")
        self.record("preprocess", [self.data_dir], {}, [self.bin_dir])

    def step_export(self) -> None:
        assert self.checkpoint is not None
        print(f"  reads {self.rel(self.checkpoint)}, writes {self.rel(self.dynamic_onnx)}")
        if self.up_to_date("export", [self.checkpoint], {}, [self.dynamic_onnx]):
            print("  up to date, skipped")
            return
        command = ["SE_ResNet50_pth2onnx.py", self.rel(self.checkpoint), self.rel(self.dynamic_onnx)]
        self.run(*self.script(command[0], command[1:]))
        self.record("export", [self.checkpoint], {}, [self.dynamic_onnx])

    def _resolve_soc(self) -> str:
        if self.soc_version:
            return self.soc_version
        if self.args.soc_version:
            self.soc_version = self.args.soc_version
            return self.soc_version
        if shutil.which("npu-smi") is None:
            raise PipelineError("atc is on the PATH but npu-smi is not: give the chip with --soc-version Ascend310P3")
        out = subprocess.run(["npu-smi", "info"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            match = _NPU_ROW.match(line)
            if match and match.group(1) not in ("NPU", "Chip"):
                self.soc_version = f"Ascend{match.group(1)}"
                print(f"  chip from 'npu-smi info': {self.soc_version}")
                return self.soc_version
        raise PipelineError("npu-smi info: no chip name found; give it with --soc-version (e.g. Ascend310P3)")

    def convert(self, batch: int, *, check: bool = True) -> Path:
        """Convert the dynamic ONNX with AIPP to a static-batch model (ATC on Ascend, aipp_convert.py elsewhere)."""
        target = self.model_path(batch)
        inputs = [self.dynamic_onnx, self.aipp_config]
        if self.ascend:
            self._resolve_soc()
        options = {"batch": batch, "precision": self.precision, "ascend": self.ascend, "soc": self.soc_version}
        step = f"convert_bs{batch}"
        if self.up_to_date(step, inputs, options, [target]):
            print(f"  {self.rel(target)} up to date, skipped")
            return target
        stem = self.rel(target.with_suffix(""))
        flags = [
            f"--model={self.rel(self.dynamic_onnx)}", "--framework=5", "--input_format=NCHW",
            f'--input_shape=image:{batch},3,{imagenet.CROP_SIZE},{imagenet.CROP_SIZE}', f"--output={stem}",
            "--log=error",
        ]
        if self.ascend:
            flags += [f"--soc_version={self._resolve_soc()}", f"--insert_op_conf={self.rel(self.aipp_config)}",
                      "--enable_small_channel=1"]
            self.run(["atc", *flags])
        else:
            if self.args.soc_version:
                flags.append(f"--soc_version={self.args.soc_version}")
            flags += [f"--insert_op_conf={self.rel(self.aipp_config)}", "--enable_small_channel=1",
                      f"--precision_mode={self.precision}"]
            flags += [] if check else ["--skip-check"]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.run(*self.script("aipp_convert.py", flags))
        if not target.is_file():
            raise PipelineError(f"{target}: the converter finished but wrote no model")
        self.record(step, inputs, options, [target])
        return target

    def step_convert(self) -> None:
        target = self.model_path(self.args.batch_size)
        tool = "atc (Ascend)" if self.ascend else "aipp_convert.py (portable ATC)"
        print(f"  {tool}: reads {self.rel(self.dynamic_onnx)} + {self.rel(self.aipp_config)}, "
              f"writes {self.rel(target)}")
        self.convert(self.args.batch_size)

    def runner_command(self, model: Path, flags: list[str]) -> tuple[list[str], list[str]]:
        """(command, as displayed) for ais_bench on Ascend, ais_infer.py elsewhere."""
        if self.ascend:
            return [self.python, "-m", "ais_bench", *flags], ["python3", "-m", "ais_bench", *flags]
        extra = ["--backend", self.args.backend]
        return self.script("ais_infer.py", [*flags, *extra])

    def step_infer(self) -> None:
        model = self.model_path(self.args.batch_size)
        summary = self.work / f"{RESULT_DIRNAME}_summary.json"
        print(f"  reads {self.rel(model)} + {self.rel(self.bin_dir)}, writes {self.rel(self.result_dir)}/")
        options = {"backend": self.args.backend, "ascend": self.ascend, "notes": self.annotations()}
        if self.up_to_date("infer", [model, self.bin_dir], options, [self.result_dir]):
            print("  up to date, skipped")
            return
        if self.result_dir.exists():
            shutil.rmtree(self.result_dir)  # stale results of other inputs would be scored by the metric
        flags = ["--model", self.rel(model), "--batchsize", str(self.args.batch_size), "--input", self.rel(self.bin_dir),
                 "--output", "./", "--output_dirname", RESULT_DIRNAME, "--outfmt", "TXT"]
        command, display = self.runner_command(model, flags)
        if not self.ascend:
            command += self.annotate_flags()
        self.run(command, display)
        if not self.result_dir.is_dir():
            raise PipelineError(f"{self.result_dir}: inference wrote no result folder")
        if not self.ascend and not summary.is_file():
            raise PipelineError(f"{summary}: inference wrote no summary")
        self.record("infer", [model, self.bin_dir], options, [self.result_dir])

    def step_metric(self) -> None:
        assert self.label_file is not None
        out = self.work / ACCURACY_JSON
        print(f"  reads {self.rel(self.result_dir)}/ + {self.rel(self.label_file)}, writes {self.rel(out)}")
        inputs, options = [self.result_dir, self.label_file], {"notes": self.annotations()}
        if self.up_to_date("metric", inputs, options, [out]):
            print("  up to date, skipped")
        else:
            command = ["vision_metric_ImageNet.py", self.rel(self.result_dir) + "/", self.rel(self.label_file), "./",
                       ACCURACY_JSON]
            run_command, shown = self.script(command[0], command[1:])
            self.run(run_command + self.annotate_flags(), shown)
            self.record("metric", inputs, options, [out])
        values = {item["key"]: item["value"] for item in json.loads(out.read_text())["value"]}
        caveat = ""
        if self.demo_weights or self.demo_data:
            caveat = " (DEMO: " + ("weights are random" if self.demo_weights else "") + \
                     ("; " if self.demo_weights and self.demo_data else "") + \
                     ("labels are PyTorch's own predictions" if self.demo_data else "") + ")"
        print(f"  accuracy: top-1 {values['Top1 accuracy']}, top-5 {values['Top5 accuracy']} "
              f"on {values['Number of images']} images{caveat}")

    def step_fidelity(self) -> None:
        from .aipp import parse_aipp_config
        from .fidelity import compare_with_pytorch

        assert self.checkpoint is not None
        out = self.work / "fidelity.json"
        print(f"  reads {self.rel(self.bin_dir)} + {self.rel(self.result_dir)}/ + {self.rel(self.checkpoint)}, "
              f"writes {self.rel(out)}")
        inputs = [self.checkpoint, self.bin_dir, self.result_dir, self.aipp_config]
        options = {"limit": self.args.fidelity_images, "precision": self.precision, "notes": self.annotations()}
        if self.up_to_date("fidelity", inputs, options, [out]):
            print("  up to date, skipped: " + json.loads(out.read_text())["summary"])
            return
        (aipp,) = parse_aipp_config(self.aipp_config)
        report = compare_with_pytorch(self.checkpoint, self.bin_dir, self.result_dir, aipp,
                                      precision=self.precision, limit=self.args.fidelity_images)
        atomic_write_json(out, {**report.to_dict(), "reference": "PyTorch fp32 with numpy AIPP on the same .bin",
                                "backend": self._runner_backend(),
                                "summary": report.one_line(), **self.annotations()})
        print("  " + report.one_line())
        if not report.passed:
            raise PipelineError(f"{out}: fp32 results disagree with PyTorch beyond tolerance "
                                f"(worst image {report.worst_image})")
        self.record("fidelity", inputs, options, [out])

    def _runner_backend(self) -> str:
        """The runtime that produced ./result: the runner's summary names it (auto resolved)."""
        if self.ascend:
            return "ais_bench"
        try:
            summary = json.loads((self.work / f"{RESULT_DIRNAME}_summary.json").read_text())
            return str(summary["backend"]["name"])
        except (OSError, ValueError, KeyError, TypeError):
            return self.args.backend

    def step_perf(self) -> None:
        from .report import PerfRecord, cpu_model, parse_throughput, short_cpu_name, write_perf_outputs

        outputs = [self.work / name for name in ("perf.json", "perf.md", "perf.png")]
        inputs = [self.dynamic_onnx, self.aipp_config]
        options = {"sizes": self.perf_sizes, "loop": self.args.perf_loop, "backend": self.args.backend,
                   "precision": self.precision, "ascend": self.ascend, "notes": self.annotations()}
        print(f"  pure inference at batch {', '.join(map(str, self.perf_sizes))}, writes "
              f"{', '.join(self.rel(p) for p in outputs)}")
        if self.up_to_date("perf", inputs, options, outputs):
            print("  up to date, skipped (--force to measure again)")
            return
        records = []
        backends: dict[int, str] = {}
        for batch in self.perf_sizes:
            model = self.convert(batch, check=False)
            flags = [f"--model={self.rel(model)}", f"--loop={self.args.perf_loop}", f"--batchsize={batch}"]
            summary_json = None
            if not self.ascend:
                flags += ["--output=./perf_runs", f"--output_dirname=bs{batch}"]
                summary_json = self.work / "perf_runs" / f"bs{batch}_summary.json"
            command, display = self.runner_command(model, flags)
            output = self.run(command, display, capture=True)
            _, mean_ms, throughput = parse_throughput(output, " ".join(display[:3]))
            median = p99 = runs = None
            if summary_json is not None and summary_json.is_file():
                summary = json.loads(summary_json.read_text())
                compute = summary.get("NPU_compute_time", {})
                median, p99, runs = compute.get("median_ms"), compute.get("percentile99_ms"), compute.get("count")
                backends[batch] = summary.get("backend", {}).get("name", self.args.backend)
            backend = "ais_bench" if self.ascend else backends.get(batch, self.args.backend)
            records.append(PerfRecord(batch, throughput, mean_ms, backend, self.precision, median, p99, runs))
        if self.ascend:
            chip = machine = self.soc_version or "Ascend"
        else:
            chip = short_cpu_name(cpu_model())
            machine = f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
        meta = {"date": dt.date.today().isoformat(), "machine": machine, "loop": self.args.perf_loop,
                "precision": self.precision,
                "backend_per_batch": {str(k): v for k, v in backends.items()}, "mode": "pure inference (no file I/O)",
                **self.annotations()}
        paths = write_perf_outputs(self.work, chip, records, meta)
        print("  " + ", ".join(f"bs{r.batch_size}: {r.throughput_images_per_s:.1f} images/s" for r in records))
        print(f"  wrote {', '.join(self.rel(p) for p in paths)}")
        self.record("perf", inputs, options, outputs)

    # -- driver ----------------------------------------------------------------------------------

    def execute(self) -> None:
        self.ascend = shutil.which("atc") is not None
        print(f"work folder {self.work}; {'Ascend host: atc + ais_bench' if self.ascend else 'portable: aipp_convert.py + ais_infer.py'}")
        for number, name in enumerate(STEPS, start=FIRST_STEP_NUMBER):
            always = name in ("weights", "dataset")  # they resolve paths the other steps need
            if name not in self.steps and not always:
                continue
            print(f"[{number}/{TOTAL_STEPS}] {name}", flush=True)
            started = time.perf_counter()
            self.current_step = name
            method: Callable[[], None] = getattr(self, f"step_{name}")
            try:
                method()
            except PipelineError as exc:
                raise PipelineError(f"step {name} failed: {exc}") from None
            self.timings[name] = time.perf_counter() - started
            print(f"[{number}/{TOTAL_STEPS}] {name} done in {self.timings[name]:.1f} s", flush=True)
        total = sum(self.timings.values())
        print(f"all steps done in {total:.1f} s" + (f" — {DEMO_WARNING}" if self.demo_weights else ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options and run the chosen steps."""
    args = build_parser().parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(args=args, repo=repo, work=work, steps=_parse_steps(args.steps),
                        perf_sizes=_parse_sizes(args.perf_batch_sizes))
    pipeline.execute()
    return 0


if __name__ == "__main__":
    from .cli import run_main

    sys.exit(run_main(main, prog="run_infer.sh"))

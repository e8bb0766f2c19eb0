"""The two toolchains the driver can run the guide with, behind one small interface.

- :class:`AscendToolchain`: the vendor's tools exactly as the guide writes them, ``atc …`` for step 3
  and ``python3 -m ais_bench …`` for steps 4 and 6, and for int8 ``amct_onnx calibration …`` first;
- :class:`PortableToolchain`: the project's ``aipp_convert.py``, ``ais_infer.py`` and ``amct_calibrate.py``
  with the same flags.

Each answers the same questions: the converted model's path at a precision and batch size, the
calibrate, convert, infer and perf commands, the precisions it offers, which runtime produced the
results, and a perf run's figures. The
project's own steps (preprocess, export, metric) are :class:`Scripts`, run with the project's Python.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from . import imagenet
from .atc import GUIDE_SOC_VERSION
from .errors import PipelineError
from .precision import float_precision
from .report import PerfRecord, cpu_model, gpu_model, parse_throughput, short_cpu_name
from .summary import load_summary, summary_path

RESULT_DIRNAME = "result"
PERF_RUNS = "perf_runs"
PERF_MODELS = "perf_models"
ASCEND_PRECISION = "fp16"  # the guide's .om models: ATC's default precision
# AMCT's --save_path for int8: it writes <prefix>_deploy_model.onnx (the converter's input) and
# <prefix>_fake_quant_model.onnx in the work folder; the converted model is then se_resnet50_int8_bs<N>.
INT8_SAVE_PATH = "se_resnet50_int8"
DEPLOY_SUFFIX = "_deploy_model.onnx"
FAKE_QUANT_SUFFIX = "_fake_quant_model.onnx"
CALIBRATION_DATA_TYPES = "float32"
# One "| 0  310P3  | OK ..." row of `npu-smi info` (the header row says "NPU Name").
_NPU_ROW = re.compile(r"^\|\s*\d+\s+(\S+)\s+\|\s*\w+")
CANN_SET_ENV = (
    "/usr/local/Ascend/ascend-toolkit/set_env.sh",
    "/usr/local/Ascend/ascend-toolkit/latest/set_env.sh",
    "/usr/local/Ascend/ascend-toolkit/latest/bin/setenv.bash",
    "~/Ascend/ascend-toolkit/set_env.sh",
)


@dataclass(frozen=True)
class Command:
    """A command to run and the same command as it is shown (the way a user in the work folder types it)."""

    run: List[str]
    shown: List[str]

    def plus(self, run_only: Sequence[str]) -> "Command":
        """The command with extra arguments that are run but not shown (``--annotate``)."""
        return Command([*self.run, *run_only], list(self.shown))


@dataclass(frozen=True)
class Scripts:
    """The project's step scripts, run with the project's Python from the work folder."""

    repo: Path
    work: Path
    python: str = sys.executable

    def rel(self, path: Path) -> str:
        """A path as the guide writes it: ``./x`` inside the work folder, absolute elsewhere."""
        try:
            return "./" + path.resolve().relative_to(self.work.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def command(self, name: str, args: Sequence[str]) -> Command:
        """``python3 <script> args``, shown with the script's absolute path when it is not in the work folder."""
        path = self.repo / name
        shown = name if path.parent.resolve() == self.work.resolve() else str(path)
        return Command([self.python, str(path), *args], ["python3", shown, *args])


def convert_flags(scripts: Scripts, dynamic_onnx: Path, model: Path, batch: int) -> List[str]:
    """ATC's flags both toolchains share, in the guide's order."""
    size = imagenet.CROP_SIZE
    return [f"--model={scripts.rel(dynamic_onnx)}", "--framework=5", "--input_format=NCHW",
            f"--input_shape=image:{batch},3,{size},{size}", f"--output={scripts.rel(model.with_suffix(''))}",
            "--log=error"]


def infer_flags(scripts: Scripts, model: Path, batch: int, bin_dir: Path, output: str = "./",
                dirname: str = RESULT_DIRNAME) -> List[str]:
    """The guide's step 4 flags: TXT results into ``./result`` (or ``<output>/<dirname>``)."""
    return ["--model", scripts.rel(model), "--batchsize", str(batch), "--input", scripts.rel(bin_dir),
            "--output", output, "--output_dirname", dirname, "--outfmt", "TXT"]


def calibrate_flags(scripts: Scripts, model: Path, save_path: Path, data_dir: Path, batch: int,
                    batch_num: int) -> List[str]:
    """``amct_onnx calibration``'s flags (``amct_calibrate.py`` takes the same)."""
    size = imagenet.CROP_SIZE
    return [f"--model={scripts.rel(model)}", f"--save_path={scripts.rel(save_path)}",
            f"--input_shape=image:{batch},3,{size},{size}", f"--data_dir={scripts.rel(data_dir)}",
            f"--data_types={CALIBRATION_DATA_TYPES}", f"--batch_num={batch_num}"]


def perf_flags(scripts: Scripts, model: Path, batch: int, loop: int) -> List[str]:
    """The guide's step 6 flags: pure inference."""
    return [f"--model={scripts.rel(model)}", f"--loop={loop}", f"--batchsize={batch}"]


class Toolchain:
    """What differs between the vendor's tools and the portable ones; the driver asks only this.

    ``precision`` is the run's (steps 3 and 4); the perf step may ask for models at others.
    """

    ascend = False
    banner = ""
    convert_tool = ""
    calibrate_tool = ""
    precision = "fp32"

    def __init__(self, scripts: Scripts, dynamic_onnx: Path, aipp_config: Path, batch_size: int) -> None:
        self.scripts = scripts
        self.dynamic_onnx = dynamic_onnx
        self.aipp_config = aipp_config
        self.batch_size = batch_size

    @property
    def work(self) -> Path:
        return self.scripts.work

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        """The converted static-batch model for ``batch`` at ``precision`` (default: the run's)."""
        raise NotImplementedError

    def offered_precisions(self) -> Tuple[str, ...]:
        """The precisions this toolchain can convert and run on this machine, fp32 (or the vendor's default) first."""
        raise NotImplementedError

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

    def source_model(self, precision: Optional[str] = None) -> Path:
        """The converter's input at ``precision``: the calibrated deploy model for int8, else step 2's model."""
        return self.deploy_model if (precision or self.precision) == "int8" else self.dynamic_onnx

    def calibrate_command(self, data_dir: Path, batch: int, batch_num: int) -> Command:
        """AMCT's calibration: step 2's model and ``batch_num`` batches of ``data_dir``'s float32 .bin files to
        :attr:`deploy_model`."""
        raise NotImplementedError

    def convert_command(self, batch: int, *, precision: Optional[str] = None, check: bool = True) -> Command:
        """Step 3: :meth:`source_model` plus the AIPP config to :meth:`model_path` ``(batch, precision)``."""
        raise NotImplementedError

    def convert_options(self, precision: Optional[str] = None) -> dict:
        """What, besides the input files, decides the converted model (for the up-to-date check)."""
        return {"precision": precision or self.precision, "ascend": self.ascend}

    def infer_command(self, bin_dir: Path, annotate: Sequence[str] = ()) -> Command:
        """Step 4 on the step's model: TXT results in ``./result`` (``annotate``: the runner's ``--annotate``
        flags for the summary, where the runner takes them)."""
        raise NotImplementedError

    def infer_summary(self) -> Optional[Path]:
        """The summary step 4 must leave beside ``./result`` (None: the tool writes none the driver needs)."""
        return None

    def drift_command(self, precision: str, batch: int, bin_dir: Path, dirname: str) -> Command:
        """Step 4's command on the perf model at ``precision`` and ``batch`` over ``bin_dir``, TXT results into
        ``./perf_runs/<dirname>`` (the perf step's small fidelity check per precision)."""
        raise NotImplementedError

    def perf_command(self, batch: int, loop: int, precision: Optional[str] = None) -> Command:
        """Step 6 at one batch size and precision (pure inference)."""
        raise NotImplementedError

    def perf_folders(self) -> List[Path]:
        """Folders the perf runs write into, emptied before the step so no figure comes from another run."""
        return [self.work / PERF_RUNS]

    def perf_record(self, batch: int, command: Command, output: str, precision: Optional[str] = None) -> PerfRecord:
        """One batch size's figures after :meth:`perf_command` ran and printed ``output``."""
        raise NotImplementedError

    def runtime(self, fallback: str) -> str:
        """The runtime that produced ``./result`` (for fidelity.json)."""
        raise NotImplementedError

    def chip_and_machine(self) -> Tuple[str, str]:
        """(chip column of the perf table, machine line of its header)."""
        raise NotImplementedError


class PortableToolchain(Toolchain):
    """``aipp_convert.py``, ``ais_infer.py`` and ``amct_calibrate.py``: the vendor's flags, ONNX models, any machine."""

    banner = "portable: aipp_convert.py + ais_infer.py"
    convert_tool = "aipp_convert.py (portable ATC)"
    calibrate_tool = "amct_calibrate.py (portable AMCT)"

    def __init__(self, scripts: Scripts, dynamic_onnx: Path, aipp_config: Path, batch_size: int, *,
                 precision: str, backend: str, soc_version: Optional[str]) -> None:
        super().__init__(scripts, dynamic_onnx, aipp_config, batch_size)
        self.precision = precision
        self.backend = backend
        self.soc_version = soc_version

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        precision = precision or self.precision
        main = batch == self.batch_size and precision == self.precision
        folder = self.work if main else self.work / PERF_MODELS
        return folder / f"se_resnet50_{precision}_bs{batch}.onnx"

    def offered_precisions(self) -> Tuple[str, ...]:
        from .backends import native_precisions

        return tuple(native_precisions(self.backend))

    def convert_options(self, precision: Optional[str] = None) -> dict:
        return {**super().convert_options(precision), "soc": None}

    def calibrate_command(self, data_dir: Path, batch: int, batch_num: int) -> Command:
        flags = calibrate_flags(self.scripts, self.dynamic_onnx, self.int8_save_path, data_dir, batch, batch_num)
        return self.scripts.command("amct_calibrate.py", flags)

    def convert_command(self, batch: int, *, precision: Optional[str] = None, check: bool = True) -> Command:
        precision = precision or self.precision
        model = self.model_path(batch, precision)
        model.parent.mkdir(parents=True, exist_ok=True)
        flags = convert_flags(self.scripts, self.source_model(precision), model, batch)
        # ATC requires --soc_version; off Ascend it is only recorded, so the guide's chip stands in by default.
        flags += [f"--soc_version={self.soc_version or GUIDE_SOC_VERSION}"]
        # An int8 model's quantized layers are in its graph; the converter records int8 and keeps the rest fp32.
        flags += [f"--insert_op_conf={self.scripts.rel(self.aipp_config)}", "--enable_small_channel=1",
                  f"--precision_mode={float_precision(precision)}"]
        flags += [] if check else ["--skip-check"]
        return self.scripts.command("aipp_convert.py", flags)

    def _runner(self, flags: Sequence[str]) -> Command:
        return self.scripts.command("ais_infer.py", [*flags, "--backend", self.backend])

    def infer_command(self, bin_dir: Path, annotate: Sequence[str] = ()) -> Command:
        flags = infer_flags(self.scripts, self.model_path(self.batch_size), self.batch_size, bin_dir)
        return self._runner(flags).plus(annotate)

    def infer_summary(self) -> Optional[Path]:
        return summary_path(self.work, RESULT_DIRNAME)

    def drift_command(self, precision: str, batch: int, bin_dir: Path, dirname: str) -> Command:
        flags = infer_flags(self.scripts, self.model_path(batch, precision), batch, bin_dir, f"./{PERF_RUNS}", dirname)
        return self._runner(flags)

    def perf_command(self, batch: int, loop: int, precision: Optional[str] = None) -> Command:
        precision = precision or self.precision
        flags = perf_flags(self.scripts, self.model_path(batch, precision), batch, loop)
        return self._runner([*flags, f"--output=./{PERF_RUNS}", f"--output_dirname={precision}_bs{batch}"])

    def perf_record(self, batch: int, command: Command, output: str, precision: Optional[str] = None) -> PerfRecord:
        precision = precision or self.precision
        summary = load_summary(summary_path(self.work / PERF_RUNS, f"{precision}_bs{batch}"))
        c = summary.compute
        return PerfRecord(batch, summary.throughput, c.mean, summary.extras.backend or self.backend, precision,
                          c.median, c.p99, c.count)

    def runtime(self, fallback: str) -> str:
        path = summary_path(self.work, RESULT_DIRNAME)
        try:
            return load_summary(path).extras.backend or fallback
        except PipelineError:  # no summary (or not this project's): the option names the runtime
            return fallback

    def chip_and_machine(self) -> Tuple[str, str]:
        name = cpu_model()
        machine = f"{name}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
        from .backends import GPU_BACKENDS

        if self.backend in GPU_BACKENDS:  # the perf step ran on the GPU: name it, the CPU only as the host
            gpu = gpu_model() or "NVIDIA GPU"
            return gpu.split(" (driver", 1)[0], f"{gpu}, host {machine}"
        return short_cpu_name(name), machine


class AscendToolchain(Toolchain):
    """The vendor's ``atc``, ``python3 -m ais_bench`` and ``amct_onnx``, run with the guide's command lines.

    Models are named for their precision as the guide names its fp16 one: ``se_resnet50_fp16_bs32.om``
    (ATC's default precision) and, calibrated by AMCT, ``se_resnet50_int8_bs32.om``.
    """

    ascend = True
    banner = "Ascend host: atc + ais_bench"
    convert_tool = "atc (Ascend)"
    calibrate_tool = "amct_onnx calibration (Ascend AMCT)"

    def __init__(self, scripts: Scripts, dynamic_onnx: Path, aipp_config: Path, batch_size: int, *,
                 soc_version: Optional[str], precision: str = ASCEND_PRECISION) -> None:
        super().__init__(scripts, dynamic_onnx, aipp_config, batch_size)
        # ATC converts at its own default (fp16) unless the model was quantized by AMCT first.
        self.precision = "int8" if precision == "int8" else ASCEND_PRECISION
        self._soc_version = soc_version
        self._ais_python: Optional[str] = None

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        return self.scripts.work / f"se_resnet50_{precision or self.precision}_bs{batch}.om"

    def offered_precisions(self) -> Tuple[str, ...]:
        # int8 needs AMCT, a separate package of the toolkit.
        return (ASCEND_PRECISION,) + (("int8",) if shutil.which("amct_onnx") is not None else ())

    @property
    def soc_version(self) -> str:
        """ATC's ``--soc_version``: the option, else the chip ``npu-smi info`` names (read once)."""
        if self._soc_version is None:
            self._soc_version = chip_from_npu_smi()
            print(f"  chip from 'npu-smi info': {self._soc_version}")
        return self._soc_version

    def convert_options(self, precision: Optional[str] = None) -> dict:
        return {**super().convert_options(precision), "soc": self.soc_version}

    def calibrate_command(self, data_dir: Path, batch: int, batch_num: int) -> Command:
        if shutil.which("amct_onnx") is None:
            raise PipelineError("int8 on Ascend needs AMCT: amct_onnx is not on the PATH (install the CANN AMCT "
                                "package, or run without --precision int8)")
        flags = calibrate_flags(self.scripts, self.dynamic_onnx, self.int8_save_path, data_dir, batch, batch_num)
        return Command(["amct_onnx", "calibration", *flags], ["amct_onnx", "calibration", *flags])

    def convert_command(self, batch: int, *, precision: Optional[str] = None, check: bool = True) -> Command:
        precision = precision or self.precision
        flags = convert_flags(self.scripts, self.source_model(precision), self.model_path(batch, precision), batch)
        flags += [f"--soc_version={self.soc_version}", f"--insert_op_conf={self.scripts.rel(self.aipp_config)}",
                  "--enable_small_channel=1"]
        return Command(["atc", *flags], ["atc", *flags])

    def _ais_bench(self, flags: Sequence[str]) -> Command:
        if self._ais_python is None:
            self._ais_python = ais_bench_python(self.scripts.python, self.scripts.work)
        return Command([self._ais_python, "-m", "ais_bench", *flags], ["python3", "-m", "ais_bench", *flags])

    def infer_command(self, bin_dir: Path, annotate: Sequence[str] = ()) -> Command:
        # The vendor's ais_bench has no --annotate: the demo marks stay in the project's own JSON files.
        return self._ais_bench(infer_flags(self.scripts, self.model_path(self.batch_size), self.batch_size, bin_dir))

    def drift_command(self, precision: str, batch: int, bin_dir: Path, dirname: str) -> Command:
        return self._ais_bench(infer_flags(self.scripts, self.model_path(batch, precision), batch, bin_dir,
                                           f"./{PERF_RUNS}", dirname))

    def perf_command(self, batch: int, loop: int, precision: Optional[str] = None) -> Command:
        return self._ais_bench(perf_flags(self.scripts, self.model_path(batch, precision), batch, loop))

    def perf_record(self, batch: int, command: Command, output: str, precision: Optional[str] = None) -> PerfRecord:
        # The guide's perf command writes no summary: its printed line is all there is.
        _, mean_ms, throughput = parse_throughput(output, " ".join(command.shown[:3]))
        return PerfRecord(batch, throughput, mean_ms, "ais_bench", precision or self.precision)

    def runtime(self, fallback: str) -> str:
        return "ais_bench"

    def chip_and_machine(self) -> Tuple[str, str]:
        return self.soc_version, self.soc_version


def select_toolchain(scripts: Scripts, dynamic_onnx: Path, aipp_config: Path, batch_size: int, *,
                     precision: str, backend: str, soc_version: Optional[str]) -> Toolchain:
    """The vendor's tools when ``atc`` is on the PATH, else the portable ones."""
    if shutil.which("atc") is not None:
        return AscendToolchain(scripts, dynamic_onnx, aipp_config, batch_size, soc_version=soc_version,
                               precision=precision)
    return PortableToolchain(scripts, dynamic_onnx, aipp_config, batch_size, precision=precision, backend=backend,
                             soc_version=soc_version)


def soc_from_chip_name(name: str) -> str:
    """ATC's ``--soc_version`` for an ``npu-smi`` chip name: ``310P3`` -> ``Ascend310P3``, ``Ascend910B`` kept."""
    return name if name.lower().startswith("ascend") else f"Ascend{name}"


def parse_npu_smi(text: str) -> Optional[str]:
    """The first chip's ``--soc_version`` from ``npu-smi info`` output, or None."""
    for line in text.splitlines():
        match = _NPU_ROW.match(line)
        if match and match.group(1) not in ("NPU", "Chip"):
            return soc_from_chip_name(match.group(1))
    return None


def chip_from_npu_smi() -> str:
    """Run ``npu-smi info`` and return the chip's ``--soc_version``; a clear error when that is not possible."""
    if shutil.which("npu-smi") is None:
        raise PipelineError("atc is on the PATH but npu-smi is not: give the chip with --soc-version Ascend310P3")
    out = subprocess.run(["npu-smi", "info"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    soc = parse_npu_smi(out)
    if soc is None:
        raise PipelineError("npu-smi info: no chip name found; give it with --soc-version (e.g. Ascend310P3)")
    return soc


def can_import(python: str, module: str, cwd: Path) -> bool:
    """True when ``python -m module`` would find the module (run from ``cwd``, as the step runs)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        return subprocess.run([python, "-c", probe], cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def ais_bench_python(project_python: str, cwd: Path) -> str:
    """The interpreter of the guide's ``python3 -m ais_bench``: the project's ($PYTHON) when it has
    ais_bench, else ``python3`` from the PATH (the host's, where the toolkit installs it)."""
    if can_import(project_python, "ais_bench", cwd):
        return project_python
    host = shutil.which("python3")
    if host is not None and can_import(host, "ais_bench", cwd):
        print(f"  ais_bench runs with python3 from the PATH ({host}); the project's Python "
              f"({project_python}) cannot import it")
        return host
    raise PipelineError(
        f"ais_bench cannot be imported by $PYTHON ({project_python}) nor by python3 on the PATH "
        f"({host or 'none found'}): install the toolkit's ais_bench into one of them, or set PYTHON to an "
        "interpreter that has it")


def find_cann_set_env(candidates: Sequence[str] = CANN_SET_ENV) -> Optional[Path]:
    """The first CANN ``set_env.sh`` found in the usual places, or None."""
    for candidate in candidates:
        path = Path(os.path.expanduser(candidate))
        if path.is_file():
            return path
    return None


def toolchain_notes(toolchain: Toolchain, candidates: Sequence[str] = CANN_SET_ENV) -> List[str]:
    """Warn when a CANN toolkit is installed but its environment was not sourced (so atc is not found)."""
    if toolchain.ascend:
        return []
    found = find_cann_set_env(candidates)
    if found is None:
        return []
    return [f"note: a CANN toolkit is installed ({found}) but its environment was not sourced, so atc is not on "
            f"the PATH and the portable tools run; to use atc and ais_bench: source {found}"]

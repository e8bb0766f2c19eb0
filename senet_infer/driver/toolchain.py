"""The two toolchains the driver can run the guide with, behind one small interface.

- :class:`AscendToolchain`: the vendor's tools exactly as the guide writes them, ``atc …`` for step 3
  and ``python3 -m ais_bench …`` for steps 4 and 6, and for int8 ``amct_onnx calibration …`` first;
- :class:`PortableToolchain`: the project's ``aipp_convert.py``, ``ais_infer.py`` and ``amct_calibrate.py``
  with the same flags.

Each answers the same questions: the converted model's path at a precision and batch size, the
calibrate, convert, infer and perf commands, the precisions it offers, which runtime produced the
results, and a perf run's figures. The
project's own steps (preprocess, export, metric) are :class:`Scripts`, run with the project's Python.
The work folder's names come from :mod:`.paths`; what the host is (chip, ais_bench's interpreter) is asked by
:mod:`.ascend_host` before a toolchain is made, and given to it.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..atc import GUIDE_SOC_VERSION
from ..errors import PipelineError
from ..export import input_shapes
from ..machine import cpu_model, gpu_model, short_cpu_name
from ..onnxgraph import format_input_shape
from ..precision import float_precision
from ..summary import load_summary, summary_path
from .paths import RESULT_DIRNAME, Paths, perf_run_dirname
from .perf_outputs import PerfRecord, parse_throughput

ASCEND_PRECISION = "fp16"  # the guide's .om models: ATC's default precision
CALIBRATION_DATA_TYPES = "float32"


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
        """:meth:`Paths.rel <.paths.Paths.rel>` of the work folder the commands run in."""
        return Paths(self.work).rel(path)

    def command(self, name: str, args: Sequence[str]) -> Command:
        """``python3 <script> args``, shown with the script's absolute path when it is not in the work folder."""
        path = self.repo / name
        shown = name if path.parent.resolve() == self.work.resolve() else str(path)
        return Command([self.python, str(path), *args], ["python3", shown, *args])


def input_shape_flag(batch: int) -> str:
    """ATC's and AMCT's ``--input_shape`` for the model at ``batch``: ``--input_shape=image:32,3,224,224``."""
    return "--input_shape=" + format_input_shape(input_shapes(batch))


def convert_flags(scripts: Scripts, dynamic_onnx: Path, model: Path, batch: int) -> List[str]:
    """ATC's flags both toolchains share, in the guide's order."""
    return [f"--model={scripts.rel(dynamic_onnx)}", "--framework=5", "--input_format=NCHW",
            input_shape_flag(batch), f"--output={scripts.rel(model.with_suffix(''))}", "--log=error"]


def infer_flags(scripts: Scripts, model: Path, batch: int, bin_dir: Path, output: str = "./",
                dirname: str = RESULT_DIRNAME) -> List[str]:
    """The guide's step 4 flags: TXT results into ``./result`` (or ``<output>/<dirname>``)."""
    return ["--model", scripts.rel(model), "--batchsize", str(batch), "--input", scripts.rel(bin_dir),
            "--output", output, "--output_dirname", dirname, "--outfmt", "TXT"]


def calibrate_flags(scripts: Scripts, model: Path, save_path: Path, data_dir: Path, batch: int,
                    batch_num: int) -> List[str]:
    """``amct_onnx calibration``'s flags (``amct_calibrate.py`` takes the same)."""
    return [f"--model={scripts.rel(model)}", f"--save_path={scripts.rel(save_path)}",
            input_shape_flag(batch), f"--data_dir={scripts.rel(data_dir)}",
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

    def __init__(self, scripts: Scripts, batch_size: int) -> None:
        self.scripts = scripts
        self.paths = Paths(scripts.work)
        self.batch_size = batch_size

    @property
    def work(self) -> Path:
        return self.scripts.work

    @property
    def dynamic_onnx(self) -> Path:
        return self.paths.dynamic_onnx

    @property
    def aipp_config(self) -> Path:
        return self.paths.aipp_config

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        """The converted static-batch model for ``batch`` at ``precision`` (default: the run's)."""
        raise NotImplementedError

    def offered_precisions(self) -> Tuple[str, ...]:
        """The precisions this toolchain can convert and run on this machine, fp32 (or the vendor's default) first."""
        raise NotImplementedError

    @property
    def deploy_model(self) -> Path:
        """The calibrated int8 ONNX model the converter reads (AMCT's ``<save_path>_deploy_model.onnx``)."""
        return self.paths.deploy_model

    @property
    def fake_quant_model(self) -> Path:
        """AMCT's ``<save_path>_fake_quant_model.onnx`` (for checking on ONNX Runtime)."""
        return self.paths.fake_quant_model

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

    @property
    def _perf_runs(self) -> str:
        """``./perf_runs`` as the commands give it."""
        return self.scripts.rel(self.paths.perf_runs)

    def perf_folders(self) -> List[Path]:
        """Folders the perf runs write into, emptied before the step so no figure comes from another run."""
        return [self.paths.perf_runs]

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

    def __init__(self, scripts: Scripts, batch_size: int, *, precision: str, backend: str,
                 soc_version: Optional[str]) -> None:
        super().__init__(scripts, batch_size)
        self.precision = precision
        self.backend = backend
        self.soc_version = soc_version

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        precision = precision or self.precision
        main = batch == self.batch_size and precision == self.precision
        return self.paths.model(precision, batch, ".onnx", perf=not main)

    def offered_precisions(self) -> Tuple[str, ...]:
        from ..backends import native_precisions

        return tuple(native_precisions(self.backend))

    def convert_options(self, precision: Optional[str] = None) -> dict:
        return {**super().convert_options(precision), "soc": None}

    def calibrate_command(self, data_dir: Path, batch: int, batch_num: int) -> Command:
        flags = calibrate_flags(self.scripts, self.dynamic_onnx, self.paths.int8_save_path, data_dir, batch, batch_num)
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
        return self.paths.result_summary

    def drift_command(self, precision: str, batch: int, bin_dir: Path, dirname: str) -> Command:
        flags = infer_flags(self.scripts, self.model_path(batch, precision), batch, bin_dir, self._perf_runs, dirname)
        return self._runner(flags)

    def perf_command(self, batch: int, loop: int, precision: Optional[str] = None) -> Command:
        precision = precision or self.precision
        flags = perf_flags(self.scripts, self.model_path(batch, precision), batch, loop)
        return self._runner([*flags, f"--output={self._perf_runs}", f"--output_dirname={perf_run_dirname(precision, batch)}"])

    def perf_record(self, batch: int, command: Command, output: str, precision: Optional[str] = None) -> PerfRecord:
        precision = precision or self.precision
        summary = load_summary(summary_path(self.paths.perf_runs, perf_run_dirname(precision, batch)))
        c = summary.compute
        return PerfRecord(batch, summary.throughput, c.mean, summary.extras.backend or self.backend, precision,
                          c.median, c.p99, c.count)

    def runtime(self, fallback: str) -> str:
        try:
            return load_summary(self.paths.result_summary).extras.backend or fallback
        except PipelineError:  # no summary (or not this project's): the option names the runtime
            return fallback

    def chip_and_machine(self) -> Tuple[str, str]:
        name = cpu_model()
        machine = f"{name}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
        from ..backends import GPU_BACKENDS

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

    def __init__(self, scripts: Scripts, batch_size: int, *, soc_version: Optional[str], ais_python: Optional[str],
                 precision: str = ASCEND_PRECISION) -> None:
        """``soc_version`` and ``ais_python``: what :mod:`.ascend_host` found (None: this run needs it not)."""
        super().__init__(scripts, batch_size)
        # ATC converts at its own default (fp16) unless the model was quantized by AMCT first.
        self.precision = "int8" if precision == "int8" else ASCEND_PRECISION
        self._soc_version = soc_version
        self._ais_python = ais_python

    def model_path(self, batch: int, precision: Optional[str] = None) -> Path:
        return self.paths.model(precision or self.precision, batch, ".om")

    def offered_precisions(self) -> Tuple[str, ...]:
        # int8 needs AMCT, a separate package of the toolkit.
        return (ASCEND_PRECISION,) + (("int8",) if shutil.which("amct_onnx") is not None else ())

    def soc_version(self) -> str:
        """ATC's ``--soc_version``, as resolved before the run."""
        if self._soc_version is None:
            raise PipelineError("no --soc_version: the chip was not asked of npu-smi for the chosen steps")
        return self._soc_version

    def convert_options(self, precision: Optional[str] = None) -> dict:
        return {**super().convert_options(precision), "soc": self._soc_version}

    def calibrate_command(self, data_dir: Path, batch: int, batch_num: int) -> Command:
        if shutil.which("amct_onnx") is None:
            raise PipelineError("int8 on Ascend needs AMCT: amct_onnx is not on the PATH (install the CANN AMCT "
                                "package, or run without --precision int8)")
        flags = calibrate_flags(self.scripts, self.dynamic_onnx, self.paths.int8_save_path, data_dir, batch, batch_num)
        return Command(["amct_onnx", "calibration", *flags], ["amct_onnx", "calibration", *flags])

    def convert_command(self, batch: int, *, precision: Optional[str] = None, check: bool = True) -> Command:
        precision = precision or self.precision
        flags = convert_flags(self.scripts, self.source_model(precision), self.model_path(batch, precision), batch)
        flags += [f"--soc_version={self.soc_version()}", f"--insert_op_conf={self.scripts.rel(self.aipp_config)}",
                  "--enable_small_channel=1"]
        return Command(["atc", *flags], ["atc", *flags])

    def _ais_bench(self, flags: Sequence[str]) -> Command:
        if self._ais_python is None:
            raise PipelineError("no interpreter for ais_bench: it was not looked for on the chosen steps")
        return Command([self._ais_python, "-m", "ais_bench", *flags], ["python3", "-m", "ais_bench", *flags])

    def infer_command(self, bin_dir: Path, annotate: Sequence[str] = ()) -> Command:
        # The vendor's ais_bench has no --annotate: the demo marks stay in the project's own JSON files.
        return self._ais_bench(infer_flags(self.scripts, self.model_path(self.batch_size), self.batch_size, bin_dir))

    def drift_command(self, precision: str, batch: int, bin_dir: Path, dirname: str) -> Command:
        return self._ais_bench(infer_flags(self.scripts, self.model_path(batch, precision), batch, bin_dir,
                                           self._perf_runs, dirname))

    def perf_command(self, batch: int, loop: int, precision: Optional[str] = None) -> Command:
        return self._ais_bench(perf_flags(self.scripts, self.model_path(batch, precision), batch, loop))

    def perf_record(self, batch: int, command: Command, output: str, precision: Optional[str] = None) -> PerfRecord:
        # The guide's perf command writes no summary: its printed line is all there is.
        _, mean_ms, throughput = parse_throughput(output, " ".join(command.shown[:3]))
        return PerfRecord(batch, throughput, mean_ms, "ais_bench", precision or self.precision)

    def runtime(self, fallback: str) -> str:
        return "ais_bench"

    def chip_and_machine(self) -> Tuple[str, str]:
        return self.soc_version(), self.soc_version()


def select_toolchain(scripts: Scripts, batch_size: int, *, ascend: bool, precision: str, backend: str,
                     soc_version: Optional[str], ais_python: Optional[str] = None) -> Toolchain:
    """The vendor's tools on an Ascend host (``soc_version`` and ``ais_python`` as :mod:`.ascend_host` found them),
    else the portable ones."""
    if ascend:
        return AscendToolchain(scripts, batch_size, soc_version=soc_version, ais_python=ais_python, precision=precision)
    return PortableToolchain(scripts, batch_size, precision=precision, backend=backend, soc_version=soc_version)

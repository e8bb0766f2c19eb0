"""What the driver asks of an Ascend host before it runs the vendor's tools: the chip (``npu-smi info``), the
interpreter that can run ``python3 -m ais_bench``, and whether a CANN toolkit is installed but not sourced.

Each is a plain function, called once where the run starts; nothing here is cached behind a property.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import PipelineError

# One "| 0  310P3  | OK ..." row of `npu-smi info` (the header row says "NPU Name").
_NPU_ROW = re.compile(r"^\|\s*\d+\s+(\S+)\s+\|\s*\w+")
CANN_SET_ENV = (
    "/usr/local/Ascend/ascend-toolkit/set_env.sh",
    "/usr/local/Ascend/ascend-toolkit/latest/set_env.sh",
    "/usr/local/Ascend/ascend-toolkit/latest/bin/setenv.bash",
    "~/Ascend/ascend-toolkit/set_env.sh",
)


def is_ascend_host() -> bool:
    """True when the vendor's ``atc`` is on the PATH (the driver then runs the vendor's tools)."""
    return shutil.which("atc") is not None


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


def soc_version(option: Optional[str]) -> str:
    """ATC's ``--soc_version``: the option, else the chip ``npu-smi info`` names (said in the run's output)."""
    if option is not None:
        return option
    soc = chip_from_npu_smi()
    print(f"  chip from 'npu-smi info': {soc}")
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


def unsourced_cann_notes(ascend: bool, candidates: Sequence[str] = CANN_SET_ENV) -> List[str]:
    """Warn when a CANN toolkit is installed but its environment was not sourced (so atc is not found)."""
    if ascend:
        return []
    found = find_cann_set_env(candidates)
    if found is None:
        return []
    return [f"note: a CANN toolkit is installed ({found}) but its environment was not sourced, so atc is not on "
            f"the PATH and the portable tools run; to use atc and ais_bench: source {found}"]

"""The machine a measurement ran on, in words: CPU and NVIDIA GPU model names."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Optional


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model() -> Optional[str]:
    """The first NVIDIA GPU's name and driver (``nvidia-smi``), None where there is none."""
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None
    name, _, driver = lines[0].partition(",")
    return f"{name.strip()} (driver {driver.strip()})"


def short_cpu_name(name: str) -> str:
    """``Intel(R) Xeon(R) Processor @ 2.50GHz`` -> ``Intel Xeon @ 2.50GHz``."""
    for noise in ("(R)", "(TM)", "(tm)", " CPU", " Processor"):
        name = name.replace(noise, "")
    return " ".join(name.split())

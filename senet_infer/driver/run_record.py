"""``.run_infer/run.json``: what the report's "The run" section says of a run, recorded by the driver.

The command line and options, the project's commit, the toolchain and runtime, the versions of the Python
packages that computed the figures, the machine (CPU model and the instruction sets that decide int8/bf16
speed, or the GPU), the checkpoint's SHA-256 prefix and the dataset. Written by the report step before it
builds the page; read back by :func:`read_run_record`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import PipelineError
from ..fileio import atomic_write_json, read_json
from ..machine import cpu_model, gpu_model

PACKAGES = ("numpy", "torch", "torchvision", "onnx", "onnxruntime", "openvino", "Pillow", "opencv-python-headless",
            "opencv-python", "nncf")
# The CPU flags that decide what runs fast here (/proc/cpuinfo names), in the order they are shown
CPU_FLAGS = ("amx_int8", "amx_bf16", "avx512_fp16", "avx512_bf16", "avx512_vnni", "avx512f", "avx2")
HASH_PREFIX = 8  # as the guide's checkpoint names it: se_resnet50-ce0d4300.pth


def package_versions(names: tuple[str, ...] = PACKAGES) -> Dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out), without importing them."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python 3.7
        try:
            import pkg_resources  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return {}

        found = {}
        for name in names:
            try:
                found[name] = pkg_resources.get_distribution(name).version
            except pkg_resources.DistributionNotFound:
                continue
        return found
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def cpu_flags() -> List[str]:
    """Which of :data:`CPU_FLAGS` this CPU has (Linux), in that order."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [flag for flag in CPU_FLAGS if flag in flags]


def git_commit(repo: Path) -> Optional[str]:
    """The project's commit (``+ local changes`` when the tree differs from it); None outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def hash_prefix(path: Path) -> Optional[str]:
    """The first :data:`HASH_PREFIX` hex digits of the file's SHA-256; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()[:HASH_PREFIX]


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def describe_run(*, argv: List[str], options: Dict[str, Any], repo: Path, toolchain: str, runtime: str,
                 checkpoint: Path, demo_weights: bool, dataset: Dict[str, Any]) -> Dict[str, Any]:
    """The record :func:`write_run_record` writes."""
    gpu = gpu_model() if "cuda" in runtime or "tensorrt" in runtime else None
    return {"date": dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(["bash run_infer.sh"] + [shlex.quote(a) for a in argv]),
            "options": {k: _plain(v) for k, v in options.items()},
            "commit": git_commit(repo), "toolchain": toolchain, "runtime": runtime,
            "python": f"{platform.python_version()} ({sys.executable})", "packages": package_versions(),
            "cpu": cpu_model(), "cores": os.cpu_count(), "cpu_flags": cpu_flags(), "gpu": gpu,
            "system": f"{platform.system()} {platform.machine()}",
            "checkpoint": {"path": str(checkpoint), "sha256_prefix": hash_prefix(checkpoint), "demo": demo_weights},
            "dataset": {k: _plain(v) for k, v in dataset.items()}}


def write_run_record(path: Path, record: Dict[str, Any]) -> None:
    atomic_write_json(path, record)


def read_run_record(path: Path) -> Dict[str, Any]:
    """The record of :func:`write_run_record`; another file is one error naming it."""
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("command"), str) or not isinstance(doc.get("options"), dict):
        raise PipelineError(f"{path}: not the driver's run record (no command and options)")
    return doc

"""Shared fixtures: seeded demo checkpoint, its ONNX export, generated images and their .bin files.

Session-scoped because building them costs seconds; tests must not modify them (copy first).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: object, cwd: Path | None = None, check: bool = True,
               env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a top-level script as a user would (``python3 <script> args``) and capture its output."""
    proc = subprocess.run(
        [sys.executable, str(REPO / script), *map(str, args)],
        cwd=cwd or REPO, capture_output=True, text=True, env=env, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def demo_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded demo checkpoint with the real key layout."""
    from senet_infer.model import DEMO_WEIGHTS_NAME, write_demo_checkpoint

    return write_demo_checkpoint(tmp_path_factory.mktemp("weights") / DEMO_WEIGHTS_NAME, seed=0)


@pytest.fixture(scope="session")
def demo_model(demo_checkpoint: Path):
    """The demo checkpoint loaded into SE-ResNet50 (eval mode). Do not modify."""
    from senet_infer.model import load_checkpoint

    return load_checkpoint(demo_checkpoint)


@pytest.fixture(scope="session")
def dynamic_onnx(demo_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Step 2's dynamic-batch ONNX export of the demo model."""
    from senet_infer.export import export_onnx

    return export_onnx(demo_model, tmp_path_factory.mktemp("onnx") / "se_resnet50_dynamic_bs.onnx")


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve seeded photo-like images of assorted sizes and modes (RGB/L/CMYK JPEG, P/RGBA PNG)."""
    from senet_infer.synthetic import make_image_folder

    folder = tmp_path_factory.mktemp("images")
    make_image_folder(folder, 12, seed=7)
    return folder


@pytest.fixture(scope="session")
def bin_dir(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Step 1's default output (uint8 RGB 256x256 .bin) for ``image_dir``."""
    from senet_infer.fileio import atomic_write_bytes, stem_of
    from senet_infer.preprocess import EvalTransform, preprocess_file

    folder = tmp_path_factory.mktemp("bins")
    for path in sorted(image_dir.iterdir()):
        atomic_write_bytes(folder / f"{stem_of(path)}.bin", preprocess_file(path, EvalTransform()).tobytes())
    return folder

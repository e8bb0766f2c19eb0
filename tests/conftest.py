"""Shared fixtures: seeded demo checkpoint, its ONNX export, generated images and their .bin files.

Session-scoped because building them costs seconds; tests must not modify them (copy first).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# --without-torch (for a Python without torch, e.g. a host that runs steps 3-6 only) leaves out what needs PyTorch or
# torchvision: tests marked ``torch``, tests using these fixtures, and these whole modules.
# Without the option nothing is left out, so a missing torch fails the main run loudly.
TORCH_FIXTURES = {"demo_checkpoint", "demo_model", "int8_model"}  # int8_model: NNCF imports torch
TORCH_MODULES = {"test_model.py", "test_run_infer.py"}  # import torch, or run step 2 through the driver


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--without-torch", action="store_true",
                     help="leave out the tests that need torch/torchvision; dynamic_onnx becomes a stand-in model")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "torch: needs PyTorch or torchvision (left out by --without-torch)")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("--without-torch") and collection_path.name in TORCH_MODULES:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--without-torch"):
        return
    needs_torch = [i for i in items if i.get_closest_marker("torch") or TORCH_FIXTURES & set(i.fixturenames)]
    if needs_torch:
        config.hook.pytest_deselected(items=needs_torch)
        left_out = set(needs_torch)
        items[:] = [i for i in items if i not in left_out]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children before grandchildren."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(0), [])
        found += children
        queue += children
    return found


def run_guarded(command: Sequence[str], *, timeout: float, stdin: str | None = None, **kwargs: object,
                ) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True)`` that, on a timeout, makes every Python
    below it print where each of its threads stands (faulthandler on SIGABRT) before it is killed, and
    fails with the tails of both streams: a hang in CI then says where it hung."""
    env = {**(kwargs.pop("env", None) or os.environ), "PYTHONFAULTHANDLER": "1"}  # type: ignore[arg-type]
    proc = subprocess.Popen(list(command), stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **kwargs)  # type: ignore[call-overload]
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        below = descendants(proc.pid)
        for pid in [*reversed(below), proc.pid]:  # the deepest first, so that its parent still relays its dump
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGABRT)
                time.sleep(0.5)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in [proc.pid, *below]:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            out, err = proc.communicate()
        raise AssertionError(f"timed out after {timeout:.0f} s: {' '.join(map(str, command))}\n"
                             f"--- stdout (tail)\n{out[-6000:]}\n--- stderr (tail, with the hung threads)\n"
                             f"{err[-12000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_script(script: str, *args: object, cwd: Path | None = None, check: bool = True,
               env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a top-level script as a user would (``python3 <script> args``) and capture its output."""
    proc = run_guarded([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd or REPO, env=env,
                       timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def load_script(name: str):
    """Import a top-level step script as a module (to call its ``main(argv)`` in this process)."""
    spec = importlib.util.spec_from_file_location(Path(name).stem, REPO / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def run_in_process(main: Callable[[Sequence[str] | None], int | None], *args: object, prog: str,
                   cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A step script's ``main(argv)`` in this process, as :func:`run_script` runs it: exit status, stdout, stderr.

    For tests whose subject is what the script does, not the process boundary (signals, exit on a
    kill, two runs at once): no interpreter start, no re-import of torch.
    """
    from senet_infer.cli import run_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(pytest.MonkeyPatch.context()).chdir(cwd)
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = run_main(main, [str(a) for a in args], prog=prog)
        except SystemExit as exc:  # argparse's own errors
            code = exc.code if isinstance(exc.code, int) else 1
    proc = subprocess.CompletedProcess([prog, *map(str, args)], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"{prog} exited {code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
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
def dynamic_onnx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Step 2's dynamic-batch ONNX export of the demo model (``--without-torch``: an SE-ResNet-like stand-in)."""
    path = tmp_path_factory.mktemp("onnx") / "se_resnet50_dynamic_bs.onnx"
    if request.config.getoption("--without-torch"):
        from onnx_models import se_like_model

        return se_like_model(path)
    from senet_infer.export import export_onnx

    return export_onnx(request.getfixturevalue("demo_model"), path)


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

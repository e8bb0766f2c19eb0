"""Shared command-line plumbing: one-line errors, exit codes, and the one set of argparse types every script uses."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

from .errors import PipelineError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# import name -> what pip installs it as, for the one line a missing package gets
PIP_NAMES = {"cv2": "opencv-python-headless", "PIL": "pillow", "numpy": "numpy", "onnx": "onnx",
             "onnxruntime": "onnxruntime", "openvino": "openvino", "nncf": "nncf", "torch": "torch",
             "torchvision": "torchvision", "pretrainedmodels": "pretrainedmodels", "tqdm": "tqdm",
             "matplotlib": "matplotlib", "scipy": "scipy"}


def missing_package_line(exc: BaseException) -> str | None:
    """One line for a third-party package that is not installed (which, and how to install it), else None."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not name:
        return None
    root = name.split(".", 1)[0]
    if root not in PIP_NAMES:
        return None
    return (f"the Python package {PIP_NAMES[root]!r} is not installed in {sys.executable} (import {name}); "
            f"install it with: {sys.executable} -m pip install {PIP_NAMES[root]} (or all the project needs: "
            f"-m pip install -r requirements-host.txt)")


def install_missing_package_hook() -> None:
    """Make an uncaught missing-package import (a script's top-level imports included) one line, exit 2."""
    previous = sys.excepthook

    def hook(kind: type, exc: BaseException, tb: object) -> None:
        line = missing_package_line(exc)
        if line is None:
            previous(kind, exc, tb)  # type: ignore[arg-type]
            return
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "senet_infer"
        print(f"{prog}: error: {line}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_USER_ERROR)

    sys.excepthook = hook


def run_main(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None, prog: str | None = None
) -> int:
    """Run a script's ``main`` and turn a :class:`PipelineError` into one line on stderr and exit 2."""
    ignore_file_size_signal()
    if prog is None:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "senet_infer"
    try:
        return int(main(argv) or 0)
    except PipelineError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ModuleNotFoundError as exc:
        line = missing_package_line(exc)
        if line is None:
            raise
        print(f"{prog}: error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def ignore_file_size_signal() -> None:
    """Ignore SIGXFSZ, so a write past ``ulimit -f`` fails with EFBIG (one clear error) instead of killing us.

    An ignored signal stays ignored in child processes, the preprocess workers included.
    """
    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except ValueError:  # not the main thread: leave the disposition to the process's owner
            pass


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def str2bool(text: str) -> bool:
    """argparse type: yes/no words (``1 true t yes y`` / ``0 false f no n``, any case), as ais_bench takes them."""
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y"):
        return True
    if value in ("0", "false", "f", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def device_list(text: str) -> tuple[int, ...]:
    """argparse type: a device id or a list like ``0,1`` (ids in [0, 255], each once)."""
    try:
        ids = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"device must be an id or a list like 0,1, got {text!r}") from None
    if not ids or any(i < 0 or i > 255 for i in ids):
        raise argparse.ArgumentTypeError(f"device ids must be in [0, 255], got {text!r}")
    if len(set(ids)) != len(ids):
        raise argparse.ArgumentTypeError(f"device ids must differ, got {text!r}")
    return ids


def key_value(text: str) -> tuple[str, str]:
    """argparse type for ``KEY=VALUE`` (``--annotate``): the key stripped, the value as given."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def collect_key_values(pairs: Sequence[tuple[str, str]], flag: str = "--annotate",
                       reserved: Sequence[str] = ()) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` pairs as a dict; a key given twice, or a reserved one, is an error."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise PipelineError(f"{flag} {key!r} given twice")
        if key in reserved:
            raise PipelineError(f"{flag} {key!r} would replace the guide's field of that name")
        out[key] = value
    return out


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)

"""Python 3.7 to 3.13 and torch 1.6 and later: the version check, syntax, imports, torch feature detection."""

from __future__ import annotations

import glob
import importlib
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, load_script
from senet_infer.export import exporter_options

STEP_SCRIPTS = ("imagenet_torch_preprocess.py", "SE_ResNet50_pth2onnx.py", "aipp_convert.py", "ais_infer.py",
                "vision_metric_ImageNet.py", "get_weights.py", "prepare_imagenet.py", "classify.py", "make_report.py")
TORCH_SCRIPTS = {"SE_ResNet50_pth2onnx.py", "get_weights.py"}
# every module, those of the subpackages too (``backends.openvino``)
MODULES = sorted(".".join(p.relative_to(REPO / "senet_infer").with_suffix("").parts).replace(".__init__", "")
                 for p in (REPO / "senet_infer").rglob("*.py") if p.name != "__init__.py" or p.parent.name != "senet_infer")
TORCH_MODULES = {"model"}  # imports torch at module level; every other module imports it where it is used


def pyenv_python(version_prefix: str) -> str | None:
    """The newest pyenv-installed interpreter whose version starts with ``version_prefix``, or None."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        roots.insert(0, subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip())
    for root in filter(None, roots):
        found = sorted(glob.glob(os.path.join(root, "versions", version_prefix + "*", "bin", "python")))
        if found:
            return found[-1]
    return None


# --- the version check ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[script, "--help"] for script in STEP_SCRIPTS] + [["-m", "senet_infer.driver.main"]],
                         ids=lambda c: c[-1] if c[0] == "-m" else c[0])
def test_python_36_gets_one_clear_line(command: list[str]) -> None:
    python = pyenv_python("3.6")
    if python is None:
        pytest.skip("no Python 3.6 under pyenv")
    proc = subprocess.run([python, *command], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: senet_infer needs Python 3.7 or later (supported: 3.7 to 3.13); "
                           "this is Python 3.6."), line


def test_python_2_importing_the_package_gets_one_clear_line() -> None:
    python = pyenv_python("2.")
    if python is None:
        pytest.skip("no Python 2 under pyenv")
    proc = subprocess.run([python, "-c", "import senet_infer"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: senet_infer needs Python 3.7 or later") and "this is Python 2." in line, line


# --- this interpreter: syntax of every file, imports, the step scripts' command lines -------------


def test_every_python_file_compiles() -> None:
    files = [p for p in REPO.rglob("*.py") if not any(part.startswith(".") for part in p.relative_to(REPO).parts)]
    assert len(files) > 20
    for path in files:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")  # a SyntaxError names the file and line


@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.torch) if m in TORCH_MODULES else m
                                  for m in MODULES])
def test_every_module_imports(name: str) -> None:
    importlib.import_module(f"senet_infer.{name}")


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.torch) if s in TORCH_SCRIPTS else s
                                    for s in STEP_SCRIPTS])
def test_step_script_help(script: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_script(script)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


# --- step 2 on older torch: feature detection from the signature ---------------------------------


def _export_torch_1_6(model, args, f, export_params=True, verbose=False, training=False, input_names=None,
                      output_names=None, aten=False, export_raw_ir=False, operator_export_type=None,
                      opset_version=None, _retain_param_name=True, do_constant_folding=True, example_outputs=None,
                      strip_doc_string=True, dynamic_axes=None, keep_initializers_as_inputs=None,
                      custom_opsets=None, enable_onnx_checker=True, use_external_data_format=False):
    """``torch.onnx.export``'s signature in torch 1.6 (no ``dynamo``)."""


def _export_torch_2_9(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=None, input_names=None,
                      output_names=None, opset_version=None, dynamic_axes=None, keep_initializers_as_inputs=False,
                      dynamo=True, external_data=True, dynamic_shapes=None, **deprecated_kwargs):
    """A recent ``torch.onnx.export``: ``dynamo`` keyword-only, the dynamo exporter by default."""


def _load_torch_1_6(f, map_location=None, pickle_module=pickle, **pickle_load_args):
    """``torch.load``'s signature in torch 1.6: extra keywords go to the unpickler, which refuses ``weights_only``."""


def _load_torch_2_6(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """A recent ``torch.load``."""


def _no_signature() -> None:
    """Stands for a callable whose signature cannot be read."""


_no_signature.__signature__ = "unreadable"  # type: ignore[attr-defined]


def test_exporter_options_follow_the_signature() -> None:
    assert exporter_options(_export_torch_1_6) == {}
    assert exporter_options(_export_torch_2_9) == {"dynamo": False}
    assert exporter_options(_no_signature) == {}


@pytest.mark.torch
def test_loader_options_follow_the_signature() -> None:
    from senet_infer.model import loader_options

    assert loader_options(_load_torch_1_6) == {}
    assert loader_options(_load_torch_2_6) == {"weights_only": True}
    assert loader_options(_no_signature) == {}


@pytest.mark.torch
def test_export_with_a_torch_1_6_exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """export_onnx passes torch 1.6's exporter only arguments it has; the model written is the same contract."""
    import onnx
    import torch
    from torch import nn

    from senet_infer.export import INPUT_NAME, OUTPUT_NAME, export_onnx

    real_export = torch.onnx.export
    calls: list[dict[str, object]] = []

    def old_export(model, args, f, input_names=None, output_names=None, opset_version=None,
                   do_constant_folding=True, dynamic_axes=None):
        calls.append(dict(input_names=input_names, output_names=output_names, opset_version=opset_version,
                          dynamic_axes=dynamic_axes))
        real_export(model, args, f, input_names=input_names, output_names=output_names, opset_version=opset_version,
                    do_constant_folding=do_constant_folding, dynamic_axes=dynamic_axes, **exporter_options(real_export))

    monkeypatch.setattr(torch.onnx, "export", old_export)
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    path = export_onnx(tiny, tmp_path / "tiny.onnx")
    assert calls == [dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=11,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})]
    model = onnx.load(str(path))
    assert [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")] == [11]
    assert [i.name for i in model.graph.input] == [INPUT_NAME]


@pytest.mark.torch
def test_checkpoints_load_with_a_torch_1_6_loader(demo_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_checkpoint and is_demo_checkpoint pass torch 1.6's torch.load no ``weights_only``."""
    import torch

    from senet_infer.model import is_demo_checkpoint, load_checkpoint, loader_options

    real_load = torch.load
    calls: list[dict[str, object]] = []

    def old_load(f, map_location=None, pickle_module=pickle, **pickle_load_args):
        calls.append(dict(pickle_load_args))
        if pickle_load_args:
            raise TypeError(f"load() got an unexpected keyword argument {next(iter(pickle_load_args))!r}")
        return real_load(f, map_location=map_location, **loader_options(real_load))

    monkeypatch.setattr(torch, "load", old_load)
    assert is_demo_checkpoint(demo_checkpoint)
    assert load_checkpoint(demo_checkpoint).training is False
    assert calls == [{}, {}]


# --- the floors of requirements-host.txt: each one is installed exactly by a CI stack -----------------


def _requirement_lines(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines() if line.split("#", 1)[0].strip()]


def test_every_floor_of_the_host_file_is_a_pin_of_a_tested_stack() -> None:
    """A floor nobody installs is a guess: each ``name>=X`` of requirements-host.txt is ``name==X`` in one of
    tests/stacks/*.txt, which tests/run_stack.sh installs before the host file and then runs the suite on."""
    import re

    stacks = {p.stem: _requirement_lines(p) for p in sorted((REPO / "tests" / "stacks").glob("*.txt"))}
    assert set(stacks) == {"guide", "modelzoo"}
    pins = {}
    for stack, lines in stacks.items():
        for line in lines:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)", line)
            assert match, f"tests/stacks/{stack}.txt: {line!r} is not name==version"
            pins.setdefault(match.group(1).lower(), set()).add(match.group(2))
    floors = []
    for line in _requirement_lines(REPO / "requirements-host.txt"):
        match = re.match(r"([A-Za-z0-9_.-]+)>=([0-9][0-9A-Za-z.]*)", line)
        assert match, f"requirements-host.txt: {line!r} has no floor (name>=version)"
        floors.append((match.group(1).lower(), match.group(2)))
    untested = [f"{name}>={version}" for name, version in floors if version not in pins.get(name, set())]
    assert untested == [], f"floors no stack installs: {untested}"
    assert ("torch", "1.6.0") in floors and pins["torch"] >= {"1.6.0", "1.8.0"}  # the guide's and the ModelZoo's
    assert "opencv-python" in pins and not any(name.startswith("opencv") for name, _ in floors)


# --- a package that is not installed: one line naming it and how to install it ------------------------


@pytest.mark.parametrize("script, argv, missing", [
    ("SE_ResNet50_pth2onnx.py", ["a.pth", "b.onnx"], "torch"),  # imported at the script's top level
    ("ais_infer.py", ["--model", "m.onnx", "--loop", "1", "--backend", "openvino"], "openvino"),
    ("vision_metric_ImageNet.py", ["result", "labels.txt", "./", "out.json"], "numpy"),
])
def test_a_missing_package_is_one_line_naming_it(tmp_path: Path, script: str, argv: list[str], missing: str) -> None:
    (tmp_path / "m.onnx").write_bytes(b"")
    code = ("import runpy, sys; sys.path.insert(0, {r!r}); sys.modules[{m!r}] = None; sys.argv = [{s!r}] + {a!r}; "
            "runpy.run_path({p!r}, run_name='__main__')").format(r=str(REPO), m=missing, s=script, a=argv, p=str(REPO / script))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{script}: error: ") and f"package {missing!r}" in line and "is not installed" in line, line
    assert f"-m pip install {missing}" in line and "Traceback" not in proc.stderr

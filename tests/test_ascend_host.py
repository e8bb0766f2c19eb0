"""What the driver asks of an Ascend host: the chip from npu-smi, which Python runs ais_bench, CANN not sourced."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from senet_infer.driver.ascend_host import ais_bench_python, parse_npu_smi, unsourced_cann_notes
from senet_infer.errors import PipelineError

NPU_SMI = """\
+-------------------+-----------------+------------------------------------------------------+
| NPU     Name      | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device    | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===================+=================+======================================================+
| 0       {name}     | OK              | 15.8         42                0    / 0              |
| 0       0         | 0000:82:00.0    | 0            1074 / 21534                            |
+===================+=================+======================================================+
"""


@pytest.mark.parametrize("name, soc", [("310P3", "Ascend310P3"), ("Ascend910B3", "Ascend910B3"),
                                       ("ascend310", "ascend310")])
def test_chip_name_is_prefixed_only_when_needed(name: str, soc: str) -> None:
    assert parse_npu_smi(NPU_SMI.format(name=name)) == soc


def test_no_chip_in_npu_smi_output() -> None:
    assert parse_npu_smi("command not supported\n") is None


def fake_host_python(folder: Path, pkgs: Path | None) -> Path:
    """A ``python3`` for the PATH: this interpreter, seeing ``pkgs`` (the toolkit's packages) when given."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python3"
    extra = f'export PYTHONPATH="{pkgs}"\n' if pkgs else "unset PYTHONPATH\n"
    path.write_text(f"#!/usr/bin/env bash\n{extra}exec {sys.executable} \"$@\"\n")
    path.chmod(0o755)
    return path


def test_ais_bench_runs_with_the_hosts_python3_when_python_lacks_it(tmp_path: Path, monkeypatch, capsys) -> None:
    pkgs = tmp_path / "pkgs"
    (pkgs / "ais_bench").mkdir(parents=True)
    (pkgs / "ais_bench" / "__init__.py").write_text("")
    host = fake_host_python(tmp_path / "bin", pkgs)
    monkeypatch.setenv("PATH", f"{host.parent}{os.pathsep}{os.environ['PATH']}")
    assert ais_bench_python(sys.executable, tmp_path) == str(host)
    assert f"python3 from the PATH ({host})" in capsys.readouterr().out

    monkeypatch.setenv("PYTHONPATH", str(pkgs))  # now the project's Python has it too: it is preferred
    assert ais_bench_python(sys.executable, tmp_path) == sys.executable


def test_neither_python_has_ais_bench(tmp_path: Path, monkeypatch) -> None:
    host = fake_host_python(tmp_path / "bin", None)
    monkeypatch.setenv("PATH", f"{host.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PipelineError) as info:
        ais_bench_python(sys.executable, tmp_path)
    message = str(info.value)
    assert f"$PYTHON ({sys.executable})" in message and f"python3 on the PATH ({host})" in message


def test_an_unsourced_cann_toolkit_is_mentioned(tmp_path: Path, monkeypatch) -> None:
    assert unsourced_cann_notes(False, candidates=[str(tmp_path / "none.sh")]) == []
    monkeypatch.setenv("HOME", str(tmp_path))
    set_env = tmp_path / "Ascend" / "ascend-toolkit" / "set_env.sh"
    set_env.parent.mkdir(parents=True)
    set_env.write_text("export PATH=...\n")
    (line,) = unsourced_cann_notes(False, candidates=["/nonexistent/set_env.sh", "~/Ascend/ascend-toolkit/set_env.sh"])
    assert str(set_env) in line and "not sourced" in line and f"source {set_env}" in line
    assert unsourced_cann_notes(True, candidates=[str(set_env)]) == []  # atc found: nothing to say

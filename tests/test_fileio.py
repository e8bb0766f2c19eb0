"""Shared file conventions: atomic writes, natural order, stems, ais_bench result formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from senet_infer.errors import PipelineError, cannot_list, first_line
from senet_infer.fileio import (
    atomic_path,
    atomic_write_bytes,
    format_txt,
    is_within,
    natural_key,
    parse_result_name,
    read_result,
    result_file_name,
    stem_clash,
    stem_of,
    write_result,
)


def test_an_output_inside_its_input_and_a_stem_clash_are_told_once(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert is_within(inner, tmp_path / "a") and is_within(tmp_path / "a", tmp_path / "a" / ".")
    assert not is_within(tmp_path / "ab", tmp_path / "a") and not is_within(tmp_path / "a", inner)
    (tmp_path / "link").symlink_to(inner)
    assert is_within(tmp_path / "link" / "c", tmp_path / "a")  # links resolved
    assert stem_clash(["x.JPEG", "y.png", "x.png", "y.jpg"], str) == ("x.JPEG", "x.png")
    assert stem_clash(["a.b.JPEG", "a.JPEG"], str) is None


def test_one_wording_for_a_librarys_error_and_an_unlistable_folder() -> None:
    assert first_line(ValueError("\n  bad header\nat offset 3")) == "bad header"
    assert first_line(KeyError()) == "KeyError"
    error = cannot_list(Path("/data"), PermissionError(13, "Permission denied"))
    assert str(error) == "/data: cannot list folder: Permission denied"


def test_natural_order_and_stems() -> None:
    names = ["img10.bin", "img2.bin", "IMG1.bin"]
    assert sorted(names, key=natural_key) == ["IMG1.bin", "img2.bin", "img10.bin"]
    assert stem_of("a/ILSVRC2012_val_00000001.JPEG") == "ILSVRC2012_val_00000001"
    assert stem_of("x.tar.gz") == "x.tar"
    assert stem_of("noext") == "noext"
    assert result_file_name("x.tar", 0, "TXT") == "x.tar_0.txt"
    assert parse_result_name("ILSVRC2012_val_00000001_0.txt") == ("ILSVRC2012_val_00000001", 0, "txt")
    assert parse_result_name("result_summary.json") is None


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    atomic_write_bytes(target, b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"] and target.read_bytes() == b"whole"


@pytest.mark.parametrize("fmt", ["BIN", "NPY", "TXT"])
def test_result_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    logits = np.random.default_rng(0).normal(size=(1, 1000)).astype(np.float32)
    path = tmp_path / result_file_name("img", 0, fmt)
    write_result(path, logits, fmt)
    back = read_result(path)
    tolerance = 1e-6 if fmt == "TXT" else 0  # %f keeps six decimals
    assert back.shape == (1000,) and np.allclose(back, logits.ravel(), atol=tolerance, rtol=0)


def test_txt_layout_is_ais_bench() -> None:
    assert format_txt(np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)) == "1.500000 -2.000000 \n0.250000 3.000000 \n"


def test_bad_result_files(tmp_path: Path) -> None:
    odd = tmp_path / "a_0.bin"
    odd.write_bytes(b"\0" * 10)
    with pytest.raises(PipelineError, match="a_0.bin"):
        read_result(odd)
    text = tmp_path / "b_0.txt"
    text.write_text("1.0 nan? x\n")
    with pytest.raises(PipelineError, match="b_0.txt: cannot read result"):
        read_result(text)


def test_atomic_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    import os

    target = tmp_path / "out.json"
    atomic_write_bytes(target, b"{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_failures_become_one_line_naming_the_final_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from senet_infer.fileio import WriteError

    target = tmp_path / "out.bin"

    def no_space(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(target, b"data")
    assert str(info.value) == f"{target}: cannot write: No space left on device"
    assert isinstance(info.value, PipelineError) and isinstance(info.value, OSError)
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # neither the final name nor the temporary file


def test_write_into_a_file_posing_as_folder_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(PipelineError, match="not_a_dir/out.json: cannot write"):
        atomic_write_bytes(blocker / "out.json", b"{}")


def test_remove_stale_temps_counts_only_atomic_temporaries(tmp_path: Path) -> None:
    from senet_infer.fileio import remove_stale_temps

    for name in (".a.bin.x7k2_q.tmp", ".b c ü.txt.abc123.tmp", ".preprocess.json", "a.bin", ".hidden", "x.tmp"):
        (tmp_path / name).write_bytes(b"")
    assert remove_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", ".preprocess.json", "a.bin", "x.tmp"]
    assert remove_stale_temps(tmp_path / "missing") == 0

"""Step 1: imagenet_torch_preprocess.py and the folder processing behind it.

The reference for every pixel is torchvision applied to ``Image.open(p).convert('RGB')``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from preprocess_images import needs_cv2, original_squash, torchvision_fp32, torchvision_uint8, write_kind

from conftest import REPO, load_script, run_in_process
from senet_infer.cli import run_main
from senet_infer.errors import PipelineError
from senet_infer.preprocess import MANIFEST_NAME, EvalTransform, list_images, preprocess_folder
from senet_infer.synthetic import make_image_folder

SCRIPT = "imagenet_torch_preprocess.py"
UINT8_BYTES = 256 * 256 * 3
FP32_BYTES = 3 * 224 * 224 * 4

MAIN = load_script(SCRIPT).main


def run_inprocess(capsys: pytest.CaptureFixture[str], *args: object) -> SimpleNamespace:
    """The script's command line in this process: exit status, stdout, stderr as a subprocess's."""
    argv = [str(a) for a in args]
    if "--workers" not in argv:
        argv += ["--workers", "1"]  # no process pool unless the test is about it
    capsys.readouterr()
    try:
        code = run_main(MAIN, argv, prog=SCRIPT)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


# Silences PIL's advice to convert palette+transparency images to RGBA in the torchvision reference.
pytestmark = pytest.mark.filterwarnings("ignore:Palette images with Transparency:UserWarning")


def tree_digest(folder: Path) -> dict[str, str]:
    """Every entry (hidden ones included) of ``folder`` with the SHA-256 of its content."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
            for p in sorted(folder.iterdir())}


def copy_images(src: Path, dst: Path, count: int) -> Path:
    """A private, writable copy of the first ``count`` images of a shared fixture folder."""
    dst.mkdir()
    for path in sorted(src.iterdir())[:count]:
        shutil.copy2(path, dst / path.name)
    return dst


# --- the script on a generated folder -----------------------------------------------------------

@pytest.fixture(scope="module")
def cli_run(image_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The script's default run (2 workers) over the 12 assorted fixture images."""
    before = tree_digest(image_dir)
    dst = tmp_path_factory.mktemp("pre") / "ImageNet_bin"
    proc = run_in_process(MAIN, image_dir, dst, "--workers", "2", prog=SCRIPT)
    return dst, proc, before


@pytest.mark.slow
@pytest.mark.torch
def test_cli_writes_one_torchvision_identical_bin_per_image(cli_run, image_dir: Path) -> None:
    dst, proc, _ = cli_run
    images = sorted(image_dir.iterdir())
    assert sorted(p.name for p in dst.glob("*.bin")) == sorted(f"{p.name.rsplit('.', 1)[0]}.bin" for p in images)
    for image in images:
        out = dst / f"{image.name.rsplit('.', 1)[0]}.bin"
        assert out.stat().st_size == UINT8_BYTES
        assert out.read_bytes() == torchvision_uint8(image), image.name
    assert "written 12, skipped 0 (up to date), failed 0" in proc.stdout
    assert "uint8 RGB HWC 256x256x3" in proc.stdout  # the summary names the transform
    assert "preprocess" in proc.stderr  # the progress bar goes to stderr, not into the summary


@pytest.mark.slow
def test_cli_leaves_source_folder_untouched(cli_run, image_dir: Path) -> None:
    _, _, before = cli_run
    assert tree_digest(image_dir) == before


@pytest.mark.slow
def test_one_and_two_workers_give_identical_bytes(cli_run, image_dir: Path, tmp_path: Path) -> None:
    dst2, _, _ = cli_run
    dst1 = tmp_path / "one"
    run_in_process(MAIN, image_dir, dst1, "--workers", "1", "--quiet", prog=SCRIPT)
    assert tree_digest(dst1) == tree_digest(dst2)


@pytest.mark.torch
def test_fp32_format_matches_torchvision_eval_transform(image_dir: Path, tmp_path: Path, capsys) -> None:
    src = copy_images(image_dir, tmp_path / "src", 6)  # one of each kind
    dst = tmp_path / "fp32"
    proc = run_inprocess(capsys, src, dst, "--format", "fp32", "--quiet")
    assert "written 6," in proc.stdout and "float32 NCHW 3x224x224" in proc.stdout
    for image in sorted(src.iterdir()):
        out = dst / f"{image.name.rsplit('.', 1)[0]}.bin"
        assert out.stat().st_size == FP32_BYTES
        got = np.fromfile(out, dtype=np.float32).reshape(3, 224, 224)
        np.testing.assert_allclose(got, torchvision_fp32(image), rtol=0, atol=1e-6, err_msg=image.name)


@needs_cv2
def test_squash_cli_writes_the_original_bytes_under_this_projects_names(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_kind(src / "a.v2.JPEG", "cmyk", (300, 200), seed=1)
    write_kind(src / "b.png", "rgba", (120, 250), seed=2)
    proc = run_inprocess(capsys, src, tmp_path / "dst", "--resize", "squash", "--quiet", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "OpenCV imread + INTER_CUBIC" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == [MANIFEST_NAME, "a.v2.bin", "b.bin"]
    for name, image in (("a.v2.bin", "a.v2.JPEG"), ("b.bin", "b.png")):
        assert (tmp_path / "dst" / name).read_bytes() == original_squash(src / image)


def test_squash_without_opencv_is_one_line_naming_the_package(tmp_path: Path, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 2, seed=5, assorted=False, size=(120, 90))
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError, as without the package
    proc = run_inprocess(capsys, src, tmp_path / "dst", "--quiet", "--resize", "squash", "--workers", "1")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "OpenCV, which is not installed" in proc.stderr and "pip install opencv-python-headless" in proc.stderr
    assert not (tmp_path / "dst").exists()  # refused before anything was written


def test_extensions_in_any_case_and_non_images_skipped_with_warning(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = ["a.JPG", "b.Png", "c.jpeg", "D.JpEg", "e.JPEG", "f.v2.jpg"]
    for i, name in enumerate(names):
        kind = "palette" if name.lower().endswith(".png") else "rgb"
        write_kind(src / name, kind, (90 + i, 70), seed=i)
    (src / "notes.txt").write_text("not an image\n")
    (src / "README").write_text("no extension\n")
    proc = run_inprocess(capsys, src, tmp_path / "dst", "--quiet")
    assert sorted(p.name for p in (tmp_path / "dst").glob("*.bin")) == [
        "D.bin", "a.bin", "b.bin", "c.bin", "e.bin", "f.v2.bin"]
    for name in ("notes.txt", "README"):
        assert any("warning" in line and name in line for line in proc.stderr.splitlines()), proc.stderr
    assert "written 6, skipped 0 (up to date), failed 0" in proc.stdout


def test_corrupt_images_are_named_and_fail_the_run(image_dir: Path, tmp_path: Path, capsys) -> None:
    src = copy_images(image_dir, tmp_path / "src", 4)
    (src / "broken.JPEG").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    whole = write_kind(tmp_path / "whole.jpg", "rgb", (400, 300), seed=9).read_bytes()
    (src / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    dst = tmp_path / "dst"
    proc = run_inprocess(capsys, src, dst, "--workers", "2", "--quiet")
    assert proc.returncode == 1
    failed_lines = [line for line in proc.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed_lines) == 2
    assert any("broken.JPEG" in line for line in failed_lines)
    assert any("truncated.jpg" in line for line in failed_lines)
    assert "Traceback" not in proc.stderr
    assert "written 4, skipped 0 (up to date), failed 2" in proc.stdout
    good = sorted(p for p in src.iterdir() if p.name not in ("broken.JPEG", "truncated.jpg"))
    assert sorted(p.name for p in dst.glob("*.bin")) == sorted(f"{p.name.rsplit('.', 1)[0]}.bin" for p in good)


def test_rerun_skips_up_to_date_outputs_and_redoes_wrong_sizes(image_dir: Path, tmp_path: Path, capsys) -> None:
    src = copy_images(image_dir, tmp_path / "src", 4)
    dst = tmp_path / "dst"
    run_inprocess(capsys, src, dst, "--quiet")
    first = tree_digest(dst)
    old = 1_000_000_000_000_000_000  # a fixed mtime (ns) no run could produce by chance
    for out in dst.glob("*.bin"):
        os.utime(out, ns=(old, old))

    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert "written 0, skipped 4 (up to date), failed 0" in proc.stdout
    assert all(out.stat().st_mtime_ns == old for out in dst.glob("*.bin"))

    damaged = sorted(dst.glob("*.bin"))[1]
    damaged.write_bytes(b"\0" * 100)  # e.g. left by another tool: wrong size, must be redone
    os.utime(damaged, ns=(old, old))
    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert "written 1, skipped 3 (up to date), failed 0" in proc.stdout
    assert tree_digest(dst) == first
    assert [out.name for out in dst.glob("*.bin") if out.stat().st_mtime_ns != old] == [damaged.name]

    proc = run_inprocess(capsys, src, dst, "--quiet", "--force")
    assert "written 4, skipped 0 (up to date), failed 0" in proc.stdout
    assert all(out.stat().st_mtime_ns != old for out in dst.glob("*.bin"))
    assert tree_digest(dst) == first


@pytest.mark.parametrize("where", ["same", "inside"])
def test_output_inside_source_is_refused(image_dir: Path, tmp_path: Path, where: str, capsys) -> None:
    src = copy_images(image_dir, tmp_path / "src", 2)
    before = tree_digest(src)
    dst = src if where == "same" else src / "bins"
    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert proc.returncode == 2
    assert "inside the input folder" in proc.stderr and str(src) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tree_digest(src) == before


def test_stem_collision_is_refused_naming_both(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_kind(src / "a.jpg", "rgb", (80, 60), seed=1)
    write_kind(src / "a.png", "palette", (80, 60), seed=2)
    proc = run_inprocess(capsys, src, tmp_path / "dst", "--quiet")
    assert proc.returncode == 2
    assert "a.jpg" in proc.stderr and "a.png" in proc.stderr and "a.bin" in proc.stderr
    assert not (tmp_path / "dst").exists()


def test_missing_or_imageless_source_is_a_clear_error(tmp_path: Path, capsys) -> None:
    proc = run_inprocess(capsys, tmp_path / "nope", tmp_path / "dst")
    assert proc.returncode == 2 and "nope: no such directory" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "labels.txt").write_text("x 1\n")
    proc = run_inprocess(capsys, empty, tmp_path / "dst")
    assert proc.returncode == 2 and "no images" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the API the pipeline driver calls -----------------------------------------------------------

def test_list_images_natural_order_and_skipped(tmp_path: Path) -> None:
    for name in ("img10.jpg", "img2.JPEG", "img1.png", ".img3.jpg.tmp", "x.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    images, skipped = list_images(tmp_path)
    assert [p.name for p in images] == ["img1.png", "img2.JPEG", "img10.jpg"]
    assert [p.name for p in skipped] == ["sub", "x.txt"]
    with pytest.raises(PipelineError, match="not a directory"):
        list_images(tmp_path / "x.txt")


def test_preprocess_folder_report(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 3, seed=5, assorted=False, size=(120, 90))
    (src / "ILSVRC2012_val_00000002.JPEG").write_bytes(b"not a jpeg")
    lines: list[str] = []
    report = preprocess_folder(src, tmp_path / "dst", EvalTransform(), workers=1, progress=False, log=lines.append)
    assert (report.images, report.written, report.skipped, report.failed) == (3, 2, 0, 1)
    assert not report.ok
    assert report.failures[0][0].name == "ILSVRC2012_val_00000002.JPEG"
    assert lines == [f"failed: {report.failures[0][1]}"] and "ILSVRC2012_val_00000002.JPEG" in lines[0]
    record = report.as_dict()
    assert record["failed"] == 1 and record["output_bytes"] == UINT8_BYTES and record["resize"] == "shorter"
    assert isinstance(record["elapsed_s"], float)


# --- reruns: the manifest says how the folder was made -------------------------------------------

@needs_cv2
def test_rerun_with_another_transform_or_source_is_refused_until_force(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 3, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    assert run_inprocess(capsys, src, dst, "--quiet").returncode == 0
    default_bytes = tree_digest(dst)
    proc = run_inprocess(capsys, src, dst, "--quiet", "--resize", "squash")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "--resize shorter" in proc.stderr and "--resize squash" in proc.stderr and "--force" in proc.stderr
    assert tree_digest(dst) == default_bytes  # refused before anything was written
    proc = run_inprocess(capsys, src, dst, "--quiet", "--resize", "squash", "--force")
    assert proc.returncode == 0 and "written 3, skipped 0" in proc.stdout
    assert run_inprocess(capsys, src, dst, "--quiet", "--resize", "squash").stdout.count("skipped 3") == 1

    other = tmp_path / "other"
    make_image_folder(other, 3, seed=6, assorted=False, size=(120, 90))  # same names, other pixels
    proc = run_inprocess(capsys, other, dst, "--quiet", "--resize", "squash")
    assert proc.returncode == 2 and str(src) in proc.stderr and str(other) in proc.stderr


@pytest.mark.torch
def test_changed_image_is_redone_and_removed_image_loses_its_output(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 3, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    run_inprocess(capsys, src, dst, "--quiet")
    images = sorted(src.iterdir())
    write_kind(images[0], "rgb", (130, 95), seed=42)  # same name, new content: not trusted by its size
    images[2].unlink()
    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert proc.returncode == 0 and "written 1, skipped 1 (up to date)" in proc.stdout
    assert "removed 1 .bin" in proc.stderr
    assert sorted(p.name for p in dst.glob("*.bin")) == sorted(f"{p.stem}.bin" for p in images[:2])
    assert (dst / f"{images[0].stem}.bin").read_bytes() == torchvision_uint8(images[0])


@pytest.mark.torch
def test_foreign_bin_files_are_refused_and_outputs_without_record_redone(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 2, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    dst.mkdir()
    stale = dst / f"{sorted(src.iterdir())[0].stem}.bin"
    stale.write_bytes(b"\1" * UINT8_BYTES)  # right size, wrong bytes, no manifest: must not be trusted
    (dst / "someone_else.bin").write_bytes(b"\0" * UINT8_BYTES)
    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert proc.returncode == 2 and "someone_else.bin" in proc.stderr and "--force" in proc.stderr
    proc = run_inprocess(capsys, src, dst, "--quiet", "--force")
    assert proc.returncode == 0 and "written 2" in proc.stdout
    assert not (dst / "someone_else.bin").exists()
    assert stale.read_bytes() == torchvision_uint8(sorted(src.iterdir())[0])


def test_leftover_temp_files_of_a_killed_run_are_removed(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 2, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / ".ILSVRC2012_val_00000001.bin.k2j4x9.tmp").write_bytes(b"half")
    proc = run_inprocess(capsys, src, dst, "--quiet")
    assert proc.returncode == 0 and "removed 1 temporary file" in proc.stderr
    assert sorted(p.name for p in dst.iterdir() if p.name.startswith(".")) == [MANIFEST_NAME]


# --- awkward names and places ------------------------------------------------------------------

@pytest.mark.torch
def test_spaces_non_ascii_leading_dashes_and_symlinks(tmp_path: Path, capsys) -> None:
    real = tmp_path / "real images ü"
    real.mkdir()
    names = ["a b.JPEG", "ünïcödé.jpg", "-dash.png", "--x.JPEG"]
    for i, name in enumerate(names):
        write_kind(real / name, "palette" if name.endswith(".png") else "rgb", (100 + i, 80), seed=i)
    outside = write_kind(tmp_path / "outside.JPEG", "rgb", (90, 120), seed=9)
    (real / "linked file.JPEG").symlink_to(outside)
    linked_dir = tmp_path / "-linked dir"
    linked_dir.symlink_to(real, target_is_directory=True)
    dst = tmp_path / "bins ö" / "-out"
    proc = run_inprocess(capsys, linked_dir, dst, "--quiet")
    assert proc.returncode == 0, proc.stderr
    expected = {f"{n.rsplit('.', 1)[0]}.bin": real / n for n in names + ["linked file.JPEG"]}
    assert sorted(p.name for p in dst.glob("*.bin")) == sorted(expected)
    for out, image in expected.items():
        assert (dst / out).read_bytes() == torchvision_uint8(image), out
    assert "skipped 5" in run_inprocess(capsys, real, dst, "--quiet").stdout  # the same folder, by its real path


# --- write failures (the process boundary is what is tested) -------------------------------------

def _script_in_shell(shell_prefix: str, *args: object) -> subprocess.CompletedProcess[str]:
    import shlex

    command = " ".join([shell_prefix, shlex.quote(sys.executable), shlex.quote(str(REPO / SCRIPT)),
                        *(shlex.quote(str(a)) for a in args)])
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.slow
def test_file_size_limit_stops_with_one_line_and_no_partial_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 3, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    proc = _script_in_shell("ulimit -f 64;", src, dst, "--quiet", "--workers", "1")  # 64 KiB < 192 KiB per .bin
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(dst) in lines[0] and ".bin: cannot write: File too large" in lines[0]
    assert list(dst.glob("*.bin")) == [] and not [p for p in dst.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_read_only_output_folder_stops_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_image_folder(src, 2, seed=5, assorted=False, size=(120, 90))
    dst = tmp_path / "dst"
    dst.mkdir()
    # A read-only bind mount in a private mount namespace (root's permission bits would not stop a write).
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace here (unshare -rm)")
    import shlex

    q = shlex.quote(str(dst))
    proc = _script_in_shell(f"exec unshare -rm bash -c 'mount --bind {q} {q} && mount -o remount,bind,ro {q} && exec \"$0\" \"$@\"'",
                            src, dst, "--quiet", "--workers", "1")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(dst) in lines[0] and "Read-only file system" in lines[0]
    assert list(dst.iterdir()) == []

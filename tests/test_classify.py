"""classify.py: a few images through step 1 and the converted model, each with its top-k classes named and scored."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from conftest import REPO, load_script, run_in_process
from onnx_models import se_like_model
from senet_infer import imagenet
from senet_infer.aipp import AippOp, apply_aipp, parse_aipp_config
from senet_infer.convert import convert_model
from senet_infer.metric import read_predictions
from senet_infer.preprocess import EvalTransform, preprocess_file
from standins import ARGV_VALUE

SCRIPT = "classify.py"
MAIN = load_script(SCRIPT).main
GUIDE_CONFIG = REPO / "aipp_SE_ResNet50_pth.config"


def classify(*args: object, cwd: Path | None = None, check: bool = True):
    return run_in_process(MAIN, *args, prog=SCRIPT, cwd=cwd, check=check)


def convert(source: Path, output: Path, batch: int, *extra: str) -> Path:
    """Step 3 as the guide runs it (aipp_convert.py with ATC's flags) at ``batch``: ``<output>.onnx``."""
    aipp_convert = load_script("aipp_convert.py")
    run_in_process(aipp_convert.main, f"--model={source}", "--framework=5", "--input_format=NCHW",
                   f"--input_shape=image:{batch},3,224,224", f"--output={output}", "--log=error",
                   "--soc_version=Ascend310P3", f"--insert_op_conf={GUIDE_CONFIG}", "--enable_small_channel=1", *extra,
                   prog="aipp_convert.py")
    return output.with_suffix(".onnx")


def printed(stdout: str) -> dict[str, list[tuple[int, float, int, str]]]:
    """classify.py's report: image -> [(rank, probability, class, class name), ...]."""
    blocks = stdout.split("\n\n")[1:]  # the header first, then one block per image
    found = {}
    for block in blocks:
        image, *rows = block.strip().splitlines()
        found[image] = [(int(r.split()[0]), float(r.split()[1]), int(r.split()[2]), r.split(None, 3)[3]) for r in rows]
    return found


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2 and proc.stdout == "", proc
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{SCRIPT}: error: "), line
    for needle in needles:
        assert needle in line, line


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An SE-ResNet-like 1000-class model (no torch): its dynamic ONNX and its conversion at batch 4."""
    folder = tmp_path_factory.mktemp("small")
    dynamic = se_like_model(folder / "dynamic.onnx")
    return dynamic, convert(dynamic, folder / "se_resnet50_fp32_bs4", 4, "--skip-check")


@pytest.fixture(scope="module")
def images(image_dir: Path) -> list[Path]:
    """Five of the session's images (RGB, grayscale and CMYK JPEGs, palette and RGBA PNGs)."""
    return sorted(image_dir.iterdir())[:5]


# --- what it prints ------------------------------------------------------------------------------


@pytest.mark.parametrize("resize", ["shorter", "squash"])
def test_top_classes_are_the_dynamic_models_on_step_1s_bytes(small, images: list[Path], resize: str) -> None:
    """Five images at batch 4 (one padded batch): each image's top-3 classes and probabilities are those of the
    dynamic model fed the numpy AIPP of step 1's bytes for that image alone."""
    if resize == "squash":
        pytest.importorskip("cv2")
    dynamic, converted = small
    proc = classify(*images, "--model", converted, "--topk", "3", "--resize", resize, "--backend", "onnxruntime")

    header = proc.stdout.split("\n\n")[0].splitlines()
    assert header[0].startswith(f"model: {converted} on onnxruntime ")
    assert header[0].endswith("(CPU, fp32), static batch 4: 5 images in 2 batches, 3 padded slots")
    assert header[1] == "step 1: " + EvalTransform(resize=resize).describe()
    assert header[2] == "per image: rank, probability (softmax over the model's 1000 class scores), class, class name"

    (op,) = parse_aipp_config(GUIDE_CONFIG)
    session = ort.InferenceSession(str(dynamic), providers=["CPUExecutionProvider"])
    shown = printed(proc.stdout)
    assert list(shown) == [str(p) for p in images]
    for path in images:
        (logits,) = session.run(None, {"image": apply_aipp(preprocess_file(path, EvalTransform(resize=resize))[None], op)})
        probabilities = np.exp(logits[0] - logits[0].max())
        probabilities /= probabilities.sum()
        best = np.argsort(-logits[0], kind="stable")[:3]
        assert [row[2] for row in shown[str(path)]] == best.tolist()
        assert [row[0] for row in shown[str(path)]] == [1, 2, 3]
        np.testing.assert_allclose([row[1] for row in shown[str(path)]], probabilities[best], atol=6e-5)
        assert [row[3] for row in shown[str(path)]] == [imagenet.synsets().name(int(c)) for c in best]


def test_order_and_padding_change_no_image_s_answer(small, images: list[Path]) -> None:
    _, converted = small
    forward = printed(classify(*images, "--model", converted, "--backend", "onnxruntime").stdout)
    backward = printed(classify(*reversed(images), "--model", converted, "--backend", "onnxruntime").stdout)
    alone = printed(classify(images[3], "--model", converted, "--backend", "onnxruntime").stdout)
    assert list(backward) == [str(p) for p in reversed(images)]
    for image in forward:
        assert [r[2] for r in forward[image]] == [r[2] for r in backward[image]]
    assert [r[2] for r in alone[str(images[3])]] == [r[2] for r in forward[str(images[3])]]
    assert all(len(rows) == 5 for rows in forward.values())  # --topk's default


def test_default_model_is_the_one_run_infer_sh_left_here(small, images: list[Path], tmp_path: Path) -> None:
    _, converted = small
    proc = classify(images[0], check=False, cwd=tmp_path)
    assert_one_line_error(proc, f"no --model given and no converted model in {tmp_path.resolve()}", "bash run_infer.sh",
                          "se_resnet50_<precision>_bs<batch>.onnx", "--model")

    (tmp_path / "se_resnet50_dynamic_bs.onnx").symlink_to(converted)  # step 2's model and others are not candidates
    (tmp_path / "se_resnet50_int8_deploy_model.onnx").symlink_to(converted)
    (tmp_path / converted.name).symlink_to(converted)
    proc = classify(images[0], cwd=tmp_path)  # and no --backend: the registry's first (no timing trial, nothing said)
    assert proc.stdout.startswith(f"model: {converted.name} on onnxruntime ") and proc.stderr == ""

    (tmp_path / "se_resnet50_int8_bs4.onnx").symlink_to(converted)
    proc = classify(images[0], check=False, cwd=tmp_path)
    assert_one_line_error(proc, f"2 converted models in {tmp_path.resolve()}", "se_resnet50_fp32_bs4.onnx, se_resnet50_int8_bs4.onnx",
                          "choose one with --model")


# --- the demo set: the same answers as step 5's predictions.csv -----------------------------------


@pytest.mark.slow
def test_top1_equals_predictions_csv_of_the_same_model(dynamic_onnx: Path, image_dir: Path, tmp_path: Path) -> None:
    """Steps 1, 3, 4 and 5 as the guide runs them on the demo images and model (batch 8: 12 images, one batch
    padded); classify.py on the same images gives each image the top-1 class of step 5's predictions.csv."""
    model = convert(dynamic_onnx, tmp_path / "se_resnet50_fp32_bs8", 8, "--skip-check")
    run_in_process(load_script("imagenet_torch_preprocess.py").main, image_dir, tmp_path / "bin", "--workers", "1",
                   "--quiet", prog="imagenet_torch_preprocess.py")
    run_in_process(load_script("ais_infer.py").main, "--model", model, "--batchsize", "8", "--input", tmp_path / "bin",
                   "--output", tmp_path, "--output_dirname", "result", "--outfmt", "TXT", "--backend", "onnxruntime",
                   prog="ais_infer.py")
    images = sorted(image_dir.iterdir())
    labels = tmp_path / "val_label.txt"
    labels.write_text("".join(f"{p.name} {i}\n" for i, p in enumerate(images)))
    run_in_process(load_script("vision_metric_ImageNet.py").main, tmp_path / "result", labels, tmp_path,
                   "accuracy_result.json", "--predictions", tmp_path / "predictions.csv", prog="vision_metric_ImageNet.py")
    expected = {row.image: row.top[0] for row in read_predictions(tmp_path / "predictions.csv")}
    assert len(expected) == len(images) == 12

    shown = printed(classify(*images, "--model", model, "--backend", "onnxruntime").stdout)
    top1 = {Path(image).name: rows[0][2] for image, rows in shown.items()}
    assert top1 == expected
    assert len(set(top1.values())) >= 3  # the demo weights answer differently for different images


# --- an Ascend .om through python3 -m ais_bench (a stand-in that runs the .onnx beside it) ---------------

STAND_IN_AIS_BENCH = """\
import os, sys
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
""" + ARGV_VALUE + """\
if os.environ.get("STANDIN_FAIL"):
    print("[ERROR] load model failed: " + os.environ["STANDIN_FAIL"])
    sys.exit(1)
from senet_infer.infer import main
onnx = [a[:-len(".om")] + ".onnx" if a.endswith(".om") else a for a in args]
sys.exit(main(onnx + ["--backend", "onnxruntime"]))
"""


@pytest.fixture
def ascend(tmp_path: Path, small, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``.om`` beside its ``.onnx``, and an importable stand-in ``ais_bench``; temporary folders in ``tmp/``."""
    _, converted = small
    pkgs = tmp_path / "pkgs"
    (pkgs / "ais_bench").mkdir(parents=True)
    (pkgs / "ais_bench" / "__init__.py").write_text("")
    (pkgs / "ais_bench" / "__main__.py").write_text(STAND_IN_AIS_BENCH)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pkgs), str(REPO)]))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    om = tmp_path / "se_resnet50_fp16_bs4.om"
    shutil.copy(converted, om)
    shutil.copy(converted, om.with_suffix(".onnx"))
    return om


def test_an_om_runs_through_ais_bench_with_the_guides_flags(ascend: Path, small, images: list[Path], tmp_path: Path) -> None:
    _, converted = small
    proc = classify(*images, "--model", ascend)
    assert proc.stdout.startswith(f"model: {ascend} on python3 -m ais_bench, static batch 4: 5 images in 2 batches, "
                                  "3 padded slots\n")
    ((*flags,),) = [line.split() for line in (tmp_path / "calls.log").read_text().splitlines()]
    work = flags[flags.index("--output") + 1]
    assert flags == ["--model", str(ascend), "--batchsize", "4", "--input", f"{work}/bin", "--output", work,
                     "--output_dirname", "result", "--outfmt", "TXT"]
    assert Path(work).parent == tmp_path / "tmp" and list((tmp_path / "tmp").iterdir()) == []  # removed after

    on_onnx = printed(classify(*images, "--model", converted, "--backend", "onnxruntime").stdout)
    on_om = printed(proc.stdout)
    assert list(on_om) == list(on_onnx)
    for image in on_om:
        assert [r[2] for r in on_om[image]] == [r[2] for r in on_onnx[image]]
        np.testing.assert_allclose([r[1] for r in on_om[image]], [r[1] for r in on_onnx[image]], atol=2e-4)


def test_a_failing_ais_bench_is_one_line(ascend: Path, images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_FAIL", "input size 196608 differs from the model's")
    assert_one_line_error(classify(images[0], "--model", ascend, check=False),
                          f"{ascend}: python3 -m ais_bench exited 1: [ERROR] load model failed: input size 196608")


def test_an_om_without_ais_bench_is_one_line(tmp_path: Path, images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from test_ascend_host import fake_host_python

    host = fake_host_python(tmp_path / "bin", None)
    monkeypatch.setenv("PATH", f"{host.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    om = tmp_path / "se_resnet50_fp16_bs32.om"
    om.write_bytes(b"\0" * 64)
    assert_one_line_error(classify(images[0], "--model", om, check=False),
                          f"{om}: an .om model runs through python3 -m ais_bench", sys.executable,
                          "aipp_convert.py writes a portable .onnx")


# --- what is refused, in one line -----------------------------------------------------------------


def test_missing_corrupt_or_folder_images_are_named(small, images: list[Path], tmp_path: Path) -> None:
    _, converted = small
    missing = tmp_path / "gone.jpg"
    assert_one_line_error(classify(images[0], missing, "--model", converted, check=False), f"{missing}: image not found")
    corrupt = tmp_path / "corrupt.JPEG"
    corrupt.write_bytes(images[0].read_bytes()[:200])
    assert_one_line_error(classify(corrupt, "--model", converted, check=False), f"{corrupt}: cannot decode image")
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    assert_one_line_error(classify(text, "--model", converted, check=False), f"{text}: cannot decode image")
    assert_one_line_error(classify(tmp_path, "--model", converted, check=False), f"{tmp_path}: a folder, not an image")


def test_models_of_other_pipelines_are_refused(small, images: list[Path], tmp_path: Path) -> None:
    dynamic, _ = small
    assert_one_line_error(classify(images[0], "--model", tmp_path / "absent.onnx", check=False),
                          f"{tmp_path / 'absent.onnx'}: model not found")
    weights = tmp_path / "se_resnet50-ce0d4300.pth"
    weights.write_bytes(b"PK\3\4")
    assert_one_line_error(classify(images[0], "--model", weights, check=False),
                          f"{weights}: not a converted model of this pipeline", "aipp_convert.py", ".om")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff" * 100)
    assert_one_line_error(classify(images[0], "--model", garbage, check=False), f"{garbage}: not a readable ONNX model")
    assert_one_line_error(classify(images[0], "--model", dynamic, check=False),
                          f"{dynamic}: no AIPP in the model (metadata senet_infer.aipp)", "aipp_convert.py")

    other_size = AippOp(src_image_size_w=240, src_image_size_h=240, crop=True, load_start_pos_w=8, load_start_pos_h=8,
                        crop_size_w=224, crop_size_h=224)
    model = convert_model(dynamic, tmp_path / "se_resnet50_fp32_bs2", {"image": (2, 3, 224, 224)}, [other_size],
                          check=False).path
    assert_one_line_error(classify(images[0], "--model", model, check=False),
                          f"{model}: its AIPP takes RGB888_U8 240x240 images", "uint8 RGB 256x256")

    ten = convert(se_like_model(tmp_path / "ten.onnx", classes=10), tmp_path / "ten_bs2", 2, "--skip-check")
    assert_one_line_error(classify(images[0], "--model", ten, "--backend", "onnxruntime", check=False),
                          f"{ten}: output 0 holds 10 values per image, not 1000 ImageNet class scores")


def test_topk_outside_the_classes_is_refused(small, images: list[Path]) -> None:
    _, converted = small
    assert_one_line_error(classify(images[0], "--model", converted, "--topk", "1001", check=False),
                          "--topk must lie in 1..1000, got 1001")
    proc = classify(images[0], "--model", converted, "--topk", "0", check=False)
    assert proc.returncode == 2 and "--topk: must be >= 1, got 0" in proc.stderr

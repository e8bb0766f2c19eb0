"""make_report.py on hand-made work folders whose answers are known: a planted confusion, a class with no correct
image, a missing image, a partial run, the guide's by-hand folder, and every bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from report_fakes import image_name, make_run, write_vendor_summary

from conftest import load_script, run_in_process
from senet_infer.report.references import verdict
from senet_infer.report.run_sections import isa_words
from senet_infer.report.sections import confusions, evenly

make_report = load_script("make_report.py")

# 30 images: class 1 (5 images) is answered as class 2 on every image (a class with no correct image and the
# most frequent confusion); class 3 is answered as class 4 on 2 of its 5; the rest are right.
LABELS = [0] * 10 + [1] * 5 + [3] * 5 + [5] * 10
ANSWERS = [0] * 10 + [2] * 5 + [4, 3, 4, 3, 3] + [5] * 10


def report(work: Path, *args: str, check: bool = True):
    return run_in_process(make_report.main, "--work-dir", work, *args, prog="make_report.py", check=check)


def page_of(work: Path) -> str:
    return (work / "report.html").read_text(encoding="utf-8")


def section_of(page: str, anchor: str) -> str:
    match = re.search(f'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(1)


@pytest.fixture()
def full_run(tmp_path: Path) -> Path:
    make_run(tmp_path / "work", LABELS, ANSWERS)
    return tmp_path / "work"


def test_the_headline_gives_the_run_figures_the_references_and_a_verdict(full_run: Path) -> None:
    proc = report(full_run)
    assert "wrote" in proc.stdout and "30 images scored" in proc.stdout
    page = page_of(full_run)
    head = section_of(page, "headline")
    top1 = 100 * sum(a == b for a, b in zip(LABELS, ANSWERS)) / len(LABELS)
    assert f'<b id="top1">{top1:.2f} %</b>' in head and '<b id="images">30</b>' in head
    assert "77.36" in head and "93.76" in head and "77.64" in head and "93.75" in head
    assert "--resize shorter" in head and 'id="verdict"' in head
    assert f"{77.636 - round(top1, 2):.2f} points below" in head and "on 30 of the 50,000" in head
    assert "demo-banner" not in page  # real weights and data: no banner


def test_demo_runs_carry_a_banner_and_no_verdict(tmp_path: Path) -> None:
    notes = {"warning": "DEMO weights (seeded random, calibrated): accuracy figures from them mean nothing",
             "calibration_note": "int8 calibrated on 32 images of the evaluation set"}
    make_run(tmp_path, LABELS, ANSWERS, notes=notes)
    report(tmp_path)
    page = page_of(tmp_path)
    assert 'id="demo-banner"' in page and "accuracy from demo weights means nothing" in page
    assert 'id="verdict"' not in page and "Calibration: int8 calibrated on 32 images" in page


def test_classes_show_the_planted_confusion_and_the_class_with_no_correct_image(full_run: Path) -> None:
    report(full_run)
    classes = section_of(page_of(full_run), "classes")
    assert "4 classes present, 30 images" in classes
    weakest = classes.split("The 4 weakest classes")[1].split("</table>")[0]
    first_row = weakest.split("<tbody>")[1].split("</tr>")[0]
    assert ">1<" in first_row and "goldfish" in first_row and ">0.0<" in first_row  # class 1: none right
    confusion = classes.split("most frequent confusions")[1]
    rows = confusion.split("<tbody>")[1].split("</tr>")
    assert "goldfish" in rows[0] and "great white shark" in rows[0] and '<td class="n">5</td>' in rows[0]
    assert "tiger shark" in rows[1] and "hammerhead" in rows[1] and '<td class="n">2</td>' in rows[1]
    assert image_name(10) in rows[0]  # the first image of the pair is its example, with its thumbnail
    assert '<details id="all-classes">' in classes


def test_confusions_count_pairs_and_break_ties_in_class_order() -> None:
    from senet_infer.metric import Prediction

    rows = [Prediction(f"i{k}", label, "", (answer,), label == answer, False)
            for k, (label, answer) in enumerate([(7, 9), (3, 1), (7, 9), (3, 1), (2, 2), (8, 0)])]
    found = confusions(rows)
    assert [(c.truth, c.predicted, c.count, c.example) for c in found] == [(3, 1, 2, "i1"), (7, 9, 2, "i0"),
                                                                           (8, 0, 1, "i5")]


def test_examples_are_chosen_evenly_and_the_same_every_time(full_run: Path) -> None:
    assert evenly(list(range(100)), 5) == [0, 25, 50, 74, 99]  # round(k * 24.75), first and last kept
    assert evenly(list(range(3)), 48) == [0, 1, 2] and evenly([4, 5], 1) == [4]
    report(full_run)
    first = section_of(page_of(full_run), "examples")
    report(full_run)
    assert section_of(page_of(full_run), "examples") == first
    wrong = first.split('id="wrong"')[1].split('id="right"')[0]
    assert wrong.count('class="card"') == 7  # every wrong answer (fewer than 48)
    assert "true: goldfish [1]" in wrong and "great white shark [2]" in wrong
    assert first.split('id="right"')[1].count('class="card"') == 16


def test_thumbnails_come_from_the_originals_and_a_gone_image_is_a_grey_box(full_run: Path) -> None:
    (full_run / "dataset/ImageNet/val_union" / image_name(10)).unlink()
    proc = report(full_run)
    assert "1 image gone (grey boxes)" in proc.stdout
    page = page_of(full_run)
    assert f"{image_name(10)}<br>(image gone)" in page
    uris = re.findall(r'<img class="thumb" src="data:image/jpeg;base64,([^"]+)"', page)
    assert uris
    import base64
    import io

    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(uris[0]))) as thumb:
        assert max(thumb.size) == 128 and thumb.size == (128, 96)  # 500x375 scaled to fit 128


def test_fidelity_lists_each_precision_and_the_images_whose_top1_changed(full_run: Path) -> None:
    report(full_run)
    fidelity = section_of(page_of(full_run), "fidelity")
    assert ">int8<" in fidelity and "the run (openvino)" in fidelity and "the perf step&#x27;s model" in fidelity
    record = json.loads((full_run / "fidelity.json").read_text())
    changed = record["images"] - record["same_top1"]
    assert f"Top-1 changed against PyTorch on {changed} images" in fidelity
    assert fidelity.split('id="changed"')[1].count('class="card"') == len(record["top1_changes"]) == 3
    assert image_name(0) in fidelity  # named by the original image, with its thumbnail


def test_performance_has_the_chart_ratios_and_the_projection(full_run: Path) -> None:
    report(full_run)
    perf = section_of(page_of(full_run), "performance")
    assert perf.count('<img class="chart" src="data:image/svg+xml;base64,') == 2
    assert "3.00x" in perf and "1.00x" in perf  # int8 60 vs fp32 20 images/s at batch 1
    assert "2690 images/s at batch 32: Ascend 310P3, from the guide, not measured here" in perf
    assert "12.5 s for 30 images" in perf and "for the 50,000 images" in perf


def test_a_partial_run_says_which_step_makes_each_missing_input(tmp_path: Path) -> None:
    make_run(tmp_path, LABELS, ANSWERS, fidelity=False, perf=False, timings=False)
    report(tmp_path)
    page = page_of(tmp_path)
    assert "fidelity.json is absent: the fidelity step of run_infer.sh makes it" in section_of(page, "fidelity")
    perf = section_of(page, "performance")
    assert "perf.json is absent: the perf step of run_infer.sh" in perf and "timings.json is absent" in perf
    assert ".run_infer/run.json is absent" in section_of(page, "run")


def test_the_guides_by_hand_folder_is_scored_with_step_5s_code(tmp_path: Path) -> None:
    paths = make_run(tmp_path, LABELS, ANSWERS, accuracy=False, predictions=False, fidelity=False, perf=False,
                      timings=False, results=True)
    write_vendor_summary(paths, len(LABELS))
    report(tmp_path)
    page = page_of(tmp_path)
    top1 = 100 * sum(a == b for a, b in zip(LABELS, ANSWERS)) / len(LABELS)
    assert f'<b id="top1">{top1:.2f} %</b>' in page
    assert "./result scored here against ./dataset/ImageNet/val_label.txt with step 5&#x27;s code" in page
    assert "5 classes" not in page and "4 classes present" in page
    assert not (tmp_path / "predictions.csv").exists()  # the run's folder gets the page only
    assert "ais_bench --model ./se_resnet50_fp16_bs32.om" in section_of(page, "run")


def test_a_folder_without_run_output_is_one_line(tmp_path: Path) -> None:
    proc = report(tmp_path, check=False)
    assert proc.returncode == 2 and not (tmp_path / "report.html").exists()
    line = proc.stderr.strip()
    assert "\n" not in line and str(tmp_path) in line and "no run output" in line and "accuracy_result.json" in line


@pytest.mark.parametrize("name,content", [("predictions.csv", "image,label\nx,1\n"),
                                          ("predictions.csv", "\x00\xff garbage"),
                                          ("fidelity.json", '{"images": "many"}'),
                                          ("fidelity.json", "{not json"),
                                          ("perf.json", '{"chip": "x", "results": [{"batch_size": "big"}]}'),
                                          ("accuracy_result.json", '{"title": "other"}')])
def test_a_corrupt_input_is_one_line_naming_it_and_nothing_is_written(full_run: Path, name: str,
                                                                       content: str) -> None:
    (full_run / name).write_bytes(content.encode("latin-1"))
    proc = report(full_run, check=False)
    assert proc.returncode == 2, proc.stdout
    line = proc.stderr.strip()
    assert "\n" not in line and str(full_run / name) in line
    assert not (full_run / "report.html").exists()


def test_an_unwritable_out_is_one_line(full_run: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / "a-file" / "r.html"
    proc = report(full_run, "--out", target, check=False)
    assert proc.returncode != 0 and "\n" not in proc.stderr.strip() and str(target) in proc.stderr
    assert not target.exists()


def test_a_rerun_replaces_the_page_atomically(full_run: Path) -> None:
    report(full_run)
    before = (full_run / "report.html").stat().st_ino
    report(full_run)
    assert (full_run / "report.html").stat().st_ino != before  # a new file renamed over, never rewritten in place
    assert not [p for p in full_run.iterdir() if p.name.startswith(".report")]


def test_the_page_fetches_nothing(full_run: Path) -> None:
    report(full_run)
    page = page_of(full_run)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert re.findall(r'src="([^"]+)"', page) and all(src.startswith("data:") for src in re.findall(r'src="([^"]+)"', page))


def test_the_verdict_compares_with_the_reference_of_the_protocol() -> None:
    assert verdict(77.5, 50_000, "shorter").startswith("matches pretrainedmodels")
    assert verdict(77.36, 50_000, "squash").startswith("matches the guide")
    assert verdict(75.0, 50_000, "squash").startswith("2.36 points below the guide")
    assert verdict(78.0, 50_000, "shorter").startswith("0.36 points above pretrainedmodels")
    assert "subset" in verdict(77.6, 1000, "shorter") and "no reference" in verdict(70.0, 10, None)


@pytest.mark.parametrize("flags,words", [
    (["amx_int8", "amx_bf16", "avx512_fp16", "avx512_bf16", "avx512_vnni", "avx512f", "avx2"],
     "AMX, AVX512-FP16, AVX512-BF16, AVX512-VNNI"),
    (["avx512_bf16", "avx512_vnni", "avx512f", "avx2"], "AVX512-BF16, AVX512-VNNI"),
    (["avx2"], "AVX2 only (no AVX-512)"),
])
def test_the_cpu_kinds_of_this_machine_are_named(flags: list[str], words: str) -> None:
    assert isa_words(flags) == words


def test_squash_runs_are_compared_with_the_guide(tmp_path: Path) -> None:
    make_run(tmp_path, LABELS, ANSWERS, resize="squash")
    report(tmp_path)
    head = section_of(page_of(tmp_path), "headline")
    assert "Protocol of this run: --resize squash" in head and "below the guide" in head


def test_a_copied_work_folder_still_finds_the_original_images(full_run: Path, tmp_path: Path) -> None:
    """The thumbnails are found through step 1's record; a folder copied elsewhere still points at the originals."""
    copy = tmp_path / "copy"
    shutil.copytree(full_run, copy, symlinks=True)
    report(copy)
    assert "(image gone)" not in page_of(copy)


def test_the_run_record_keeps_the_users_command_and_names_the_machine(full_run: Path) -> None:
    from senet_infer.driver.main import user_args
    from senet_infer.driver.run_record import describe_run, read_run_record, write_run_record

    argv = user_args(["--set-up-seconds", "3", "--set-up-python", "/x/python", "--offline", "--steps", "report",
                      "--set-up-seconds=4"])
    assert argv == ("--offline", "--steps", "report")
    checkpoint = full_run / "weights.pth"
    checkpoint.write_bytes(b"not really weights")
    record = describe_run(argv=list(argv), options={"work": full_run, "perf_batch_sizes": (1, 4)}, repo=full_run,
                          toolchain="the portable one", runtime="openvino", checkpoint=checkpoint, demo_weights=True,
                          dataset={"images": full_run / "dataset", "demo": True})
    import hashlib

    assert record["command"] == "bash run_infer.sh --offline --steps report"
    assert record["checkpoint"]["sha256_prefix"] == hashlib.sha256(b"not really weights").hexdigest()[:8]
    assert record["options"]["perf_batch_sizes"] == [1, 4] and record["commit"] is None  # not a git checkout
    write_run_record(full_run / ".run_infer" / "run.json", record)
    assert read_run_record(full_run / ".run_infer" / "run.json") == json.loads(json.dumps(record))
    report(full_run)
    run = section_of(page_of(full_run), "run")
    assert "bash run_infer.sh --offline --steps report" in run and "not a git checkout" in run
    assert f"SHA-256 {record['checkpoint']['sha256_prefix']}" in run and "DEMO" in run
    assert "demo-banner" in page_of(full_run)  # the record says demo weights: the banner follows


def test_a_by_hand_folder_missing_results_says_how_many_were_scored(tmp_path: Path) -> None:
    paths = make_run(tmp_path, LABELS, ANSWERS, accuracy=False, predictions=False, fidelity=False, perf=False,
                     timings=False, results=True)
    (paths.result_dir / f"{Path(image_name(len(LABELS) - 1)).stem}_0.txt").unlink()
    write_vendor_summary(paths, len(LABELS) - 1)
    report(tmp_path)
    head = section_of(page_of(tmp_path), "headline")
    assert f"{len(LABELS) - 1} of {len(LABELS)} labelled images have a result" in head
    assert f'<b id="images">{len(LABELS) - 1}</b>' in head

"""Step 5: vision_metric_ImageNet.py on hand-made results whose top-k accuracy is known exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_script
from senet_infer import metric
from senet_infer.fileio import result_file_name, write_result

SCRIPT = "vision_metric_ImageNet.py"
# Rank of the true class in each of ten images: top-1..top-5 hit 4, 5, 6, 7, 8 of them.
RANKS = (0, 3, 0, 7, 1, 0, 2, 5, 0, 4)
EXPECTED = ("40.00%", "50.00%", "60.00%", "70.00%", "80.00%")


def image_name(i: int) -> str:
    return f"ILSVRC2012_val_{i + 1:08d}"


def ranked_logits(rng: np.random.Generator, classes: int, column: int, rank: int) -> np.ndarray:
    """Distinct scores (multiples of 0.1, exact in %f) with ``column`` at position ``rank`` from the top."""
    scores = (rng.permutation(classes).astype(np.float32) - classes / 2) / 10
    holder = int(np.argsort(-scores)[rank])
    scores[column], scores[holder] = scores[holder], scores[column]
    return scores.reshape(1, classes)


def make_case(root: Path, fmt: str = "TXT", classes: int = 1000, ranks: tuple[int, ...] = RANKS,
              seed: int = 0) -> tuple[Path, Path]:
    """Write one result per image (true class at the given rank) and the matching val_label.txt."""
    rng = np.random.default_rng(seed)
    shift = 1 if classes == 1001 else 0
    result_dir, label_file = root / "result", root / "val_label.txt"
    lines = []
    for i, rank in enumerate(ranks):
        label = int(rng.integers(0, classes - shift))
        lines.append(f"{image_name(i)}.JPEG {label}\n")
        logits = ranked_logits(rng, classes, label + shift, rank)
        write_result(result_dir / result_file_name(image_name(i), 0, fmt), logits, fmt)
    label_file.write_text("".join(lines))
    return result_dir, label_file


def score(root: Path, result_dir: Path, label_file: Path, *extra: object, check: bool = True):
    """Run the guide's command line; return (process, parsed JSON or None)."""
    proc = run_script(SCRIPT, result_dir, label_file, root / "out", "accuracy_result.json", *extra, check=check)
    out = root / "out" / "accuracy_result.json"
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def guide_json(images: int, classes: int, accuracies: tuple[str, ...] = EXPECTED) -> dict:
    return {
        "title": "Overall statistical evaluation",
        "value": [{"key": "Number of images", "value": str(images)},
                  {"key": "Number of classes", "value": str(classes)}]
        + [{"key": f"Top{k} accuracy", "value": v} for k, v in enumerate(accuracies, 1)],
    }


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"{SCRIPT}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(("fmt", "classes"), [("TXT", 1000), ("NPY", 1000), ("BIN", 1000), ("BIN", 20)])
def test_known_topk_in_every_format(tmp_path: Path, fmt: str, classes: int) -> None:
    result_dir, label_file = make_case(tmp_path, fmt, classes)
    extra = ["--num-classes", classes] if classes != 1000 else []
    proc, doc = score(tmp_path, result_dir, label_file, *extra)
    assert doc == guide_json(10, classes)
    assert list(doc) == ["title", "value"]
    assert proc.stdout.strip() == "top-1 40.00 %, top-5 80.00 % on 10 images"
    assert proc.stderr == ""
    # atomic write: only the final file, no hidden temporary left beside it
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["accuracy_result.json"]


def test_1001_classes_shift_label_past_background(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "TXT", 1001)
    stems, logits = metric.load_results(result_dir)
    labels = metric.read_labels(label_file)
    unshifted = [np.argsort(-row).tolist().index(labels[s]) for s, row in zip(stems, logits)]
    assert sorted(unshifted) != sorted(RANKS)  # the data tells a shifted from an unshifted scorer
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1001)


def test_ranks_equal_stable_argsort_with_ties_and_any_argsort_without() -> None:
    rng = np.random.default_rng(3)
    tied = rng.integers(0, 4, size=(300, 9)).astype(np.float32)  # many ties
    labels = rng.integers(0, 9, size=300)
    want = [np.argsort(-row, kind="stable").tolist().index(lab) for row, lab in zip(tied, labels)]
    assert metric.label_ranks(tied, labels).tolist() == want
    distinct = rng.standard_normal((300, 50)).astype(np.float32)
    want = [np.argsort(-row).tolist().index(lab) for row, lab in zip(distinct, labels)]
    assert metric.label_ranks(distinct, labels).tolist() == want
    fractions = metric.topk_accuracy(distinct, labels, k_max=5)
    assert fractions == [np.mean(np.array(want) < k) for k in range(1, 6)]


def test_ranks_independent_of_row_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    logits = rng.integers(0, 3, size=(50, 6)).astype(np.float32)
    labels = rng.integers(0, 6, size=50)
    whole = metric.label_ranks(logits, labels)
    monkeypatch.setattr(metric, "_RANK_CHUNK_ROWS", 7)
    assert metric.label_ranks(logits, labels).tolist() == whole.tolist()


def test_fewer_classes_than_k_counts_every_image_in_top5(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "NPY", classes=3, ranks=(0, 1, 2, 2))
    report = metric.evaluate(result_dir, label_file)
    assert report.hits == (1, 2, 4, 4, 4)
    assert (report.count, report.classes) == (4, 3)


# --------------------------------------------------------------------------- folder contents


def test_non_results_ignored_with_one_warning_hidden_files_silently(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    (result_dir / "result_summary.json").write_text("{}")
    (result_dir / "notes.txt").write_text("not a result")
    (result_dir / ".ILSVRC2012_val_00000099_0.txt.x1.tmp").write_text("half written")
    (result_dir / f"{image_name(0)}_1.txt").write_text("1.0 2.0 \n")  # a second model output: not logits
    proc, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and "warning" in warnings[0]
    assert "ignored 2 files" in warnings[0] and "'notes.txt'" in warnings[0]
    assert ".tmp" not in warnings[0]


def test_result_without_label_names_the_result_file(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    write_result(result_dir / "stray_0.txt", np.zeros((1, 1000), np.float32), "TXT")
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, str(result_dir / "stray_0.txt"), "no label", "val_label.txt")
    assert doc is None


def test_label_without_result_fails_unless_allow_missing(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    with label_file.open("a") as fh:
        fh.write("ILSVRC2012_val_00000011.JPEG 5\nILSVRC2012_val_00000012.JPEG 6\n")
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, "2 of 12 labelled images have no result", "ILSVRC2012_val_00000011", "--allow-missing")
    assert doc is None
    proc, doc = score(tmp_path, result_dir, label_file, "--allow-missing")
    assert proc.stdout.strip() == "top-1 40.00 %, top-5 80.00 % on 10 of 12 labelled images"
    assert doc == guide_json(10, 1000)


def test_inconsistent_result_length_names_the_odd_file(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    odd = result_dir / result_file_name(image_name(0), 0, "TXT")  # the first file: not the reference width
    write_result(odd, np.ones((1, 999), np.float32), "TXT")
    proc, _ = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, str(odd), "999 values", "9 of 10 results have 1000")


def test_nan_result_is_an_error(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "NPY")
    bad = result_dir / result_file_name(image_name(4), 0, "NPY")
    write_result(bad, np.full((1, 1000), np.nan, np.float32), "NPY")
    proc, _ = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, str(bad), "NaN")


def test_bin_width_must_match_num_classes(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "BIN", classes=20)
    proc, _ = score(tmp_path, result_dir, label_file, check=False)  # default --num-classes 1000
    assert_one_line_error(proc, "_0.bin", "float32", "1000")


# --------------------------------------------------------------------------- label file


@pytest.mark.parametrize(
    ("bad_line", "needle"),
    [
        ("ILSVRC2012_val_00000003.JPEG", "expected '<image name> <class>'"),
        ("ILSVRC2012_val_00000003.JPEG 1 2", "expected '<image name> <class>'"),
        ("ILSVRC2012_val_00000003.JPEG dog", "not a non-negative integer"),
        ("ILSVRC2012_val_00000003.JPEG -4", "not a non-negative integer"),
        ("ILSVRC2012_val_00000003.JPEG 2.0", "not a non-negative integer"),
        ("ILSVRC2012_val_00000001.png 3", "already labelled on line 1"),
    ],
)
def test_label_file_errors_name_the_line(tmp_path: Path, bad_line: str, needle: str) -> None:
    result_dir, label_file = make_case(tmp_path)
    lines = label_file.read_text().splitlines()
    lines[2] = bad_line
    label_file.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")  # blank line 3 is skipped
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, f"{label_file}, line 4", needle)
    assert doc is None


@pytest.mark.parametrize(("classes", "label"), [(1000, 1000), (1001, 1000)])
def test_label_out_of_range_is_an_error(tmp_path: Path, classes: int, label: int) -> None:
    result_dir, label_file = make_case(tmp_path, "TXT", classes)
    lines = label_file.read_text().splitlines()
    lines[5] = f"{lines[5].split()[0]} {label}"
    label_file.write_text("\n".join(lines) + "\n")
    proc, _ = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, f"{label_file}, line 6", f"class {label}", "out of range")


def test_read_labels_keys_by_stem_and_tolerates_crlf_bom_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "val_label.txt"
    path.write_bytes(b"\xef\xbb\xbfILSVRC2012_val_00000001.JPEG 65\r\n\r\nsub/img.v2.png 0\r\n")
    assert metric.read_labels(path) == {"ILSVRC2012_val_00000001": 65, "img.v2": 0}


# --------------------------------------------------------------------------- command line


def test_annotate_adds_string_fields(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    _, doc = score(tmp_path, result_dir, label_file,
                   "--annotate", "warning=demo weights: accuracy means nothing", "--annotate", "weights=demo=1")
    assert doc["warning"] == "demo weights: accuracy means nothing"
    assert doc["weights"] == "demo=1"
    assert {k: doc[k] for k in ("title", "value")} == guide_json(10, 1000)


@pytest.mark.parametrize("bad", ["novalue", "=x", "title=x"])
def test_bad_annotation_exits_2(tmp_path: Path, bad: str) -> None:
    result_dir, label_file = make_case(tmp_path, ranks=(0,))
    proc, doc = score(tmp_path, result_dir, label_file, "--annotate", bad, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert doc is None


def test_missing_or_empty_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, ranks=(0, 1))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "result_summary.json").write_text("{}")
    cases = [
        (tmp_path / "nowhere", label_file, "result folder not found"),
        (label_file, label_file, "not a folder"),
        (empty, label_file, "no result files"),
        (result_dir, tmp_path / "no_labels.txt", "label file not found"),
    ]
    for results, labels, needle in cases:
        proc, doc = score(tmp_path, results, labels, check=False)
        assert_one_line_error(proc, needle)
        assert doc is None
    assert sorted(p.name for p in result_dir.iterdir()) == [f"{image_name(i)}_0.txt" for i in range(2)]


def test_refuses_to_write_into_the_result_folder(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, ranks=(0,))
    proc = run_script(SCRIPT, result_dir, label_file, result_dir, "accuracy_result.json", check=False)
    assert_one_line_error(proc, "result folder")
    assert not (result_dir / "accuracy_result.json").exists()

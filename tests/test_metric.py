"""Step 5: vision_metric_ImageNet.py on hand-made results whose top-k accuracy is known exactly.

The reference for the JSON's bytes is the ModelZoo original's behaviour, re-implemented below
(:func:`original_metric_json`) from what that script does, not imported from the project.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import load_script
from senet_infer import metric
from senet_infer.cli import run_main
from senet_infer.fileio import result_file_name, write_result
from senet_infer.metric.evaluate import read_labels
from senet_infer.metric.results import load_results
from senet_infer.summary import Extras, RunSummary, TimeStats, summary_path_for

SCRIPT = "vision_metric_ImageNet.py"
# Rank of the true class in each of ten images: top-1..top-5 hit 4, 5, 6, 7, 8 of them.
RANKS = (0, 3, 0, 7, 1, 0, 2, 5, 0, 4)
EXPECTED = ("40.0%", "50.0%", "60.0%", "70.0%", "80.0%")  # the original: str(round(x, 2)) + '%'


MAIN = load_script(SCRIPT).main


def original_metric_json(result_dir: Path, label_file: Path, topn: int = 5) -> bytes:
    """What the ModelZoo original writes, re-implemented from its documented behaviour.

    Labels keyed by the name before its first dot; every file of the folder is a result whose
    image is its name before the first dot minus the last ``_k``; only the first line is read;
    hits counted at the label's position in a descending argsort, k up to min(classes, topn);
    accuracies ``str(round(cumulative hits / count * 100, 2)) + '%'`` in numpy float64;
    ``json.dump`` with its defaults and no newline. 1001 classes shift the label by one.
    """
    labels = {}
    for line in label_file.read_text().splitlines():
        name, cls = line.strip().split(" ")
        labels[name.split(".")[0]] = cls
    hits = np.zeros(topn)
    count = classes = shown = 0
    for name in os.listdir(result_dir):
        count += 1
        head = name.split(".")[0]
        image = head[:head.rfind("_")]
        with open(result_dir / name) as fh:
            scores = np.array([np.float32(v) for v in fh.readline().strip().split(" ")], np.float32)
        classes = len(scores)
        order = np.argsort(-scores)
        label = int(labels[image]) + (1 if classes == 1001 else 0)
        shown = min(len(order), topn)
        for i in range(shown):
            if order[i] == label:
                hits[i] += 1
                break
    accuracy = np.cumsum(hits) / count
    value = [{"key": "Number of images", "value": str(count)}, {"key": "Number of classes", "value": str(classes)}]
    value += [{"key": "Top" + str(i + 1) + " accuracy", "value": str(round(accuracy[i] * 100, 2)) + "%"}
              for i in range(shown)]
    return json.dumps({"title": "Overall statistical evaluation", "value": value}).encode()


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


def score(root: Path, result_dir: Path, label_file: Path, *extra: object, check: bool = True,
          out_dir: Path | None = None):
    """Run the guide's command line in this process; return (outcome, parsed JSON or None).

    The outcome has the exit status, stdout and stderr, as a subprocess's would.
    """
    out_dir = out_dir or root / "out"
    argv = [str(a) for a in (result_dir, label_file, out_dir, "accuracy_result.json", *extra)]
    capture = _CAPSYS[0]
    capture.readouterr()
    try:
        code = run_main(MAIN, argv, prog=SCRIPT)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    captured = capture.readouterr()
    proc = SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)
    if check and code != 0:
        raise AssertionError(f"{SCRIPT} exited {code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    out = out_dir / "accuracy_result.json"
    return proc, (json.loads(out.read_text()) if out.exists() else None)


_CAPSYS: list = [None]


@pytest.fixture(autouse=True)
def _capture(capsys: pytest.CaptureFixture[str]):
    _CAPSYS[0] = capsys
    yield
    _CAPSYS[0] = None


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
    if fmt == "TXT":
        assert (tmp_path / "out" / "accuracy_result.json").read_bytes() == original_metric_json(result_dir, label_file)
    # atomic write: only the final file, no hidden temporary left beside it
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["accuracy_result.json"]


def test_1001_classes_shift_label_past_background(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "TXT", 1001)
    stems, logits = load_results(result_dir)
    labels = read_labels(label_file)
    unshifted = [np.argsort(-row).tolist().index(labels[s]) for s, row in zip(stems, logits)]
    assert sorted(unshifted) != sorted(RANKS)  # the data tells a shifted from an unshifted scorer
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1001)


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


@pytest.mark.parametrize("fmt", ["NPY", "TXT"])
def test_nan_or_inf_results_count_wrong_and_are_reported(tmp_path: Path, fmt: str) -> None:
    result_dir, label_file = make_case(tmp_path, fmt)
    labels = read_labels(label_file)
    # image 0 and 2 are top-1 hits: poison one with NaN everywhere, the other with +inf on its label only
    nan_file = result_dir / result_file_name(image_name(0), 0, fmt)
    write_result(nan_file, np.full((1, 1000), np.nan, np.float32), fmt)
    inf_file = result_dir / result_file_name(image_name(2), 0, fmt)
    logits = np.zeros((1, 1000), np.float32)
    logits[0, labels[image_name(2)]] = np.inf
    write_result(inf_file, logits, fmt)
    proc, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000, ("20.0%", "30.0%", "40.0%", "50.0%", "60.0%"))
    warning = [line for line in proc.stderr.splitlines() if "NaN or inf" in line]
    assert len(warning) == 1 and "2 result(s)" in warning[0] and str(nan_file) in warning[0]


def test_bin_width_must_match_num_classes(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path, "BIN", classes=20)
    proc, _ = score(tmp_path, result_dir, label_file, check=False)  # default --num-classes 1000
    assert_one_line_error(proc, "_0.bin", "float32", "1000")


# --------------------------------------------------------------------------- label file


@pytest.mark.parametrize(
    ("bad_line", "needle"),
    [
        ("ILSVRC2012_val_00000003.JPEG", "expected '<image name> <class>'"),
        ("ILSVRC2012_val_00000003.JPEG 1 x", "not a non-negative integer"),
        ("ILSVRC2012_val_00000003.JPEG dog", "not a non-negative integer"),
        ("ILSVRC2012_val_00000003.JPEG -4", "not a non-negative integer"),
        ("ILSVRC2012_val_00000003.JPEG 2.0", "not a non-negative integer"),
        ("ILSVRC2012_val_00000001.png 999", "class 999 here but class"),
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


def test_label_names_with_spaces_are_read_whole(tmp_path: Path) -> None:
    """The class is the last field and the name everything before it: people's own images have spaces."""
    result_dir, label_file = make_case(tmp_path)
    first = result_dir / result_file_name(image_name(0), 0, "TXT")
    first.rename(result_dir / result_file_name("my photo 1", 0, "TXT"))
    lines = label_file.read_text().splitlines()
    lines[0] = "my photo 1.JPEG " + lines[0].split()[-1]
    label_file.write_text("\n".join(lines) + "\n")
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)
    assert read_labels(label_file)["my photo 1"] == int(lines[0].split()[-1])


def test_one_based_labels_are_named_as_devkit_ids(tmp_path: Path) -> None:
    """Classes 1..1000, never 0: the devkit's ILSVRC2012_IDs; the error says so and how to convert them."""
    result_dir, label_file = make_case(tmp_path)
    lines = [f"{line.split()[0]} {int(line.split()[1]) + 1}" for line in label_file.read_text().splitlines()]
    lines[3] = f"{lines[3].split()[0]} 1000"
    lines[4] = f"{lines[4].split()[0]} 1"
    label_file.write_text("\n".join(lines) + "\n")
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, f"{label_file}, line 4", "class 1000", "ILSVRC2012_ID", "--devkit")
    assert doc is None


def test_predictions_csv_names_the_classes_and_keeps_the_json(tmp_path: Path) -> None:
    import csv

    result_dir, label_file = make_case(tmp_path)
    _, plain = score(tmp_path, result_dir, label_file, out_dir=tmp_path / "plain")
    predictions = tmp_path / "predictions.csv"
    _, doc = score(tmp_path, result_dir, label_file, "--predictions", predictions)
    assert (tmp_path / "out" / "accuracy_result.json").read_bytes() == (tmp_path / "plain" / "accuracy_result.json").read_bytes()
    with open(predictions, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(RANKS)
    labels = read_labels(label_file)
    from senet_infer.imagenet import synsets

    for i, (row, rank) in enumerate(zip(rows, RANKS)):
        assert row["image"] == f"{image_name(i)}.JPEG"
        assert int(row["label"]) == labels[image_name(i)]
        assert row["label_name"] == synsets().name(int(row["label"]))
        assert row["correct_at_1"] == str(int(rank == 0)) and row["correct_at_5"] == str(int(rank < 5))
        if rank < 5:
            assert int(row[f"top{rank + 1}"]) == int(row["label"])
            assert row[f"top{rank + 1}_name"] == row["label_name"]
        scores = [float(row[f"top{k}_score"]) for k in range(1, 6)]
        assert scores == sorted(scores, reverse=True)
    lowest = metric.lowest_classes(metric.read_predictions(predictions), 5)
    assert [c.correct for c in lowest] == [0] * 5 and all(c.name for c in lowest)


def test_read_labels_keys_by_stem_and_tolerates_crlf_bom_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "val_label.txt"
    path.write_bytes(b"\xef\xbb\xbfILSVRC2012_val_00000001.JPEG 65\r\n\r\nsub/img.v2.png 0\r\n")
    assert read_labels(path) == {"ILSVRC2012_val_00000001": 65, "img.v2": 0}


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
    proc, _ = score(tmp_path, result_dir, label_file, check=False, out_dir=result_dir)
    assert_one_line_error(proc, "result folder")
    assert not (result_dir / "accuracy_result.json").exists()


# --------------------------------------------------------------------------- the original's bytes


@pytest.mark.parametrize(("classes", "ranks"), [
    (1000, (0, 1, 5, 0, 2, 0, 9)),  # 7 images: 42.857.. -> "42.86", 57.14.. -> "57.14"
    (1001, (0, 0, 1, 3, 0, 2)),  # background class: labels shift by one
    (3, (0, 1, 2, 2, 0, 1)),  # fewer classes than 5: the original writes Top1..Top3 only
    (1000, (6,) * 3),  # nothing in the top 5: "0.0%"
    (1000, (0,) * 3),  # all right: "100.0%"
])
def test_json_bytes_equal_the_original_script(tmp_path: Path, classes: int, ranks: tuple[int, ...]) -> None:
    result_dir, label_file = make_case(tmp_path, "TXT", classes, ranks, seed=len(ranks))
    score(tmp_path, result_dir, label_file)
    got = (tmp_path / "out" / "accuracy_result.json").read_bytes()
    assert got == original_metric_json(result_dir, label_file)
    assert len(json.loads(got)["value"]) == 2 + min(classes, 5)


def test_annotations_follow_the_original_fields(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    score(tmp_path, result_dir, label_file, "--annotate", "weights=démo")
    got = (tmp_path / "out" / "accuracy_result.json").read_bytes()
    original = original_metric_json(result_dir, label_file)
    assert got == original[:-1] + b', "weights": "d\\u00e9mo"}'


# --------------------------------------------------------------------------- result names


def test_results_named_by_the_real_ais_bench_match_dotted_labels(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    lines = label_file.read_text().splitlines()
    # image 1 is "x.v2.JPEG": this project names its result x.v2_0.txt, ais_bench x_0.txt
    lines[1] = "x.v2.JPEG " + lines[1].split()[1]
    label_file.write_text("\n".join(lines) + "\n")
    (result_dir / result_file_name(image_name(1), 0, "TXT")).rename(result_dir / "x_0.txt")
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)
    (result_dir / "x_0.txt").rename(result_dir / "x.v2_0.txt")
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)


def test_first_dot_name_of_two_images_is_refused_naming_both(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    lines = label_file.read_text().splitlines()
    lines[1] = "x.a.JPEG " + lines[1].split()[1]
    lines.append("x.b.JPEG 3")
    label_file.write_text("\n".join(lines) + "\n")
    (result_dir / result_file_name(image_name(1), 0, "TXT")).rename(result_dir / "x_0.txt")
    proc, doc = score(tmp_path, result_dir, label_file, "--allow-missing", check=False)
    assert_one_line_error(proc, "x_0.txt", "'x.a'", "'x.b'", "first dot")
    assert doc is None


# --------------------------------------------------------------------------- one run's results


def write_summary(result_dir: Path, names: list[str]) -> Path:
    """A runner summary (ais_bench's keys) whose filesinfo lists ``names`` as this run's outputs."""
    info = {str(i): {"infiles": [f"bins/{n.rsplit('_', 1)[0]}.bin"], "outfiles": [str(result_dir / n)]}
            for i, n in enumerate(names)}
    summary = RunSummary(compute=TimeStats(), throughput=0.0, extras=Extras(), filesinfo=info)
    path = summary_path_for(result_dir)
    path.write_text(json.dumps(summary.to_json()))
    return path


def test_summary_beside_the_folder_scores_only_that_run(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)  # ten results of an earlier run
    run = [result_file_name(image_name(i), 0, "TXT") for i in (0, 1, 2, 3)]  # ranks 0, 3, 0, 7
    write_summary(result_dir, run)
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, "6 of 10 labelled images have no result", "result_summary.json")
    proc, doc = score(tmp_path, result_dir, label_file, "--allow-missing")
    assert doc == guide_json(4, 1000, ("50.0%", "50.0%", "50.0%", "75.0%", "75.0%"))
    note = [line for line in proc.stderr.splitlines() if "ignored 6 other result" in line]
    assert len(note) == 1 and "result_summary.json" in note[0]
    _, doc = score(tmp_path, result_dir, label_file, "--ignore-summary")
    assert doc == guide_json(10, 1000)


def test_summary_listing_a_missing_result_is_refused(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    write_summary(result_dir, [result_file_name(image_name(i), 0, "TXT") for i in range(10)] + ["gone_0.txt"])
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, str(result_dir / "gone_0.txt"), "result_summary.json", "--ignore-summary")
    assert doc is None


def test_duplicate_label_with_the_same_class_is_accepted(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    lines = label_file.read_text().splitlines()
    label_file.write_text("\n".join(lines + [lines[3], lines[3].replace(".JPEG", ".png")]) + "\n")
    _, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)


@pytest.mark.parametrize("content", ['{"throughput": 1}', "not json", '{"NPU_compute_time": {}, "throughput": 0}'])
def test_unusable_summary_is_named_and_every_result_scored(tmp_path: Path, content: str) -> None:
    result_dir, label_file = make_case(tmp_path)
    summary_path_for(result_dir).write_text(content)
    proc, doc = score(tmp_path, result_dir, label_file)
    assert doc == guide_json(10, 1000)
    warning = [line for line in proc.stderr.splitlines() if "result_summary.json" in line]
    assert len(warning) == 1 and "scoring every result" in warning[0]


def test_label_file_with_bom_and_crlf_scores_like_a_plain_one(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    _, plain = score(tmp_path, result_dir, label_file)
    label_file.write_bytes(b"\xef\xbb\xbf" + label_file.read_bytes().replace(b"\n", b"\r\n"))
    proc, doc = score(tmp_path, result_dir, label_file)
    assert doc == plain == guide_json(10, 1000) and "Traceback" not in proc.stderr


def test_duplicate_label_with_another_class_names_both_lines(tmp_path: Path) -> None:
    result_dir, label_file = make_case(tmp_path)
    lines = label_file.read_text().splitlines()
    name, label = lines[3].split()
    label_file.write_text("\n".join(lines + [f"{name} {(int(label) + 1) % 1000}"]) + "\n")
    proc, doc = score(tmp_path, result_dir, label_file, check=False)
    assert_one_line_error(proc, f"{label_file}, line 11", f"class {label} on line 4")
    assert doc is None

"""prepare_imagenet.py: every common layout of the ImageNet validation set into the guide's, on small fakes
(:mod:`imagenet_fakes`: the official tar with the devkit, a flat folder, an ImageFolder, the Kaggle download)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from imagenet_fakes import IMAGES, LABELLED, SYNSET_FILE, Fake, all_wnids

from conftest import load_script, run_in_process
from senet_infer import imagenet
from senet_infer.labels import read_label_file

SCRIPT = "prepare_imagenet.py"
MAIN = load_script(SCRIPT).main


def run(*args: object, check: bool = True):
    return run_in_process(MAIN, *args, prog=SCRIPT, check=check)


def tree_digest(root: Path) -> str:
    """Names, kinds and bytes of everything under ``root`` (a file: its bytes)."""
    digest = hashlib.sha256()
    paths = [root] if root.is_file() else sorted(root.rglob("*"))
    for path in paths:
        digest.update(str(path.relative_to(root.parent)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


def out_labels(out: Path) -> str:
    return (out / "val_label.txt").read_text()


def assert_refused(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --------------------------------------------------------------------------- the data file


def test_synset_file_lists_the_1000_classes_in_sorted_order() -> None:
    wnids = all_wnids()
    assert len(wnids) == 1000 and len(set(wnids)) == 1000 and wnids == sorted(wnids)
    classes = imagenet.synsets()
    assert list(classes.wnids) == wnids and all(name.strip() for name in classes.names)
    assert classes.name(0).startswith("tench") and classes.name(999).startswith("toilet tissue")
    assert classes.index["n01440764"] == 0 and classes.index["n15075141"] == 999
    assert "Source:" in SYNSET_FILE.read_text().split("\n", 6)[3]


# --------------------------------------------------------------------------- every layout, one label file


def test_every_layout_gives_the_same_labels_and_leaves_the_source_alone(fake: Fake, tmp_path: Path) -> None:
    devkit_tar, devkit_dir, meta = fake.devkit()
    flat, image_folder, kaggle, tar = fake.flat(), fake.image_folder(), fake.kaggle(), fake.tar()
    guide = tmp_path / "guide_labels.txt"
    guide.write_text(fake.expected)
    ground_truth = devkit_dir / "data" / "ILSVRC2012_validation_ground_truth.txt"
    cases = {
        "tar+devkit tar.gz": (tar, "--devkit", devkit_tar),
        "tar+ground truth+meta.mat": (tar, "--labels", ground_truth, "--devkit", meta),
        "flat+devkit folder": (flat, "--devkit", devkit_dir),
        "flat+Kaggle CSV": (flat, "--labels", kaggle / "LOC_val_solution.csv"),
        "flat+guide file": (flat, "--labels", guide),
        "ImageFolder": (image_folder,),
        "ImageFolder+ground truth": (image_folder, "--labels", ground_truth, "--devkit", meta),
        "Kaggle root": (kaggle,),
    }
    sources = [devkit_tar, devkit_dir, flat, image_folder, kaggle, tar, guide]
    before = {path: tree_digest(path) for path in sources}
    for number, (case, args) in enumerate(cases.items()):
        out = tmp_path / f"out{number}"
        proc = run(*args, "--out", out)
        assert out_labels(out) == fake.expected, case
        union = out / "val_union"
        assert sorted(os.listdir(union)) == sorted(fake.images), case
        for name, data in fake.images.items():
            assert (union / name).read_bytes() == data
            assert (union / name).is_symlink() != (case.startswith("tar")), case  # linked, or extracted once
        line = proc.stdout.strip()
        assert len(line.splitlines()) == 1 and f"{IMAGES} images" in line and f"{IMAGES} labels" in line, line
        absent = 0 if case in ("ImageFolder", "flat+guide file") else LABELLED - IMAGES
        assert f"{absent} labelled images not present" in line, (case, line)
        assert f"{len(set(fake.expected.split()[1::2]))} classes present" in line
    assert {path: tree_digest(path) for path in sources} == before


def test_devkit_ids_without_meta_mat_would_give_other_classes(fake: Fake, tmp_path: Path) -> None:
    """The fake devkit's IDs are not the sorted order: read as class numbers they would be wrong."""
    naive = "".join(f"ILSVRC2012_val_{n:08d}.JPEG {fake.devkit_id[fake.wnid[n]] - 1}\n" for n in range(1, IMAGES + 1))
    assert naive != fake.expected


def test_rerun_is_a_no_op_and_copy_copies(fake: Fake, tmp_path: Path) -> None:
    flat = fake.flat()
    out = tmp_path / "out"
    guide = tmp_path / "labels.txt"
    guide.write_text(fake.expected)
    run(flat, "--labels", guide, "--out", out)
    stamp = (out / "val_label.txt").stat().st_mtime_ns
    again = run(flat, "--labels", guide, "--out", out)
    assert "already up to date" in again.stdout and "nothing written" in again.stdout
    assert (out / "val_label.txt").stat().st_mtime_ns == stamp
    copied = run(flat, "--labels", guide, "--out", out, "--copy")
    assert f"{IMAGES} copies" in copied.stdout
    assert not any(p.is_symlink() for p in (out / "val_union").iterdir()) and out_labels(out) == fake.expected
    assert not [p for p in out.iterdir() if p.name.startswith(".val_union")]  # no temporaries left
    half_built = out / ".val_union.k1ll3d.tmp"  # what a run killed while linking leaves
    half_built.mkdir()
    (half_built / "ILSVRC2012_val_00000001.JPEG").symlink_to(flat / "ILSVRC2012_val_00000001.JPEG")
    assert "already up to date" in run(flat, "--labels", guide, "--out", out, "--copy").stdout
    assert not half_built.exists() and (flat / "ILSVRC2012_val_00000001.JPEG").is_file()


def test_tar_is_extracted_once(fake: Fake, tmp_path: Path) -> None:
    devkit_tar, _, _ = fake.devkit()
    tar, out = fake.tar(), tmp_path / "out"
    run(tar, "--devkit", devkit_tar, "--out", out)
    first = {p.name: p.stat().st_mtime_ns for p in (out / "val_union").iterdir()}
    again = run(tar, "--devkit", devkit_tar, "--out", out)
    assert "already up to date" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "val_union").iterdir()} == first


def test_out_holding_another_dataset_is_refused_unless_forced(fake: Fake, tmp_path: Path) -> None:
    flat, image_folder = fake.flat(), fake.image_folder()
    out = tmp_path / "out"
    run(image_folder, "--out", out)
    guide = tmp_path / "labels.txt"
    guide.write_text(fake.expected)
    proc = run(flat, "--labels", guide, "--out", out, check=False)
    assert_refused(proc, str(out), "another dataset", str(image_folder.resolve()), str(flat.resolve()), "--force")
    run(flat, "--labels", guide, "--out", out, "--force")
    assert os.readlink(out / "val_union" / "ILSVRC2012_val_00000001.JPEG").startswith(str(flat))
    hand_made = tmp_path / "hand"
    (hand_made / "val_union").mkdir(parents=True)
    assert_refused(run(flat, "--labels", guide, "--out", hand_made, check=False), "another dataset",
                   "not written by prepare_imagenet.py")


def test_subset_unlabelled_images_and_names_with_spaces(fake: Fake, tmp_path: Path) -> None:
    """Images without a label are counted and left out; an ImageFolder image may have spaces in its name."""
    folder = fake.image_folder()
    wnid = sorted(os.listdir(folder))[0]
    (folder / wnid / "my photo 1.JPEG").write_bytes(fake.images["ILSVRC2012_val_00000001.JPEG"])
    out = tmp_path / "out"
    run(folder, "--out", out)
    labels = read_label_file(out / "val_label.txt")
    assert labels.labels["my photo 1"].cls == all_wnids().index(wnid)
    assert (out / "val_union" / "my photo 1.JPEG").is_file()
    flat = fake.flat()
    (flat / "holiday.jpg").write_bytes(fake.images["ILSVRC2012_val_00000002.JPEG"])
    proc = run(flat, "--labels", fake.kaggle() / "LOC_val_solution.csv", "--out", tmp_path / "out2")
    assert "1 images without a label left out" in proc.stdout
    assert not (tmp_path / "out2" / "val_union" / "holiday.jpg").exists()
    assert out_labels(tmp_path / "out2") == fake.expected


# --------------------------------------------------------------------------- bad input: one line, nothing written


def bad_cases(fake: Fake, tmp_path: Path) -> dict:
    _, devkit_dir, meta = fake.devkit()
    truth = devkit_dir / "data" / "ILSVRC2012_validation_ground_truth.txt"
    cases = {}

    folder = fake.image_folder()
    (folder / "n99999999").mkdir()
    cases["class folder no synset"] = ((folder,), (str(folder / "n99999999"), "no ImageNet-1k synset"))

    not_leaf = tmp_path / "gt_internal.txt"
    not_leaf.write_text(fake.ground_truth_text().replace("\n", "\n1003\n", 1))
    cases["ground truth ID not a leaf"] = ((fake.flat(), "--labels", not_leaf, "--devkit", meta),
                                          (f"{not_leaf}, line 2", "1003", "not a leaf", str(meta)))
    cases["ground truth without devkit"] = ((tmp_path / "flat", "--labels", truth),
                                            (str(truth), "--devkit", "ILSVRC2012_ID"))

    kaggle = fake.kaggle()
    csv = kaggle / "LOC_val_solution.csv"
    csv.write_text(csv.read_text().replace("\n", "\nILSVRC2012_val_00000003,n12345678 1 2 3 4\n", 1))
    cases["CSV unknown synset"] = ((kaggle,), (f"{csv}, line 2", "n12345678", "no ImageNet-1k class"))

    twice = tmp_path / "twice"
    for wnid in ("n01440764", "n01443537"):
        (twice / wnid).mkdir(parents=True)
        (twice / wnid / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"x")
    cases["same name in two class folders"] = ((twice,), ("two images named", "n01440764", "n01443537"))

    evil = fake.tar({"../evil.JPEG": b"x"}, name="evil.tar")
    cases["tar member outside the root"] = ((evil, "--labels", truth, "--devkit", meta),
                                            (str(evil), "'../evil.JPEG'", "outside the archive's root"))

    one_based = tmp_path / "one_based.txt"
    one_based.write_text("".join(f"ILSVRC2012_val_{n:08d}.JPEG {n % 2 * 999 + 1}\n" for n in range(1, IMAGES + 1)))
    cases["1-based classes"] = ((tmp_path / "flat", "--labels", one_based),
                                (str(one_based), "ILSVRC2012_ID", "--devkit"))
    disagreeing = tmp_path / "disagreeing.txt"
    first_class = int(fake.expected.split()[1])
    disagreeing.write_text(fake.expected.replace(f" {first_class}\n", f" {(first_class + 1) % 1000}\n", 1))
    cases["labels disagree with the class folder"] = ((fake.image_folder("val2"), "--labels", disagreeing),
                                                      (f"{disagreeing}, line 1", "but is in class folder"))
    cases["flat folder, no labels"] = ((tmp_path / "flat",), (str(tmp_path / "flat"), "--labels"))
    return cases


def test_bad_input_is_one_line_and_nothing_is_written(fake: Fake, tmp_path: Path) -> None:
    cases = bad_cases(fake, tmp_path)
    for number, (case, (args, needles)) in enumerate(cases.items()):
        sources = [Path(a) for a in args if Path(str(a)).exists()]
        before = {path: tree_digest(path) for path in sources}
        out = tmp_path / f"out{number}"
        proc = run(*args, "--out", out, check=False)
        assert_refused(proc, *needles)
        assert not out.exists(), case
        assert {path: tree_digest(path) for path in sources} == before, case


def test_source_that_is_the_output_is_refused(fake: Fake, tmp_path: Path) -> None:
    """The guide's own folder given as SOURCE would be replaced by links to itself."""
    out = tmp_path / "ImageNet"
    (out / "val_union").mkdir(parents=True)
    flat = fake.flat()
    for path in flat.iterdir():
        path.rename(out / "val_union" / path.name)
    guide = tmp_path / "labels.txt"
    guide.write_text(fake.expected)
    assert_refused(run(out / "val_union", "--labels", guide, "--out", out, "--force", check=False),
                   "is or holds the source")

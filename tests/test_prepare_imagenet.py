"""prepare_imagenet.py: every common layout of the ImageNet validation set into the guide's, on small fakes
(:mod:`imagenet_fakes`: the official tar with the devkit, a flat folder, an ImageFolder, the Kaggle download)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
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
    assert "1 image without a label left out" in proc.stdout
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
                   "val_union: is the source itself")


# --------------------------------------------------------------------------- answers that must never be silent


def member_offsets(archive: Path) -> list[tuple[int, int]]:
    """(header offset, end of data) of each member, as tarfile reads them from a whole archive."""
    import tarfile

    with tarfile.open(archive) as tar:
        return [(m.offset, m.offset_data + m.size) for m in tar.getmembers()]


def test_a_damaged_or_cut_tar_is_refused_naming_how_far_it_got(fake: Fake, tmp_path: Path) -> None:
    """Python's tarfile stops at a damaged header as if the archive ended there: GNU tar says 'Skipping to next
    header' and fails. A header overwritten in the middle, a download cut inside a member and one cut between
    members (no end-of-archive blocks) are each one line naming the file and how far it got; nothing is written."""
    devkit_tar, _, _ = fake.devkit()
    whole = fake.tar().read_bytes()
    offsets = member_offsets(fake.root / "ILSVRC2012_img_val.tar")
    middle, middle_end = offsets[IMAGES // 2]
    damaged = bytearray(whole)
    damaged[middle:middle + 512] = np.random.default_rng(23).integers(0, 256, 512, dtype=np.uint8).tobytes()
    cases = {
        "damaged header": (bytes(damaged), ("damaged tar header", f"at byte {middle:,}", f"after {IMAGES // 2} members",
                                           "corrupt")),
        "cut inside a member": (whole[:middle_end - 100], ("cut short", f"after {IMAGES // 2 + 1} members",
                                                           "interrupted download")),
        "cut between members": (whole[:middle], (f"ends at byte {middle:,}", f"after {IMAGES // 2} members",
                                                 "without its end-of-archive blocks")),
        "zeros over a header": (whole[:middle] + bytes(512) + whole[middle + 512:],
                                ("a zero block at byte", "then data again", "corrupt")),
    }
    for number, (case, (data, needles)) in enumerate(cases.items()):
        archive = tmp_path / f"case{number}" / "ILSVRC2012_img_val.tar"
        archive.parent.mkdir()
        archive.write_bytes(data)
        out = tmp_path / f"out{number}"
        assert_refused(run(archive, "--devkit", devkit_tar, "--out", out, check=False), str(archive), *needles)
        assert not out.exists() and archive.read_bytes() == data, case


def test_a_short_official_tar_is_said_and_another_name_is_not(fake: Fake, tmp_path: Path) -> None:
    devkit_tar, _, _ = fake.devkit()
    official = run(fake.tar(), "--devkit", devkit_tar, "--out", tmp_path / "a")
    assert f"holds {IMAGES} images; the official ILSVRC2012_img_val.tar holds 50,000" in official.stderr
    assert ": warning: " in official.stderr and len(official.stderr.splitlines()) == 1
    assert out_labels(tmp_path / "a") == fake.expected
    subset = run(fake.tar(name="my_subset.tar"), "--devkit", devkit_tar, "--out", tmp_path / "b")
    assert subset.stderr == "" and out_labels(tmp_path / "b") == fake.expected


def pasted_ids(fake: Fake, folder: Path) -> str:
    """What ``paste -d' ' <(ls FOLDER) ILSVRC2012_validation_ground_truth.txt`` gives: name, then the devkit's ID."""
    ids = fake.ground_truth_text().splitlines()
    return "".join(f"{name} {ids[n]}\n" for n, name in enumerate(sorted(os.listdir(folder))))


def test_image_and_devkit_id_lines_with_devkit_are_mapped_through_meta_mat(fake: Fake, tmp_path: Path) -> None:
    """``<image> <ILSVRC2012_ID>`` lines with --devkit: the numbers are the devkit's IDs (its own, shuffled order),
    not the model's classes; every label comes out right, from the flat folder and from the tar."""
    devkit_tar, _, meta = fake.devkit()
    flat = fake.flat()
    pasted = tmp_path / "pasted.txt"
    pasted.write_text(pasted_ids(fake, flat))
    for number, args in enumerate(((flat, "--labels", pasted, "--devkit", meta),
                                   (fake.tar(), "--labels", pasted, "--devkit", devkit_tar))):
        out = tmp_path / f"out{number}"
        proc = run(*args, "--out", out)
        assert out_labels(out) == fake.expected
        assert "('<image> <ILSVRC2012_ID>') mapped through" in proc.stdout
    zero = tmp_path / "zero_based.txt"  # a guide-format file given --devkit by mistake: its class 0 is no ID
    zero.write_text("ILSVRC2012_val_00000002.JPEG 7\nILSVRC2012_val_00000001.JPEG 0\n")
    assert_refused(run(flat, "--labels", zero, "--devkit", meta, "--out", tmp_path / "z", check=False),
                   f"{zero}, line 2", "ILSVRC2012_ID 0 is not a leaf", "without --devkit")
    assert not (tmp_path / "z").exists()


def test_a_devkit_that_cannot_apply_is_refused_not_ignored(fake: Fake, tmp_path: Path) -> None:
    _, devkit_dir, meta = fake.devkit()
    kaggle, image_folder = fake.kaggle(), fake.image_folder()
    for number, (args, needles) in enumerate((
            ((kaggle, "--devkit", meta), ("LOC_val_solution.csv", "--devkit", "does not apply")),
            ((fake.flat(), "--labels", kaggle / "LOC_val_solution.csv", "--devkit", meta), ("does not apply",)),
            ((image_folder, "--devkit", meta), (str(image_folder), "class folders name the classes", str(meta),
                                                "leave --devkit out")))):
        out = tmp_path / f"out{number}"
        assert_refused(run(*args, "--out", out, check=False), *needles)
        assert not out.exists()
    # with its ground truth the devkit does apply to an ImageFolder: each image's class is checked against it
    proc = run(image_folder, "--devkit", devkit_dir, "--out", tmp_path / "checked")
    assert out_labels(tmp_path / "checked") == fake.expected and "the devkit's ground truth" in proc.stdout


def subset_folder(fake: Fake, root: Path, classes: list[int]) -> Path:
    """A flat folder of one image per class of ``classes`` (the fake's JPEGs, renamed)."""
    folder = root / "subset"
    folder.mkdir()
    data = list(fake.images.values())
    for n in range(len(classes)):
        (folder / f"ILSVRC2012_val_{n + 1:08d}.JPEG").write_bytes(data[n % len(data)])
    return folder


def test_a_one_based_subset_is_said_in_the_summary_line(fake: Fake, tmp_path: Path) -> None:
    """``name class+1`` for a subset without the last class cannot be refused (a subset may lack class 0), but
    many classes and never 0 are said on the summary line; a 0-based file of the same subset is not."""
    classes = sorted(np.random.default_rng(3).choice(np.arange(1, 999), 150, replace=False).tolist())
    folder = subset_folder(fake, tmp_path, classes)
    names = sorted(os.listdir(folder))
    zero_based = [0] + classes[1:]
    for number, (labels, noted) in enumerate((([c + 1 for c in zero_based], True), (zero_based, False),
                                              (classes[:99], False))):
        label_file = tmp_path / f"labels{number}.txt"
        label_file.write_text("".join(f"{name} {c}\n" for name, c in zip(names, labels)))
        line = run(folder, "--labels", label_file, "--out", tmp_path / f"out{number}").stdout.strip()
        note = f"no label is class 0 although {len(set(labels))} classes are present"
        assert (note in line) == noted, line
        if noted:
            assert "if the label file counts classes from 1, every label is one too high" in line
            assert len(line.splitlines()) == 1


# --------------------------------------------------------------------------- what a new user meets on the way


def test_the_folder_holding_val_is_told_to_pass_val_itself(fake: Fake, tmp_path: Path) -> None:
    val = fake.image_folder("download/val")
    proc = run(val.parent, "--out", tmp_path / "out", check=False)
    assert_refused(proc, "class folder 'val' is no ImageNet-1k synset",
                   f"{val} itself looks like the ImageFolder ({len(os.listdir(val))} class folders): pass it")
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    flat = wrapper / "images"
    fake.flat().rename(flat)
    assert_refused(run(wrapper, "--out", tmp_path / "out", check=False),
                   f"{flat} itself looks like a flat image folder ({IMAGES} images): pass it")


def test_a_source_without_labels_names_the_devkit_first(fake: Fake, tmp_path: Path) -> None:
    tar = fake.tar()
    assert_refused(run(tar, "--out", tmp_path / "out", check=False), str(tar), "carries no labels",
                   "pass --devkit ILSVRC2012_devkit_t12.tar.gz (the simplest")


def test_files_named_as_images_that_are_none_are_named_at_preparation(fake: Fake, tmp_path: Path) -> None:
    """Text, an empty file and a cut JPEG named .JPEG are refused by name, while the source can be fixed; a JPEG
    with bytes after its end still passes, and a broken file without a label is only left out."""
    devkit_tar, _, _ = fake.devkit()
    jpeg = fake.images["ILSVRC2012_val_00000003.JPEG"]
    broken = {"text": b"<html>404 Not Found</html>\n", "empty": b"", "cut": jpeg[: len(jpeg) // 2]}
    needles = {"text": "is no JPEG or PNG image (it starts with b'<html>4", "empty": "is empty",
               "cut": "is a truncated or damaged JPEG"}
    for number, (kind, data) in enumerate(broken.items()):
        flat = fake.root / f"flat{number}"
        fake.flat().rename(flat)
        (flat / "ILSVRC2012_val_00000003.JPEG").write_bytes(data)
        out = tmp_path / f"out{number}"
        assert_refused(run(flat, "--devkit", devkit_tar, "--out", out, check=False),
                       str(flat / "ILSVRC2012_val_00000003.JPEG"), needles[kind], "fix or remove it in the source")
        assert not out.exists()
    tar = fake.tar({"ILSVRC2012_val_00000031.JPEG": broken["text"]}, name="with_text.tar")
    assert_refused(run(tar, "--devkit", devkit_tar, "--out", tmp_path / "t", check=False),
                   f"{tar}: member 'ILSVRC2012_val_00000031.JPEG' is no JPEG or PNG image")
    flat = fake.flat()
    (flat / "ILSVRC2012_val_00000004.JPEG").write_bytes(fake.images["ILSVRC2012_val_00000004.JPEG"] + bytes(300) +
                                                        b"camera notes")  # bytes after the image: Pillow reads it
    (flat / "notes.jpg").write_text("not an image, and without a label")
    proc = run(flat, "--devkit", devkit_tar, "--out", tmp_path / "ok")
    assert "1 image without a label left out" in proc.stdout and out_labels(tmp_path / "ok") == fake.expected


def test_out_inside_or_around_the_source_is_named_for_what_it_is(fake: Fake, tmp_path: Path) -> None:
    flat = fake.flat()
    guide = tmp_path / "labels.txt"
    guide.write_text(fake.expected)
    assert_refused(run(flat, "--labels", guide, "--out", flat / "prepared", check=False),
                   f"{flat / 'prepared'}: lies inside the source {flat}")
    around = tmp_path / "ImageNet"
    (around / "val_union").mkdir(parents=True)
    flat.rename(around / "val_union" / "flat")
    assert_refused(run(around / "val_union" / "flat", "--labels", guide, "--out", around, "--force", check=False),
                   f"{around / 'val_union'}: holds the source", "which replacing it would remove")


def test_one_image_one_class_reads_in_the_singular(fake: Fake, tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "ILSVRC2012_val_00000001.JPEG").write_bytes(fake.images["ILSVRC2012_val_00000001.JPEG"])
    labels = tmp_path / "one.txt"
    labels.write_text("ILSVRC2012_val_00000001.JPEG 7\n")
    line = run(folder, "--labels", labels, "--out", tmp_path / "out").stdout.strip()
    for needle in (": 1 image;", "(1 link)", "(1 label, 1 class present)", "0 labelled images not present",
                   "0 images without a label"):
        assert needle in line, (needle, line)
    again = run(folder, "--labels", labels, "--out", tmp_path / "out").stdout
    assert "already up to date (1 label, 1 class present)" in again
    labels.write_text("ILSVRC2012_val_00000002.JPEG 7\n")
    assert_refused(run(folder, "--labels", labels, "--out", tmp_path / "other", check=False),
                   "its one image 'ILSVRC2012_val_00000001.JPEG' has no label in")

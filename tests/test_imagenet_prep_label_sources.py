"""The labels that go with SOURCE, read by content: Kaggle's CSV, the devkit's ground truth (through meta.mat), guide files."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagenet_fakes import LABELLED, Fake, all_wnids

from senet_infer.errors import PipelineError
from senet_infer.imagenet_prep.label_sources import read_devkit, read_label_source, val_image_stem


@pytest.fixture()
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


def expected_classes(fake: Fake) -> dict:
    wnids = all_wnids()
    return {val_image_stem(n): wnids.index(fake.wnid[n]) for n in range(1, LABELLED + 1)}


def test_kaggle_csv_gives_the_sorted_wnid_index(fake: Fake) -> None:
    labels = read_label_source(fake.kaggle() / "LOC_val_solution.csv")
    assert labels.classes == expected_classes(fake) and labels.what == "Kaggle's LOC_val_solution.csv"


def test_ground_truth_is_mapped_through_any_form_of_the_devkit(fake: Fake) -> None:
    archive, folder, meta = fake.devkit()
    truth = folder / "data" / "ILSVRC2012_validation_ground_truth.txt"
    with pytest.raises(PipelineError, match="pass --devkit"):
        read_label_source(truth)
    for devkit in (archive, folder, meta):
        assert read_label_source(truth, read_devkit(devkit)).classes == expected_classes(fake), devkit
    assert read_devkit(archive).ground_truth is not None and read_devkit(meta).ground_truth is None


def test_guide_file_and_unreadable_first_line(fake: Fake, tmp_path: Path) -> None:
    guide = tmp_path / "val_label.txt"
    guide.write_text("ILSVRC2012_val_00000001.JPEG 7\n")
    labels = read_label_source(guide)
    assert labels.classes == {"ILSVRC2012_val_00000001": 7} and "guide's format" in labels.what
    guide.write_text("ILSVRC2012_val_00000001.JPEG 1000\n")
    with pytest.raises(PipelineError, match="class 1000 is out of range 0..999"):
        read_label_source(guide)
    bad = tmp_path / "bad.txt"
    bad.write_text("justoneword\n")
    with pytest.raises(PipelineError, match=r"bad.txt, line 1: .*devkit ground truth"):
        read_label_source(bad)

"""Which layout SOURCE is: flat folder, ImageFolder, Kaggle root, tar; its images in natural order, clashes refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from imagenet_fakes import IMAGES, Fake

from senet_infer.errors import PipelineError
from senet_infer.imagenet_prep.layout import KAGGLE_VAL, detect_source, source_inputs


@pytest.fixture()
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


def test_every_layout_is_named_with_its_images_in_order(fake: Fake) -> None:
    names = sorted(fake.images)
    for path, words, folders in ((fake.flat(), "a flat image folder", 0),
                                 (fake.image_folder(), "an ImageFolder of", len(set(fake.wnid[n] for n in range(1, IMAGES + 1)))),
                                 (fake.kaggle(), "the Kaggle download (a flat image folder in ILSVRC", 0),
                                 (fake.tar(), f"a tar archive of {IMAGES} images", 0)):
        source = detect_source(path)
        assert source.layout.startswith(words), source.layout
        assert [image.name for image in source.images] == names and source.class_folders == folders
    kaggle = detect_source(fake.root / "kaggle")
    assert kaggle.default_labels == fake.root / "kaggle" / "LOC_val_solution.csv"


def test_source_inputs_name_what_a_rerun_must_watch(fake: Fake) -> None:
    root = fake.kaggle()
    assert source_inputs(root)[:3] == [root, root / KAGGLE_VAL, root / "LOC_val_solution.csv"]
    folder = fake.image_folder()
    assert source_inputs(folder)[0] == folder and all(p.parent == folder for p in source_inputs(folder)[1:])
    assert source_inputs(fake.tar()) == [fake.root / "ILSVRC2012_img_val.tar"]


def test_two_images_of_one_stem_are_refused(fake: Fake) -> None:
    flat = fake.flat()
    (flat / "ILSVRC2012_val_00000001.png").write_bytes(b"")
    with pytest.raises(PipelineError, match="two images named 'ILSVRC2012_val_00000001'"):
        detect_source(flat)


def test_a_tar_member_outside_the_root_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../x.JPEG")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(PipelineError, match="lies outside the archive's root"):
        detect_source(archive)


def test_a_folder_that_is_no_synset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src" / "cats").mkdir(parents=True)
    with pytest.raises(PipelineError, match="class folder 'cats' is no ImageNet-1k synset"):
        detect_source(tmp_path / "src")

"""A fake ImageNet validation set in every layout (flat folder, ImageFolder, Kaggle root, tar, devkit), for the tests.

The same few dozen tiny JPEGs are laid out as the official tar with the devkit, a flat folder, an
ImageFolder (a subset of the classes), the Kaggle download and a guide-format label file. The devkit's
``meta.mat`` is written with SciPy's ``savemat`` in the devkit's field layout, internal nodes
included, and numbers the classes in a shuffled order: a tool that ignored it would get the classes wrong.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from senet_infer import imagenet

SYNSET_FILE = Path(imagenet.__file__).resolve().parent / "data" / "imagenet1k_synsets.txt"

IMAGES = 30  # ILSVRC2012_val_00000001 .. 30 are on disk
LABELLED = 34  # the ground truth and the CSV also name 31 .. 34, which are absent
CLASS_INDICES = (0, 1, 7, 500, 998, 999)  # a subset of the classes, first and last included
META_FIELDS = ("ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
               "num_train_images")


def all_wnids() -> list[str]:
    """The 1000 WordNet IDs, sorted, as the shipped data file lists them (checked on its own below)."""
    return [line.split()[0] for line in SYNSET_FILE.read_text().splitlines() if line and not line.startswith("#")]


def write_meta(path: Path, devkit_order: list[str], rng: np.random.Generator) -> None:
    """The devkit's meta.mat: 1000 leaves numbered 1..1000 in ``devkit_order``, then internal nodes."""
    from scipy.io import savemat

    internal = [(1001 + i, f"n0000{i:04d}", 3) for i in range(8)]
    records = [(i + 1, wnid, 0) for i, wnid in enumerate(devkit_order)] + internal
    rows = np.empty((len(records), 1), dtype=[(name, "O") for name in META_FIELDS])
    for row, index in enumerate(rng.permutation(len(records))):  # the struct's own order is not the ID order
        synset_id, wnid, children = records[index]
        rows[row, 0] = (np.array([[synset_id]], np.uint16), np.array([wnid]), np.array([f"words of {wnid}"]),
                        np.array(["gloss"]), np.array([[children]], np.uint8),
                        np.array([[1, 2, 3]][:children > 0], np.float64).reshape(1, -1) if children else
                        np.zeros((1, 0)), np.array([[0]], np.uint8), np.array([[1300]], np.uint16))
    savemat(str(path), {"synsets": rows})


class Fake:
    """One fake ImageNet validation set in every layout, under ``root``."""

    def __init__(self, root: Path, seed: int = 5) -> None:
        rng = np.random.default_rng(seed)
        self.root = root
        wnids = all_wnids()
        self.wnid = {n: wnids[CLASS_INDICES[int(rng.integers(len(CLASS_INDICES)))]] for n in range(1, LABELLED + 1)}
        self.expected = "".join(f"ILSVRC2012_val_{n:08d}.JPEG {wnids.index(self.wnid[n])}\n"
                                for n in range(1, IMAGES + 1))
        self.images = {}
        for n in range(1, IMAGES + 1):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (8 + n % 5, 10, 3), dtype=np.uint8)).save(buf, "JPEG")
            self.images[f"ILSVRC2012_val_{n:08d}.JPEG"] = buf.getvalue()
        # The devkit numbers the classes in its own order: here a permutation of the sorted one.
        self.devkit_order = [wnids[i] for i in rng.permutation(len(wnids))]
        self.devkit_id = {wnid: i + 1 for i, wnid in enumerate(self.devkit_order)}

    def ground_truth_text(self) -> str:
        return "".join(f"{self.devkit_id[self.wnid[n]]}\n" for n in range(1, LABELLED + 1))

    def flat(self) -> Path:
        folder = self.root / "flat"
        folder.mkdir()
        for name, data in self.images.items():
            (folder / name).write_bytes(data)
        return folder

    def image_folder(self, name: str = "val") -> Path:
        folder = self.root / name
        for n, (name, data) in enumerate(self.images.items(), start=1):
            (folder / self.wnid[n]).mkdir(parents=True, exist_ok=True)
            (folder / self.wnid[n] / name).write_bytes(data)
        return folder

    def devkit(self) -> tuple[Path, Path, Path]:
        """(the devkit tar.gz, its unpacked folder, its meta.mat)."""
        folder = self.root / "devkit" / "ILSVRC2012_devkit_t12"
        (folder / "data").mkdir(parents=True)
        write_meta(folder / "data" / "meta.mat", self.devkit_order, np.random.default_rng(1))
        (folder / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text(self.ground_truth_text())
        archive = self.root / "ILSVRC2012_devkit_t12.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(folder, arcname="ILSVRC2012_devkit_t12")
        return archive, folder.parent / "ILSVRC2012_devkit_t12", folder / "data" / "meta.mat"

    def tar(self, extra: dict[str, bytes] | None = None, name: str = "ILSVRC2012_img_val.tar") -> Path:
        archive = self.root / name
        with tarfile.open(archive, "w") as tar:
            for member, data in {**self.images, **(extra or {})}.items():
                info = tarfile.TarInfo(member)
                info.size, info.mtime = len(data), 1_300_000_000
                tar.addfile(info, io.BytesIO(data))
        return archive

    def kaggle(self) -> Path:
        root = self.root / "kaggle"
        val = root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
        val.mkdir(parents=True)
        for name, data in self.images.items():
            (val / name).write_bytes(data)
        (root / "LOC_synset_mapping.txt").write_text(SYNSET_FILE.read_text().split("\n", 5)[-1])
        rows = [f"ILSVRC2012_val_{n:08d},{self.wnid[n]} 1 2 30 40 {self.wnid[n]} 5 6 7 8"
                for n in range(LABELLED, 0, -1)]  # Kaggle's rows are in no particular order
        (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
        return root

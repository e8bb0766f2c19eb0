"""The steps that resolve what the others read: the weights, the dataset (made when it is a demo set or an
``--imagenet`` source), and the int8 calibration set. Each returns the :class:`~.state.Run` later steps get."""

from __future__ import annotations

import os
from typing import List, Sequence, Tuple

from ..demo import DEMO_DATA_NOTE, DEMO_WARNING
from ..errors import PipelineError
from ..fileio import atomic_write_text
from ..imagenet import IMAGES_DIRNAME, LABELS_NAME
from .engine import Unit
from .options import Options
from .state import Dataset, Run, Weights, config_aipp_op

DEMO_SEED = 0
DEMO_LABEL_BATCH = 32


def resolve_weights(run: Run) -> Run:
    """The checkpoint: the given one, the guide's (downloaded if absent), else the seeded demo one."""
    from ..model import DEMO_WEIGHTS_NAME, WEIGHTS_NAME, download_weights, is_demo_checkpoint, verify_weights

    opts = run.opts
    explicit = opts.checkpoint is not None
    path = opts.checkpoint if opts.checkpoint is not None else run.work / WEIGHTS_NAME
    print(f"  reads {run.rel(path)}")
    if not path.exists() and explicit:
        raise PipelineError(f"{path}: checkpoint not found")
    if not path.exists() and not opts.offline:
        print(f"  {path.name} absent: fetching the guide's weights")
        try:
            download_weights(path)
            print(f"  downloaded {run.rel(path)} (SHA-256 checked)")
        except PipelineError as exc:
            print(f"  download failed: {exc}")
    if path.exists():
        verify_weights(path)
        checkpoint = path
    else:
        demo = run.work / DEMO_WEIGHTS_NAME
        if demo.exists() and is_demo_checkpoint(demo):
            print(f"  using the existing seeded demo checkpoint {run.rel(demo)}")
        else:
            from ..model import write_demo_checkpoint

            print(f"  writing the seeded demo checkpoint {run.rel(demo)} (same keys and shapes as the real one)")
            write_demo_checkpoint(demo, seed=DEMO_SEED)
        checkpoint = demo
    weights = Weights(checkpoint, is_demo_checkpoint(checkpoint))
    if weights.demo:
        print(f"  WARNING: {DEMO_WARNING}")
    return run.with_weights(weights)


def _check_dataset_options(opts: Options) -> None:
    """Options that cannot go together are refused, never ignored."""
    if opts.imagenet is not None and (opts.data_dir is not None or opts.label_file is not None):
        raise PipelineError("--imagenet writes <work>/dataset/ImageNet itself: give it without --data-dir and "
                            "--label-file")
    if opts.imagenet is None and (opts.devkit is not None or opts.imagenet_labels is not None):
        raise PipelineError("--devkit and --imagenet-labels go with --imagenet SOURCE")


def check_imagenet_source(opts: Options) -> None:
    """``--imagenet SOURCE``, checked before the first step: every check of prepare_imagenet.py (nothing written),
    so that a bad source is said before the weights step's download, not after it."""
    _check_dataset_options(opts)
    if opts.imagenet is None:
        return
    from ..imagenet_prep import resolve

    print(f"checking --imagenet {opts.imagenet} before the first step", flush=True)
    try:
        resolve(opts.imagenet, devkit=opts.devkit, labels=opts.imagenet_labels)
    except PipelineError as exc:
        raise PipelineError(f"--imagenet: {exc}") from None


def resolve_dataset(run: Run) -> Run:
    """The images and labels: the given or default ImageNet folder, else a generated demo set."""
    opts, root = run.opts, run.paths.imagenet
    _check_dataset_options(opts)
    if opts.imagenet is not None:
        print(f"  {run.rel(opts.imagenet)} through prepare_imagenet.py into {run.rel(root)}")
        return run.with_dataset(Dataset(root / IMAGES_DIRNAME, root / LABELS_NAME, prepared=True))
    data_dir = opts.data_dir or root / IMAGES_DIRNAME
    label_file = opts.label_file or root / LABELS_NAME
    if data_dir.is_dir():
        if not label_file.is_file():
            raise PipelineError(f"{label_file}: label file not found (needed with {data_dir})")
        print(f"  images {run.rel(data_dir)}, labels {run.rel(label_file)}")
        return run.with_dataset(Dataset(data_dir, label_file))
    if opts.data_dir is not None:
        raise PipelineError(f"{data_dir}: image folder not found")
    demo = run.paths.demo
    print(f"  {run.rel(data_dir)} absent: using a generated demo set in {run.rel(demo)}")
    print(f"  NOTE: {DEMO_DATA_NOTE}")
    return run.with_dataset(Dataset(demo / IMAGES_DIRNAME, demo / LABELS_NAME, demo=True))


def dataset_units(run: Run) -> Sequence[Unit]:
    """What the dataset step makes: the prepared ``--imagenet`` set, the demo set, or nothing (the user's own)."""
    opts, data = run.opts, run.dataset
    if data.prepared:
        from ..imagenet_prep import source_inputs

        assert opts.imagenet is not None  # what made the dataset a prepared one
        extra = [p for p in (opts.devkit, opts.imagenet_labels) if p is not None]
        return [Unit("dataset", source_inputs(opts.imagenet) + extra, [data.images, data.labels],
                     {"source": str(opts.imagenet), "devkit": str(opts.devkit), "labels": str(opts.imagenet_labels)},
                     lambda: prepare_imagenet(run))]
    if data.demo:
        demo_set = [data.images, data.labels]
        return [Unit("dataset", [run.weights.path], demo_set, {"images": opts.demo_images, "seed": DEMO_SEED},
                     lambda: generate_demo_set(run), demo_set[:1])]
    return []


def prepare_imagenet(run: Run) -> None:
    """``prepare_imagenet.py SOURCE --out ./dataset/ImageNet``: any layout of the validation set into the guide's."""
    opts = run.opts
    assert opts.imagenet is not None  # only a prepared dataset's unit calls it
    args = [run.rel(opts.imagenet), "--out", run.rel(run.paths.imagenet)]
    if opts.devkit is not None:
        args += ["--devkit", run.rel(opts.devkit)]
    if opts.imagenet_labels is not None:
        args += ["--labels", run.rel(opts.imagenet_labels)]
    if opts.force:
        args.append("--force")  # what its refusal of an --out holding another dataset names: run_infer.sh's too
    run.shell.run(run.scripts.command("prepare_imagenet.py", args))


def generate_demo_set(run: Run) -> None:
    """Demo images of every kind the preprocessing handles, labelled with PyTorch's own top-1."""
    import numpy as np
    import torch

    from ..aipp import apply_aipp
    from ..labels import format_labels
    from ..model import inference_context, load_checkpoint
    from ..preprocess import EvalTransform, preprocess_file
    from ..synthetic import make_image_folder

    data = run.dataset
    images = make_image_folder(data.images, run.opts.demo_images, seed=DEMO_SEED)
    # No model is converted yet: the AIPP is the work folder's config, resolved as the converter will resolve it.
    aipp = config_aipp_op(run.paths.aipp_config, run.opts.batch_size)
    model = load_checkpoint(run.weights.path)
    labels: List[Tuple[str, int]] = []
    transform = EvalTransform()
    # PyTorch over every image: as costly as the fidelity check on all of them (a demo-only step; a real
    # dataset brings its labels).
    torch.set_num_threads(os.cpu_count() or 1)
    for start in range(0, len(images), DEMO_LABEL_BATCH):
        chunk = images[start:start + DEMO_LABEL_BATCH]
        batch = np.stack([preprocess_file(p, transform) for p in chunk])
        with inference_context():
            logits = model(torch.from_numpy(apply_aipp(batch, aipp)))
        labels += [(p.name, int(c)) for p, c in zip(chunk, logits.argmax(1).tolist())]
    atomic_write_text(data.labels, format_labels(labels))
    print(f"  generated {len(images)} images (RGB/grayscale/CMYK JPEG, palette/RGBA PNG) and their labels")


def calibration_needed(run: Run) -> Run:
    """Say why the calibrate step has nothing to do, or which images it calibrates on."""
    if run.opts.precision != "int8":
        print(f"  not needed at {run.opts.precision} (--precision int8 calibrates; the perf step calibrates when it "
              "measures int8)")
    else:
        print(f"  {run.calibration().note(run.rel)}")
    return run

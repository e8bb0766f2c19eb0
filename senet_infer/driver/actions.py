"""The guide's steps 1-5, int8 calibration and the fidelity check: each step's units and the figures it prints.

Each function receives the :class:`~.state.Run` the steps before it resolved; the table that orders them is
:data:`.steps.STEPS`.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Optional, Sequence

from ..errors import PipelineError
from ..fidelity import DEFAULT_MAX_IMAGES as DEFAULT_FIDELITY_MAX
from .engine import Unit
from .paths import precision_batch
from .state import Calibration, Run, model_aipp_op

if TYPE_CHECKING:
    from ..agreement import Agreement
    from ..metric import Prediction

LOWEST_CLASSES = 5  # classes with the lowest top-1 printed after the accuracy line
SANITY_TOP1_PERCENT = 1.0  # real weights under this top-1 on SANITY_MIN_IMAGES or more: the labels look wrong
SANITY_MIN_IMAGES = 500
SANITY_SHIFTED_PERCENT = 10.0  # top-1 against every label minus one from this on: a label file counting from 1


def preprocess(run: Run) -> None:
    """Step 1 (it removes the .bin files of images that are gone). The driver owns the .bin folder: one made
    from another image folder is redone (``--force``) rather than refused."""
    from ..preprocess import EvalTransform, made_elsewise

    bin_dir, images = run.paths.bin_dir, run.dataset.images
    other = made_elsewise(bin_dir, images, EvalTransform())
    if other is not None:
        print(f"  {run.rel(bin_dir)} was made from {other}: redoing it")
    force = run.opts.force or other is not None
    args = [run.rel(images), run.rel(bin_dir)] + (["--force"] if force else [])
    run.shell.run(run.scripts.command("imagenet_torch_preprocess.py", args))


def export(run: Run) -> None:
    """Step 2: the checkpoint to the dynamic-batch ONNX model."""
    run.shell.run(run.scripts.command("SE_ResNet50_pth2onnx.py", [run.rel(run.weights.path), run.rel(run.paths.dynamic_onnx)]))


def calibrate_unit(run: Run, skipped: str = "up to date, skipped") -> Unit:
    """AMCT's calibration (the calibrate step, and the perf step when it measures int8 on a run at another
    precision)."""
    plan = run.calibration()
    return Unit("calibrate", [run.paths.dynamic_onnx, plan.source],
                [run.toolchain.deploy_model, run.toolchain.fake_quant_model],
                {"images": [p.name for p in plan.images], "batch": plan.batch, "batch_num": plan.batch_num,
                 "ascend": run.toolchain.ascend},
                lambda: calibrate(run, plan), skipped=skipped)


def calibrate(run: Run, plan: Calibration) -> None:
    """AMCT's calibration: the chosen images through step 1 as float32 model input, then the quantizer on step 2's
    model (``amct_onnx calibration`` on Ascend, ``amct_calibrate.py`` elsewhere, the same flags)."""
    links, calib_bin = run.paths.calib_images, run.paths.calib_bin
    if links.is_dir():
        shutil.rmtree(links)
    links.mkdir(parents=True)
    for image in plan.images:
        (links / image.name).symlink_to(image.resolve())
    run.shell.run(run.scripts.command("imagenet_torch_preprocess.py",
                                [run.rel(links), run.rel(calib_bin), "--format", "fp32", "--force", "--quiet"]))
    run.shell.run(run.toolchain.calibrate_command(calib_bin, plan.batch, plan.batch_num))


def convert_unit(run: Run, batch: int, *, precision: Optional[str] = None, check: bool = True,
                 skipped: str = "up to date, skipped") -> Unit:
    """Step 3 at one batch size and precision (the perf step converts one model per batch size the same way)."""
    toolchain = run.toolchain
    precision = precision or toolchain.precision
    key = f"convert_bs{batch}" if precision == toolchain.precision else "convert_" + precision_batch(precision, batch)
    return Unit(key, [toolchain.source_model(precision), run.paths.aipp_config], [toolchain.model_path(batch, precision)],
                {"batch": batch, **toolchain.convert_options(precision)},
                lambda: run.shell.run(toolchain.convert_command(batch, precision=precision, check=check)), skipped=skipped)


def infer(run: Run) -> None:
    """Step 4: one TXT result per .bin into ./result (emptied first), and the runner's summary."""
    run.shell.run(run.toolchain.infer_command(run.paths.bin_dir, run.annotate_flags()))
    summary = run.toolchain.infer_summary()
    if summary is not None and not summary.is_file():
        raise PipelineError(f"{summary}: inference wrote no summary")


def metric(run: Run) -> None:
    """Step 5: top-1/top-5 of ./result against the labels."""
    paths = run.paths
    args = [run.rel(paths.result_dir) + "/", run.rel(run.dataset.labels), "./", paths.accuracy_json.name,
            "--predictions", run.rel(paths.predictions_csv)]
    run.shell.run(run.scripts.command("vision_metric_ImageNet.py", args).plus(run.annotate_flags()))


def print_accuracy(run: Run, ran: bool) -> None:
    """One line with the accuracy (also when the step was up to date)."""
    from ..metric import read_accuracy_json

    accuracy = read_accuracy_json(run.paths.accuracy_json)
    demo = [text for flag, text in ((run.weights.demo, "weights are random"),
                                    (run.dataset.demo, "labels are PyTorch's own predictions")) if flag]
    caveat = f" (DEMO: {'; '.join(demo)})" if demo else ""
    print(f"  accuracy: top-1 {accuracy.top1}%, top-5 {accuracy.top5}% on {accuracy.images} images{caveat}")
    from ..metric import lowest_classes, read_predictions

    rows = read_predictions(run.paths.predictions_csv)
    lowest = lowest_classes(rows, LOWEST_CLASSES)
    print(f"  lowest top-1 of the {len({r.label for r in rows})} classes labelled{caveat}:")
    for weak in lowest:
        print(f"    {weak.describe()}")
    note = labels_sanity_note(run, rows)
    if note:
        print(f"  NOTE: {note}")


def labels_sanity_note(run: Run, rows: Sequence["Prediction"]) -> Optional[str]:
    """With real weights, top-1 under 1 % on 500 or more images points at the label order, not the weights."""
    if run.demo_weights or len(rows) < SANITY_MIN_IMAGES:
        return None
    top1 = 100.0 * sum(r.correct_at_1 for r in rows) / len(rows)
    if top1 >= SANITY_TOP1_PERCENT:
        return None
    # A file counting classes from 1 puts every label one above the model's prediction: that is measurable.
    shifted = 100.0 * sum(bool(r.top) and r.top[0] == r.label - 1 for r in rows) / len(rows)
    one_based = (f"; with every label one lower top-1 would be {shifted:.2f} %: the label file counts classes "
                 "from 1 (class+1)" if shifted >= SANITY_SHIFTED_PERCENT else "")
    return (f"top-1 {top1:.2f} % on {len(rows):,} images is chance level: if the fidelity step passes, the weights "
            "and the chain are fine and the labels are in another class order than the model's (sorted WordNet "
            "IDs), e.g. the devkit's 1-based ILSVRC2012_IDs, a label file counting classes from 1 (class+1) or an "
            f"ImageFolder subset numbered 0..N-1{one_based}; python3 prepare_imagenet.py (or run_infer.sh --imagenet "
            "SOURCE) writes labels in the model's order")


def fidelity(run: Run) -> None:
    """The results against PyTorch on the same inputs; an fp32 run fails beyond tolerance."""
    from ..fidelity import FidelityRecord, compare_with_pytorch, write_fidelity_json

    out = run.paths.fidelity_json
    selection = fidelity_selection(run)
    print(f"  {selection}")
    agreement = compare_with_pytorch(run.weights.path, run.paths.bin_dir, run.paths.result_dir,
                                  model_aipp_op(run, run.model), precision=run.toolchain.precision,
                                  limit=run.opts.fidelity_images, all_images=run.opts.fidelity_all)
    changes = top1_changes_line(agreement)
    write_fidelity_json(out, FidelityRecord(agreement, run.toolchain.runtime(run.opts.backend), selection,
                                            agreement.one_line() + (f"; {changes}" if changes else ""),
                                            run.annotations()))
    print("  " + agreement.one_line())
    if changes:
        print(f"  {changes}")
    if not agreement.passed:
        raise PipelineError(f"{out}: fp32 results disagree with PyTorch beyond tolerance "
                            f"(worst image {agreement.worst_image})")


def top1_changes_line(agreement: "Agreement", shown: int = 5) -> Optional[str]:
    """The classes whose top-1 changed against PyTorch, named: ``top-1 changed on 2 images: a.JPEG tench -> ...``."""
    if not agreement.top1_changes:
        return None
    changed = agreement.images - agreement.same_top1
    from ..imagenet import synsets
    from .paths import FIDELITY_JSON

    name = synsets().short_name
    listed = "; ".join(f"{image}: {name(ref)} ({ref}) -> {name(got)} ({got})"
                       for image, ref, got in agreement.top1_changes[:shown])
    more = f"; {changed - shown} more in {FIDELITY_JSON}" if changed > shown else ""
    return f"top-1 changed on {changed} of {agreement.images} images (PyTorch -> results): {listed}{more}"


def fidelity_selection(run: Run) -> str:
    """Which images the fidelity step checks, in words."""
    from ..fidelity import inputs_to_check, select_images

    opts = run.opts
    total = len(inputs_to_check(run.paths.bin_dir))
    count = len(select_images(total, opts.fidelity_images, opts.fidelity_all))
    if count == total:
        why = "--fidelity-all" if opts.fidelity_all else ("--fidelity-images" if opts.fidelity_images else
                                                          f"default: all up to {DEFAULT_FIDELITY_MAX:,}")
        return f"fidelity on all {total:,} images ({why})"
    why = ("--fidelity-images" if opts.fidelity_images else
           f"default for more than {DEFAULT_FIDELITY_MAX:,}; --fidelity-all checks every image")
    return f"fidelity on {count:,} of {total:,} images, evenly spaced ({why})"


def print_fidelity(run: Run, ran: bool) -> None:
    """The recorded one-line verdict when the step was up to date."""
    if not ran:
        from ..fidelity import read_fidelity_json

        print("  " + read_fidelity_json(run.paths.fidelity_json).summary)

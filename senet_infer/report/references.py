"""The figures a run is compared with: the guide's and the weights' published ones, each with its protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

FULL_SET = 50_000  # images of the ImageNet-1k validation set
AGREEMENT_POINTS = 0.3  # a top-1 within this many points of the reference matches it
GUIDE_THROUGHPUT = (32, 2690.0)  # batch size, images/s: the guide's Ascend 310P3 figure


@dataclass(frozen=True)
class Reference:
    """A published accuracy and the preprocessing protocol it was measured with."""

    source: str
    top1: float
    top5: float
    protocol: str  # step 1's --resize that reproduces it


GUIDE = Reference("the guide (Ascend 310P3, ATC fp16, batch 32)", 77.36, 93.76, "squash")
PUBLISHED = Reference("pretrainedmodels' table, the weights' published figures (\"our porting\")", 77.636, 93.752,
                      "shorter")
REFERENCES = (GUIDE, PUBLISHED)
PROTOCOLS = {
    "shorter": "--resize shorter: shorter side to 256 (Pillow bilinear), centre 224 by AIPP: torchvision's "
               "evaluation transform, under which the weights were published",
    "squash": "--resize squash: the whole image stretched to 256x256 (OpenCV bicubic), centre 224 by AIPP: the "
              "ModelZoo script's, under which the guide measured",
}


def reference_for(protocol: Optional[str]) -> Optional[Reference]:
    """The reference measured under ``protocol`` (None for an unknown one)."""
    return next((r for r in REFERENCES if r.protocol == protocol), None)


def verdict(top1: float, images: int, protocol: Optional[str]) -> str:
    """Whether ``top1`` matches the reference of its protocol, or how far above or below it lies."""
    reference = reference_for(protocol)
    if reference is None:
        return "no reference figure for this protocol (step 1's record gives none)"
    delta = top1 - reference.top1
    scope = "" if images == FULL_SET else (f" (on {images:,} of the {FULL_SET:,} validation images: a subset's "
                                           "accuracy differs from the full set's by chance alone)")
    if abs(delta) <= AGREEMENT_POINTS:
        return (f"matches {reference.source}: {top1:.2f} vs {reference.top1:.2f}, within {AGREEMENT_POINTS} "
                f"points{scope}")
    side = "above" if delta > 0 else "below"
    return f"{abs(delta):.2f} points {side} {reference.source} ({reference.top1:.2f}){scope}"

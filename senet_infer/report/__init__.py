"""The report page: one self-contained HTML file per run (``make_report.py``, the ``report`` step).

:mod:`.gather` reads what the run wrote (each file through its one reader); :mod:`.sections` and
:mod:`.run_sections` make the six sections; :mod:`.page` the document, :mod:`.charts` its charts and
:mod:`.thumbs` the thumbnails from the original images.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_text
from .gather import RunOutputs, gather
from .page import document
from .run_sections import performance_section, run_section
from .sections import banner, classes_section, examples_section, fidelity_section, headline
from .thumbs import Thumbnails

TITLE = "SE-ResNet50 on ImageNet: report"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`make_report` wrote."""

    path: Path
    size_bytes: int
    images_scored: int
    thumbnails_missing: int


def render(out: RunOutputs, made: dt.datetime) -> tuple[str, Thumbnails]:
    """The page's HTML for the run outputs ``out``."""
    thumbs = Thumbnails(out.thumbnail_source)
    sections = [headline(out), classes_section(out, thumbs), examples_section(out, thumbs),
                fidelity_section(out, thumbs), performance_section(out), run_section(out, made)]
    subtitle = f"Work folder {out.work.resolve()}; made {made.isoformat(timespec='seconds')} from the run's own files."
    return document(TITLE, subtitle, banner(out), sections), thumbs


def make_report(work: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> ReportResult:
    """Read the run in ``work`` and write its page to ``out_path`` atomically."""
    outputs = gather(Path(work))
    text, thumbs = render(outputs, dt.datetime.now())
    path = Path(out_path)
    atomic_write_text(path, text)
    return ReportResult(path, len(text.encode("utf-8")), len(outputs.predictions or ()), thumbs.missing)


__all__ = ["ReportResult", "make_report"]

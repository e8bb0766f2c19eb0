"""The runner of steps: it skips what is up to date, stamps what it made, survives being killed, and knows no step.

A step (:class:`Step`) is a row of a table: its name, what it resolves for the steps after it
(``prepare``), and the units of work it makes (:class:`Unit`: reads, writes, options, action).
:meth:`Engine.produce` is the one place that skips an up-to-date unit, runs it, and stamps it
(stamps in ``<work>/.run_infer/``; ``--force`` redoes the chosen steps). One run at a time per work folder
(:class:`~.workdir.WorkLock`); a run killed at any moment leaves no stamp for the unit it was in, so the next
run redoes it and says so. Each step's wall time is printed and recorded in ``<work>/.run_infer/timings.json``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar

from ..errors import PipelineError
from ..fileio import atomic_write_json, read_json, remove_stale_temps
from ..machine import cpu_model
from .paths import Paths
from .toolchain import Command
from .workdir import Stamps, WorkLock, describe

State = TypeVar("State")


def _die_with_driver() -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` that makes a step's process get SIGKILL when the driver dies (Linux), so a killed
    run leaves no step behind still writing into the work folder; None where that is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # libc's, through the process's own symbols
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the driver died before the call above
            os._exit(1)

    return preexec


class Shell:
    """Runs the steps' commands in the work folder; their processes die with the driver."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._preexec = _die_with_driver()

    def run(self, command: Command, *, capture: bool = False) -> str:
        """Run a command in the work folder, echoing it as a user would type it; fail on non-zero exit."""
        print("  $ " + " ".join(shlex.quote(part) for part in command.shown), flush=True)
        if not capture:
            rc = subprocess.run(command.run, cwd=str(self.work), preexec_fn=self._preexec).returncode
            output = ""
        else:
            proc = subprocess.Popen(command.run, cwd=str(self.work), stdout=subprocess.PIPE,
                                    universal_newlines=True, preexec_fn=self._preexec)
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                sys.stdout.write("    " + line)
                lines.append(line)
            rc = proc.wait()
            output = "".join(lines)
        sys.stdout.flush()
        if rc != 0:
            raise PipelineError(f"command failed with exit status {rc}: {' '.join(command.shown[:3])} …")
        return output


LAST_RAN_KEY = "last_ran"


@dataclass(frozen=True)
class StepTime:
    """One step's wall time in ``timings.json``; ``ran`` False: it was up to date and skipped."""

    name: str
    seconds: float
    ran: bool


@dataclass(frozen=True)
class Timings:
    """``.run_infer/timings.json`` read back: when, where, each step's time, and the run's size."""

    date: str
    machine: str
    steps: List[StepTime]
    run: Dict[str, Any]  # images, batch_size, precision, perf_batch_sizes, perf_loop
    # each step's last measured time, from whichever run last ran it: {"seconds", "date", "images"}
    last_ran: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def seconds(self, name: str) -> Optional[float]:
        return next((s.seconds for s in self.steps if s.name == name), None)


def read_timings(path: Path) -> Timings:
    """The one reader of :meth:`Engine.record_timings`'s file; another file is one error naming it."""
    doc = read_json(path)
    try:
        steps = [StepTime(str(s["name"]), float(s["seconds"]), bool(s["ran"])) for s in doc["steps"]]
        last_ran = {str(k): {"seconds": float(v["seconds"]), "date": str(v["date"]), "images": v.get("images")}
                    for k, v in dict(doc.get(LAST_RAN_KEY) or {}).items()}
        run = {k: v for k, v in doc.items() if k not in ("date", "machine", "steps", LAST_RAN_KEY)}
        return Timings(str(doc["date"]), str(doc["machine"]), steps, run, last_ran)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"{path}: not the driver's timings record ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Unit:
    """One stamped piece of work: inputs, options and outputs decide whether ``action`` must run."""

    key: str  # its stamp's name
    reads: Sequence[Path]
    writes: Sequence[Path]
    options: Mapping[str, object]
    action: Callable[[], object]  # what it returns is not used
    clears: Sequence[Path] = ()  # outputs the action owns: removed first, so nothing of another run is left
    skipped: str = "up to date, skipped"  # said when it is


def _no_units(state: object) -> Sequence[Unit]:
    return ()


@dataclass(frozen=True)
class Step(Generic[State]):
    """A row of the step table. ``units`` is the step's work in order; the last is the step's own (its reads
    and writes are shown, its figures are printed); the ones before it are what it needs made first."""

    name: str
    units: Callable[[State], Sequence[Unit]] = _no_units  # empty, or a last unit writing nothing: nothing to make
    prepare: Optional[Callable[[State], State]] = None  # runs first, also when up to date: the state later steps get
    always: bool = False  # runs even when not chosen with --steps (later steps need what it resolves)
    what: Optional[Callable[[State], str]] = None  # prefix of the "reads …, writes …" line
    show_io: bool = True
    redo_note: str = ""  # what a redo after an interruption keeps
    figures: Optional[Callable[[State, bool], None]] = None  # prints the step's figures after it (ran: True)


class Engine(Generic[State]):
    """Runs a table of steps on a work folder: the chosen ones (and those marked ``always``), in order."""

    def __init__(self, work: Path, steps: Sequence[Step[State]], chosen: Sequence[str], *, force: bool = False,
                 first_number: int = 1) -> None:
        self.paths = Paths(work)
        self.steps = steps
        self.chosen = tuple(chosen)
        self.force = force
        self.first_number = first_number
        self.stamps = Stamps(work)
        self.lock = WorkLock(work)
        self.timings: Dict[str, float] = {}
        self.ran: Dict[str, bool] = {}
        self.current = ""
        self.interrupted_step: Optional[str] = None

    def start(self) -> None:
        """Take the work folder: lock it, report an interrupted previous run, remove its temporaries."""
        self.lock.acquire()
        previous = self.lock.previous
        if previous is not None:
            self.interrupted_step = previous.get("step")
            print(f"previous run was interrupted ({describe(previous)}) and no longer runs: taking over "
                  "its work folder")
        removed = sum(remove_stale_temps(folder) for folder in self.paths.temp_folders())
        if removed:
            print(f"removed {removed} temporary file(s) left by an interrupted run")

    def release(self, *, ended: bool) -> None:
        """Give the work folder back (``ended`` False: the run was interrupted, as the next run will say)."""
        self.lock.release(ended=ended)

    @property
    def total_steps(self) -> int:
        """How many steps there are: the table's, and the ones numbered before it (``first_number``)."""
        return len(self.steps) + self.first_number - 1

    def print_earlier_step(self, number: int, name: str, io: str, seconds: int, result: str) -> None:
        """A step that ran before the driver started (``run_infer.sh``'s set-up), numbered with the table's."""
        print(f"[{number}/{self.total_steps}] {name}: {io}")
        print(f"[{number}/{self.total_steps}] {name} done in {seconds} s: {result}", flush=True)

    def execute(self, state: State, describe_run: Callable[[State], Mapping[str, object]]) -> State:
        """Run the chosen steps in order, each announced with its number and timed; each gets the state the
        steps before it left. ``describe_run``: the run's size, for the timings record."""
        total_steps = self.total_steps
        for number, step in enumerate(self.steps, start=self.first_number):
            if step.name not in self.chosen and not step.always:
                continue
            print(f"[{number}/{total_steps}] {step.name}", flush=True)
            started = time.perf_counter()
            self.current = step.name
            self.lock.note_step(step.name)
            try:
                state = self.run_step(step, state)
            except PipelineError as exc:
                raise PipelineError(f"step {step.name} failed: {exc}") from None
            self.timings[step.name] = time.perf_counter() - started
            print(f"[{number}/{total_steps}] {step.name} done in {self.timings[step.name]:.1f} s", flush=True)
            self.record_timings(describe_run(state))
        return state

    @property
    def total_seconds(self) -> float:
        return sum(self.timings.values())

    def record_timings(self, run: Mapping[str, object]) -> None:
        """``.run_infer/timings.json``: each step's wall time so far, whether it ran (or was up to date), and the
        run's size, for ``benchmarks/bench_steps.py``."""
        date = dt.datetime.now().isoformat(timespec="seconds")
        try:  # the steps this run did not run keep the time of the run that last did
            last_ran = dict(read_timings(self.paths.timings_json).last_ran)
        except PipelineError:
            last_ran = {}
        for name, seconds in self.timings.items():
            if self.ran.get(name, False):
                last_ran[name] = {"seconds": round(seconds, 3), "date": date, "images": run.get("images")}
        record = {"date": date, "machine": f"{cpu_model()}, {os.cpu_count()} cores", **run,
                  "steps": [{"name": name, "seconds": round(seconds, 3), "ran": self.ran.get(name, False)}
                            for name, seconds in self.timings.items()],
                  LAST_RAN_KEY: last_ran}
        atomic_write_json(self.paths.timings_json, record)

    def run_step(self, step: Step[State], state: State) -> State:
        """Resolve, show what the step reads and writes, produce its units, print its figures."""
        if step.prepare is not None:
            state = step.prepare(state)
        units = list(step.units(state))
        if not units or not units[-1].writes:
            return state
        own = units[-1]
        if step.show_io:
            io = f"reads {' + '.join(self.paths.rel(p) for p in own.reads)}, writes {', '.join(self.paths.rel(p) for p in own.writes)}"
            print(f"  {step.what(state)}: {io}" if step.what else f"  {io}")
        interrupted = step.name == self.interrupted_step
        if len(units) > 1 and self.up_to_date(own):  # the step's own work is done: what it needed is not asked
            self._say_skipped(own, interrupted)
            ran = False
        else:
            for unit in units[:-1]:
                self.produce(unit)
            ran = self.produce(own, interrupted=interrupted, redo_note=step.redo_note)
        self.ran[step.name] = ran
        if step.figures is not None:
            step.figures(state, ran)
        return state

    def up_to_date(self, unit: Unit) -> bool:
        """True when ``unit``'s outputs match its stamp and ``--force`` does not ask for it again."""
        forced = self.force and self.current in self.chosen  # not the always-run resolution steps
        return not forced and self.stamps.up_to_date(unit.key, unit.reads, unit.options, unit.writes)

    @staticmethod
    def _say_skipped(unit: Unit, interrupted: bool) -> None:
        note = "the interrupted run had finished this step; " if interrupted else ""
        print(f"  {note}{unit.skipped}")

    def produce(self, unit: Unit, *, interrupted: bool = False, redo_note: str = "") -> bool:
        """Skip ``unit`` when up to date; else clear its stamp and owned outputs, run it, check and stamp its
        outputs. The one place where work is skipped, run or recorded. True when it ran.

        ``interrupted``: the previous run was killed in this step (said, with ``redo_note``, when redoing it).
        """
        if self.up_to_date(unit):
            self._say_skipped(unit, interrupted)
            return False
        if interrupted:
            print("  the previous run was interrupted during this step: redoing it"
                  + (f" ({redo_note})" if redo_note else ""))
        self.stamps.clear(unit.key)
        for path in unit.clears:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        unit.action()
        for path in unit.writes:
            if not path.exists():
                raise PipelineError(f"{path}: {unit.key} finished without writing it")
        self.stamps.record(unit.key, unit.reads, unit.options, unit.writes)
        return True

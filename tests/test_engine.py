"""The driver's engine, in this process: a table of toy steps on a work folder. Skip when up to date, stamps,
--force, a step's prerequisites, the state steps hand on, interruption and resume. No step of the guide here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from senet_infer.driver.engine import Engine, Step, Unit
from senet_infer.driver.paths import Paths
from senet_infer.errors import PipelineError


class Toy:
    """What the toy steps share: the work folder, a log of actions run, and what a resolve step returned."""

    def __init__(self, work: Path, fail: Sequence[str] = ()) -> None:
        self.work = work
        self.ran: List[str] = []
        self.fail = set(fail)
        self.resolved: Dict[str, str] = {}

    def make(self, key: str, name: str, text: str = "x") -> None:
        self.ran.append(key)
        if key in self.fail:
            raise PipelineError(f"{key} broke")
        (self.work / name).write_text(text)


def unit(toy: Toy, key: str, reads: Sequence[str] = (), writes: Sequence[str] = (), **kw: object) -> Unit:
    out = writes[0] if writes else key
    return Unit(key, [toy.work / r for r in reads], [toy.work / w for w in writes], dict(kw.pop("options", {})),
                lambda: toy.make(key, out), **kw)  # type: ignore[arg-type]


def resolve(toy: Toy) -> Toy:
    toy.resolved["source"] = "source.txt"
    return toy


def table() -> Sequence[Step[Toy]]:
    return (
        Step("resolve", prepare=resolve, always=True),
        Step("a", units=lambda t: [unit(t, "a", [t.resolved["source"]], ["a.out"])]),
        Step("b", units=lambda t: [unit(t, "b", ["a.out"], ["b.out"])], redo_note="it keeps nothing"),
        Step("c", units=lambda t: [unit(t, "c_pre", ["a.out"], ["c.pre"], skipped="c.pre up to date, skipped"),
                                   unit(t, "c", ["b.out"], ["c.out"])]),
    )


def run(work: Path, chosen: Sequence[str] = ("a", "b", "c"), *, force: bool = False,
        fail: Sequence[str] = ()) -> Toy:
    toy = Toy(work, fail)
    engine = Engine(work, table(), chosen, force=force, first_number=2)
    engine.start()
    ended = False
    try:
        engine.execute(toy, lambda t: {"size": len(t.ran)})
        ended = True
    except PipelineError:
        ended = True
        raise
    finally:
        engine.release(ended=ended)
    return toy


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "source.txt").write_text("s")
    return tmp_path


def test_steps_run_in_order_then_are_skipped_when_up_to_date(work: Path, capsys) -> None:
    assert run(work).ran == ["a", "b", "c_pre", "c"]
    out = capsys.readouterr().out
    assert "[2/5] resolve" in out and "[3/5] a" in out and "[5/5] c done in" in out
    assert "  reads ./a.out, writes ./c.pre" not in out and "  reads ./b.out, writes ./c.out" in out  # the own unit's
    assert {p.name for p in Paths(work).state_dir.iterdir()} >= {"a.json", "b.json", "c_pre.json", "c.json"}

    assert run(work).ran == []
    out = capsys.readouterr().out
    assert out.count("up to date, skipped") == 3  # c's prerequisite is not even asked: c itself is up to date


def test_a_changed_input_redoes_the_steps_that_read_it(work: Path) -> None:
    run(work)
    (work / "source.txt").write_text("changed")
    assert run(work).ran == ["a", "b", "c_pre", "c"]  # a's output is new, so everything after it is
    (work / "b.out").unlink()
    assert run(work).ran == ["b", "c"]  # c.pre is up to date: said, not redone
    (work / "c.pre").unlink()
    assert run(work).ran == []  # c is up to date: its prerequisite is not asked for


def test_force_redoes_only_the_chosen_steps(work: Path) -> None:
    run(work)
    assert run(work, ["b"], force=True).ran == ["b"]
    assert run(work).ran == ["c"]  # b's new output makes c out of date


def test_options_are_part_of_the_stamp(work: Path) -> None:
    steps = [Step("a", units=lambda t: [unit(t, "a", [], ["a.out"], options={"batch": t.resolved["batch"]})])]

    def once(batch: str) -> List[str]:
        toy = Toy(work)
        toy.resolved["batch"] = batch
        engine = Engine(work, steps, ["a"])
        engine.start()
        engine.execute(toy, lambda t: {})
        engine.release(ended=True)
        return toy.ran

    assert once("4") == ["a"] and once("4") == [] and once("8") == ["a"]


def test_a_failing_step_stops_the_run_with_its_name_and_leaves_no_stamp(work: Path, capsys) -> None:
    with pytest.raises(PipelineError, match="step b failed: b broke"):
        run(work, fail=["b"])
    assert not Paths(work).stamp("b").exists() and Paths(work).stamp("a").exists()
    timings = json.loads(Paths(work).timings_json.read_text())
    assert [s["name"] for s in timings["steps"]] == ["resolve", "a"] and timings["size"] == 1
    assert timings["steps"][1]["ran"] is True and timings["steps"][0]["ran"] is False
    assert json.loads(Paths(work).lock.read_text())["running"] is False  # a failed run is a finished one
    capsys.readouterr()
    assert run(work).ran == ["b", "c_pre", "c"]  # resumed where it stopped
    assert "previous run was interrupted" not in capsys.readouterr().out


def test_a_unit_that_writes_nothing_fails(work: Path) -> None:
    steps = [Step("a", units=lambda t: [Unit("a", [], [work / "never"], {}, lambda: None)])]
    engine = Engine(work, steps, ["a"])
    engine.start()
    with pytest.raises(PipelineError, match="never: a finished without writing it"):
        engine.execute(Toy(work), lambda t: {})
    assert not Paths(work).stamp("a").exists()


def test_owned_outputs_are_cleared_before_the_action(work: Path) -> None:
    owned = work / "owned"
    owned.mkdir()
    (owned / "stray").write_text("another run's")
    seen: List[List[str]] = []

    def action() -> None:
        seen.append(sorted(p.name for p in owned.iterdir()) if owned.exists() else ["<gone>"])
        owned.mkdir()

    steps = [Step("a", units=lambda t: [Unit("a", [], [owned], {}, action, clears=[owned])])]
    engine = Engine(work, steps, ["a"])
    engine.start()
    engine.execute(Toy(work), lambda t: {})
    assert seen == [["<gone>"]]


def test_steps_not_chosen_are_left_out_but_always_steps_run(work: Path, capsys) -> None:
    run(work)
    capsys.readouterr()
    assert run(work, ["c"], force=True).ran == ["c_pre", "c"]  # --force redoes what a chosen step makes first too
    out = capsys.readouterr().out
    assert "] resolve" in out and "] a" not in out and "] b" not in out


def interrupted_in(work: Path, step: str) -> None:
    """What a run killed during ``step`` leaves: the lock's record still running, a hidden temporary."""
    paths = Paths(work)
    paths.state_dir.mkdir(exist_ok=True)
    record = {"pid": 999999, "host": "h", "started": "2020-01-01T00:00:00", "step": step, "running": True}
    paths.lock.write_text(json.dumps(record))
    (work / ".a.out.1234abcd.tmp").write_text("half")


def test_a_killed_run_is_reported_and_its_step_redone(work: Path, capsys) -> None:
    run(work)
    Paths(work).stamp("b").unlink()  # killed during b: its stamp was cleared before it started
    interrupted_in(work, "b")
    capsys.readouterr()
    assert run(work).ran == ["b", "c"]
    out = capsys.readouterr().out
    assert ("previous run was interrupted (pid 999999 on h, started 2020-01-01T00:00:00, at step b) and no longer "
            "runs: taking over its work folder") in out
    assert "removed 1 temporary file(s) left by an interrupted run" in out
    assert "the previous run was interrupted during this step: redoing it (it keeps nothing)" in out
    assert not (work / ".a.out.1234abcd.tmp").exists()
    assert json.loads(Paths(work).lock.read_text())["running"] is False


def test_a_run_killed_after_its_step_finished_skips_it_and_says_so(work: Path, capsys) -> None:
    run(work)
    interrupted_in(work, "b")
    capsys.readouterr()
    assert run(work).ran == []
    assert "the interrupted run had finished this step; up to date, skipped" in capsys.readouterr().out


def test_a_second_engine_on_the_same_folder_is_refused(work: Path) -> None:
    first = Engine(work, table(), ["a"])
    first.start()
    second = Engine(work, table(), ["a"])
    with pytest.raises(PipelineError, match="another run_infer.sh is using this work folder"):
        second.start()
    first.release(ended=True)
    second.start()
    second.release(ended=True)

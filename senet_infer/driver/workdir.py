"""The driver's hold on its work folder: one run at a time, step stamps, leftovers of a killed run.

Everything lives in ``<work>/.run_infer/``:

- ``lock``: held with ``flock`` for the whole run (the kernel drops it when the process dies, even by
  SIGKILL); its text names the run (pid, host, start time, current step), so a second run can say who
  holds it, and the next run can tell that the last one was interrupted and where;
- ``<step>.json``: a step's stamp, the fingerprint of its inputs and options and of its outputs,
  written only after the outputs are complete, removed before the step starts again.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

from ..errors import PipelineError
from ..fileio import atomic_write_json
from .paths import Paths


class WorkLock:
    """An exclusive lock on a work folder whose file says which run holds it."""

    def __init__(self, work: Path) -> None:
        self.path = Paths(work).lock
        self._fd: Optional[int] = None
        self._record: Dict[str, Any] = {}
        self.previous: Optional[Dict[str, Any]] = None  # the last run's record when it did not end

    def acquire(self) -> None:
        """Take the lock at once or refuse, naming the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise PipelineError(f"{self.path}: cannot lock: {exc.strerror}") from None
            raise PipelineError(f"{self.path.parent.parent}: another run_infer.sh is using this work folder "
                                f"({describe(self._read_held())}); wait for it to finish or stop it") from None
        self._fd = fd
        previous = _parse(os.read(fd, 1 << 16))
        self.previous = previous if previous.get("running") else None
        self._record = {"pid": os.getpid(), "host": socket.gethostname(),
                        "started": dt.datetime.now().isoformat(timespec="seconds"), "step": None, "running": True}
        self._write()

    def _read_held(self) -> Dict[str, Any]:
        # The holder writes its record right after taking the lock: give it a moment if it is still empty.
        for _ in range(20):
            try:
                record = _parse(self.path.read_bytes())
            except OSError:
                record = {}
            if record:
                return record
            time.sleep(0.05)
        return {}

    def note_step(self, step: str) -> None:
        """Record the step now running (what the next run reports if this one is killed)."""
        self._record["step"] = step
        self._write()

    def release(self, *, ended: bool) -> None:
        """Unlock; ``ended`` False (interrupted) leaves the record saying the run did not finish."""
        if self._fd is None:
            return
        if ended:
            self._record["running"] = False
            self._write()
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    def _write(self) -> None:
        # In place, not by rename: the lock belongs to this file's inode.
        assert self._fd is not None
        data = (json.dumps(self._record) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)


def _parse(data: bytes) -> Dict[str, Any]:
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def describe(record: Mapping[str, Any]) -> str:
    """``pid 123 on host, started 2026-01-01T10:00:00, at step infer`` (what is known of it)."""
    if not record:
        return "pid unknown"
    text = f"pid {record.get('pid', '?')}"
    text += f" on {record['host']}" if record.get("host") else ""
    text += f", started {record['started']}" if record.get("started") else ""
    text += f", at step {record['step']}" if record.get("step") else ""
    return text


def fingerprint(work: Path, paths: Sequence[Path], options: Mapping[str, object]) -> str:
    """Hash of the options and of each path's name, size and modification time (folders: every visible file).

    Paths inside the work folder count by their place in it, so a copied work folder stays up to date.
    """
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    for path in paths:
        try:
            name = path.relative_to(work).as_posix()
        except ValueError:
            name = str(path)
        digest.update(name.encode("utf-8", "surrogateescape"))
        if path.is_dir():
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    st = entry.stat()
                    digest.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        elif path.is_file():
            st = path.stat()
            digest.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
        else:
            digest.update(b"<absent>")
    return digest.hexdigest()


class Stamps:
    """Step stamps: a step is up to date when its inputs, options and outputs are as last recorded."""

    def __init__(self, work: Path) -> None:
        self.work = work

    def path(self, key: str) -> Path:
        return Paths(self.work).stamp(key)

    def up_to_date(self, key: str, reads: Sequence[Path], options: Mapping[str, object],
                   writes: Sequence[Path]) -> bool:
        """True when every output exists and the stamp matches inputs, options and outputs."""
        if not all(p.exists() for p in writes):
            return False
        try:
            recorded = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return False
        return (recorded.get("inputs") == fingerprint(self.work, reads, options)
                and recorded.get("outputs") == fingerprint(self.work, writes, {}))

    def clear(self, key: str) -> None:
        """Forget a step's stamp (before it runs: a killed step must never look finished)."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def record(self, key: str, reads: Sequence[Path], options: Mapping[str, object], writes: Sequence[Path]) -> None:
        """Stamp a step whose outputs are complete."""
        atomic_write_json(self.path(key), {"inputs": fingerprint(self.work, reads, options),
                                           "outputs": fingerprint(self.work, writes, {})})

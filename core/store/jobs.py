"""Background jobs: long work (training) that outlives the page that started it.

A :class:`JobRunner` runs submitted functions one after another in a worker thread of the
current process (the Streamlit server keeps one runner per process), so leaving the page, or
closing the browser tab, does not abandon the work. One job per key: submitting a key that is
queued or running returns the existing job. Each job's progress comes from
:func:`core.progress.report` calls made inside it; its state, progress, result and error can be
queried from any thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import DashboardError
from core.progress import reporting

__all__ = ["Job", "JobRunner", "JobState"]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


@dataclass
class Job:
    """One unit of background work. Read its fields from any thread; the runner updates them."""

    key: str
    label: str
    fn: Callable[[], Any] = field(repr=False)
    number: int = 0
    state: JobState = JobState.QUEUED
    fraction: float | None = None
    message: str = "waiting"
    result: Any = field(default=None, repr=False)
    error: str | None = None
    submitted_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or ``timeout`` seconds passed (False)."""
        return self._done.wait(timeout)


class JobRunner:
    """Runs jobs in the background, in submission order, on ``workers`` threads (default 1:
    trainings already use every core)."""

    def __init__(self, *, workers: int = 1, keep_finished: int = 200) -> None:
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._jobs: dict[str, Job] = {}
        self._wake = threading.Condition(self._lock)
        self._numbers = itertools.count(1)
        self._keep = keep_finished
        self._threads = [threading.Thread(target=self._work, name=f"job-runner-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, key: str, fn: Callable[[], Any], *, label: str) -> Job:
        """Queue ``fn()`` under ``key`` unless a job with that key is queued or running (then
        that job is returned). ``label`` is for people, e.g. ``Training KNN``."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.state.finished:
                return job
            job = Job(key=key, label=label, fn=fn, number=next(self._numbers))
            self._jobs[key] = job
            self._queue.append(job)
            self._forget_old()
            self._wake.notify()
            return job

    def get(self, key: str) -> Job | None:
        """The job known under ``key`` (queued, running or recently finished), or None."""
        with self._lock:
            return self._jobs.get(key)

    def jobs(self) -> list[Job]:
        """Every known job, in submission order."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.number)

    def active(self) -> list[Job]:
        """Queued and running jobs, in submission order."""
        return [j for j in self.jobs() if not j.state.finished]

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.state.finished), key=lambda j: j.number)
        for job in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job.key]

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._wake.wait()
                job = self._queue.pop(0)
                job.state = JobState.RUNNING
                job.message = "starting"

            def progress(fraction: float | None, message: str, job: Job = job) -> None:
                job.fraction, job.message = fraction, message

            try:
                with reporting(progress):
                    result = job.fn()
            except Exception as exc:  # noqa: BLE001 (reported on the job, never lost in a thread)
                job.error = str(exc) if isinstance(exc, DashboardError) else f"{type(exc).__name__}: {exc}"
                job.state, job.message = JobState.FAILED, "failed"
            else:
                job.result = result
                job.state, job.fraction, job.message = JobState.DONE, 1.0, "done"
            job.finished_at = time.time()
            job._done.set()

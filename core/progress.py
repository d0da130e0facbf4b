"""Progress reporting that long computations share, without passing callbacks through every layer.

A caller that wants progress wraps the work in :func:`reporting`; code deep inside (a CNN's
epoch callback, a hyperparameter search's fit counter) calls :func:`report`. With nobody
listening, :func:`report` does nothing. The listener is per thread (a ``ContextVar``), so two
trainings in two threads of one server never mix their bars.

A listener receives ``(fraction, message)``: ``fraction`` in [0, 1], or None when unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["ProgressFn", "reporting", "report", "scaled"]

ProgressFn = Callable[[float | None, str], None]

_listener: ContextVar[ProgressFn | None] = ContextVar("progress_listener", default=None)


@contextmanager
def reporting(listener: ProgressFn | None) -> Iterator[None]:
    """Send every :func:`report` made inside this block (in this thread) to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def report(fraction: float | None, message: str) -> None:
    """Tell the current listener, if any, how far the work is (``fraction`` in [0, 1] or None)."""
    listener = _listener.get()
    if listener is not None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        listener(fraction, message)


@contextmanager
def scaled(start: float, end: float) -> Iterator[None]:
    """Inside this block, a report of fraction f reaches the current listener as
    ``start + f * (end - start)``: a step that reports 0-100% fills only its share of the bar
    (e.g. a CNN's epochs within "fit, then save")."""
    outer = _listener.get()
    if outer is None:
        yield
        return

    def inner(fraction: float | None, message: str) -> None:
        outer(None if fraction is None else start + fraction * (end - start), message)

    with reporting(inner):
        yield

"""``python -m core ...`` run inside the test process.

A subprocess costs ~3 s of interpreter start and imports per call on this 2-core machine; the
CLI's own behaviour (its argument parsing, its exit codes, what it prints on stdout and stderr,
the warnings a fresh process would print) is the same in process. Tests that are about processes
(two writers racing, a server following a key) still start real ones."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping

from core.cli.main import main

#: The app's variables a test's CLI run starts without, unless it sets them (as a clean shell would).
APP_VARIABLES = ("MNIST_DIR", "MODELS_DIR", "MNIST_SOURCE")


@contextlib.contextmanager
def _environment(env: Mapping[str, str] | None, drop: tuple[str, ...]):
    saved = dict(os.environ)
    try:
        for name in drop:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_core(*args: str, env: Mapping[str, str] | None = None,
             drop: tuple[str, ...] = APP_VARIABLES) -> subprocess.CompletedProcess:
    """Run ``python -m core ARGS`` in this process with the variables in ``drop`` unset and ``env``
    set, and return what a subprocess run would: the exit code, stdout and stderr (warnings are
    printed to stderr as a fresh interpreter prints them)."""
    out, err = io.StringIO(), io.StringIO()

    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with _environment(env, drop), warnings.catch_warnings(), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.showwarning = show
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int) and exc.code is not None:
                err.write(f"{exc.code}\n")
        finally:  # the CLI's logging.basicConfig must not leave a handler on this run's stderr
            root.handlers[:], root.level = handlers, level
    return subprocess.CompletedProcess([sys.executable, "-m", "core", *args], code, out.getvalue(), err.getvalue())

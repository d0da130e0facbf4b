"""One exception hierarchy for the whole project.

Every error that ``core`` raises on purpose derives from :class:`DashboardError`, so the
app, the CLI and the benchmark catch that one class, show its message (which names the bad
value and says what to do) and keep running. Subclasses keep a built-in base where callers
already relied on it (``ValueError``, ``KeyError``, ``RuntimeError``).
"""

from __future__ import annotations

__all__ = [
    "DashboardError",
    "ArtifactError",
    "ArtifactWarning",
    "ClusterError",
    "ConfigError",
    "MissingExtraError",
    "OptionsError",
    "UnknownModelError",
    "describe_error",
]


class DashboardError(Exception):
    """Base class of every error this project raises on purpose; the message is for the user."""


class ConfigError(DashboardError, ValueError):
    """A setting (environment variable, CLI flag, folder) is unusable; the message says which."""


class OptionsError(DashboardError, ValueError):
    """A model option, parameter or grid value is invalid; the message names it and the fix."""


class UnknownModelError(DashboardError, KeyError):
    """A model name not in the catalog; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ArtifactError(DashboardError, RuntimeError):
    """A models-folder problem that stops an operation (e.g. a read-only folder when training)."""


class MissingExtraError(DashboardError, ImportError):
    """An optional dependency is not installed; the message gives the ``pip install`` line."""


class ClusterError(DashboardError, ConnectionError):
    """A Dask scheduler could not be reached or used; the message names the address."""


class ArtifactWarning(UserWarning):
    """A cached artifact was unusable (corrupt, forged, stale, malformed) and needs retraining."""


def describe_error(exc: BaseException) -> str:
    """A short reason for ``exc``: an OSError's text and file name, else its message or type."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__

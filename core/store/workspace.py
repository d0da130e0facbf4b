"""The Workspace: settings, the data they select and the one artifact store over them.

Built once at the edge (a CLI run, the app's ``st.cache_resource``) and passed down, so
nothing below the edge reads the environment or builds a second store.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.data.sources import MnistData, load_mnist
from core.errors import ConfigError, DashboardError
from core.store.artifacts import ArtifactStore, Problem
from core.store.settings import Settings

__all__ = ["Workspace", "open_workspace"]


@dataclass(frozen=True)
class Workspace:
    """``settings`` as resolved at the edge, the ``data`` they select and the ``store`` over
    their models folder for that data."""

    settings: Settings
    data: MnistData
    store: ArtifactStore


def open_workspace(settings: Settings, *, data: MnistData | None = None, problem: Problem | None = None) -> Workspace:
    """The Workspace for ``settings``: loads the data they select (unless ``data`` is given)
    and opens the store. Raises ConfigError, DataSourceError or IdxFormatError for bad data
    settings and ArtifactError for an unusable models folder, each naming the value."""
    if data is None:
        try:
            data = load_mnist(settings.source, mnist_dir=settings.mnist_dir)
        except DashboardError:
            raise
        except (ValueError, OSError) as exc:
            raise ConfigError(f"could not load MNIST (source {settings.source}): {exc}") from exc
    store = ArtifactStore(settings.models_dir, data=data, key_file=settings.signing_key_file, problem=problem)
    return Workspace(settings=settings, data=data, store=store)

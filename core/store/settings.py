"""The app's and the CLI's settings. Only the edge (a CLI run, the app) calls :meth:`Settings.from_env`;
everything below receives a Workspace built from them.

``MNIST_SOURCE`` (auto, idx, openml, sample; surrounding blanks ignored), ``MNIST_DIR`` (a
folder of IDX files), ``MODELS_DIR`` (the artifact folder, default ``./models``) and
``DASK_SCHEDULER_ADDRESS`` (a Dask scheduler for hyperparameter search) and
``MNIST_DASHBOARD_KEY_FILE`` (the key that signs trained artifacts; default
``$XDG_CONFIG_HOME/mnist-dashboard/signing.key``, else ``~/.config/mnist-dashboard/signing.key``).
Reading settings never creates or touches a folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from core.data.sources import parse_source
from core.errors import ConfigError

__all__ = ["DEFAULT_MODELS_DIR", "KEY_FILE_ENV", "Settings", "default_key_file"]

DEFAULT_MODELS_DIR = "models"
KEY_FILE_ENV = "MNIST_DASHBOARD_KEY_FILE"


def default_key_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where the artifact signing key lives when ``MNIST_DASHBOARD_KEY_FILE`` is unset: the
    user's config folder (``$XDG_CONFIG_HOME`` or ``~/.config``), outside any models folder."""
    env = os.environ if environ is None else environ
    base = (env.get("XDG_CONFIG_HOME") or "").strip()
    root = Path(base).expanduser() if base else Path("~/.config").expanduser()
    return root / "mnist-dashboard" / "signing.key"


def _folder(value: str | None, what: str) -> Path | None:
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(f"{what} is empty; give a path, or leave it unset for the default.")
    return Path(value.strip()).expanduser()


@dataclass(frozen=True)
class Settings:
    """Where data and models come from. Build with :meth:`from_env`, override with :meth:`with_`."""

    source: str = "auto"
    mnist_dir: Path | None = None
    models_dir: Path = Path(DEFAULT_MODELS_DIR)
    dask_address: str | None = None
    key_file: Path | None = None

    @property
    def signing_key_file(self) -> Path:
        """The signing key's path: ``key_file`` if set, else :func:`default_key_file`."""
        return self.key_file if self.key_file is not None else default_key_file()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); ConfigError names a bad variable."""
        env = os.environ if environ is None else environ
        models = env.get("MODELS_DIR")
        return cls(
            source=parse_source(env.get("MNIST_SOURCE")),
            mnist_dir=Path(env["MNIST_DIR"].strip()).expanduser() if (env.get("MNIST_DIR") or "").strip() else None,
            models_dir=_folder(models, "MODELS_DIR") if models else Path(DEFAULT_MODELS_DIR),
            dask_address=(env.get("DASK_SCHEDULER_ADDRESS") or "").strip() or None,
            key_file=(_folder(env[KEY_FILE_ENV], KEY_FILE_ENV) if env.get(KEY_FILE_ENV) is not None
                      else default_key_file(env)),
        )

    def with_(
        self,
        *,
        source: str | None = None,
        mnist_dir: str | os.PathLike | None = None,
        models_dir: str | os.PathLike | None = None,
        dask_address: str | None = None,
    ) -> Settings:
        """A copy with the given values (e.g. CLI flags) replacing these; None keeps a value.
        An empty ``models_dir`` string is an error, not the default."""
        changes: dict = {}
        if source is not None:
            changes["source"] = parse_source(source)
        if mnist_dir is not None:
            changes["mnist_dir"] = _folder(str(mnist_dir), "--mnist-dir")
        if models_dir is not None:
            changes["models_dir"] = _folder(str(models_dir), "--models-dir")
        if dask_address is not None:
            changes["dask_address"] = dask_address.strip() or None
        return replace(self, **changes)

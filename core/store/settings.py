"""The app's and the CLI's settings. Only the edge (a CLI run, the app) calls :meth:`Settings.from_env`;
everything below receives a Workspace built from them.

``MNIST_SOURCE`` (auto, idx, openml, sample; surrounding blanks ignored), ``MNIST_DIR`` (a
folder of IDX files), ``MODELS_DIR`` (the artifact folder, default ``./models``) and
``DASK_SCHEDULER_ADDRESS`` (the Dask scheduler for hyperparameter search; more to choose from
in ``DASK_SCHEDULER_ADDRESSES``, comma-separated; ``DASK_TLS_CA_FILE``, ``DASK_TLS_CERT`` and
``DASK_TLS_KEY`` make the connection TLS with those files) and
``MNIST_DASHBOARD_KEY_FILE`` (the key that signs trained artifacts; default
``$XDG_CONFIG_HOME/mnist-dashboard/signing.key``, else ``~/.config/mnist-dashboard/signing.key``).
Reading settings never creates or touches a folder.

A Dask scheduler runs code in this process (results come back as pickles), so its address is
server configuration only: the app offers the configured addresses, never a free text field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from core.data.sources import parse_source
from core.errors import ConfigError

__all__ = ["DEFAULT_MODELS_DIR", "KEY_FILE_ENV", "Settings", "default_key_file", "parse_dask_address"]

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


_DASK_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def parse_dask_address(value: str, what: str = "DASK_SCHEDULER_ADDRESS") -> str:
    """``value`` as a Dask scheduler address (``tcp://host:port``, ``tls://host:port``, or
    ``host:port`` meaning tcp); ConfigError names a malformed one (no host, no port, http://...)."""
    text = value.strip()
    if "://" not in text:
        text = "tcp://" + text
    scheme, _, rest = text.partition("://")
    host, sep, port = rest.rpartition(":")
    if (scheme not in _DASK_SCHEMES or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536
            or any(c in rest for c in "/?#@ ")):
        raise ConfigError(
            f"{what}={value!r} is not a Dask scheduler address; give tcp://HOST:PORT or tls://HOST:PORT "
            "(e.g. tcp://127.0.0.1:8786)."
        )
    return text


def _addresses(env: Mapping[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    first = (env.get("DASK_SCHEDULER_ADDRESS") or "").strip()
    if first:
        out.append(parse_dask_address(first))
    for item in (env.get("DASK_SCHEDULER_ADDRESSES") or "").split(","):
        if item.strip():
            address = parse_dask_address(item, "DASK_SCHEDULER_ADDRESSES")
            if address not in out:
                out.append(address)
    return tuple(out)


def _tls(env: Mapping[str, str]) -> tuple[Path, Path, Path] | None:
    names = ("DASK_TLS_CA_FILE", "DASK_TLS_CERT", "DASK_TLS_KEY")
    values = [(env.get(n) or "").strip() for n in names]
    if not any(values):
        return None
    missing = [n for n, v in zip(names, values) if not v]
    if missing:
        raise ConfigError(f"Dask TLS needs all of {', '.join(names)}; {', '.join(missing)} is not set.")
    return tuple(Path(v).expanduser() for v in values)  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    """Where data and models come from. Build with :meth:`from_env`, override with :meth:`with_`."""

    source: str = "auto"
    mnist_dir: Path | None = None
    models_dir: Path = Path(DEFAULT_MODELS_DIR)
    dask_address: str | None = None
    key_file: Path | None = None
    #: every configured scheduler (the app offers these; ``dask_address`` is the first)
    dask_addresses: tuple[str, ...] = ()
    #: (CA file, client certificate, client key) for TLS to the scheduler, or None
    dask_tls: tuple[Path, Path, Path] | None = None

    def dask_security(self):
        """A ``distributed.security.Security`` for the configured TLS files (None without TLS)."""
        if self.dask_tls is None:
            return None
        from distributed.security import Security

        for path in self.dask_tls:
            if not path.is_file():
                raise ConfigError(f"the Dask TLS file {str(path)!r} (DASK_TLS_*) does not exist or is not a file.")
        ca, cert, key = (str(p) for p in self.dask_tls)
        return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)

    @property
    def signing_key_file(self) -> Path:
        """The signing key's path: ``key_file`` if set, else :func:`default_key_file`."""
        return self.key_file if self.key_file is not None else default_key_file()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); ConfigError names a bad variable."""
        env = os.environ if environ is None else environ
        models = env.get("MODELS_DIR")
        addresses = _addresses(env)
        return cls(
            source=parse_source(env.get("MNIST_SOURCE")),
            mnist_dir=Path(env["MNIST_DIR"].strip()).expanduser() if (env.get("MNIST_DIR") or "").strip() else None,
            models_dir=_folder(models, "MODELS_DIR") if models else Path(DEFAULT_MODELS_DIR),
            dask_address=addresses[0] if addresses else None,
            dask_addresses=addresses,
            dask_tls=_tls(env),
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

"""The artifact store's cache of test-set predictions beside each model: signed ``.npz`` files,
validated on read, recomputed when unusable (a part of :class:`core.store.artifacts.ArtifactStore`)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import numpy as np

from core.data.sources import MnistData, fingerprint_arrays
from core.errors import ArtifactError, describe_error
from core.fileio import atomic_save_npz
from core.models.predict import TestPredictions, compute_predictions
from core.store.records import (
    ModelRecord,
    TrainedModel,
)

__all__ = ["SCORE_KINDS", "StorePredictions"]


class StorePredictions:
    """Cached test predictions; mixed into ArtifactStore (uses its data, key and paths)."""

    # ------------------------------------------------------------ predictions

    def predictions(self, model: TrainedModel) -> TestPredictions:
        """``model``'s predictions on ``data.X_test``: read from the cache beside the artifact,
        else computed (with a robust single-digit latency) and cached, unless the folder is
        read-only."""
        self.tidy()
        cached = self.cached_predictions(model.record)
        if cached is not None:
            return cached
        preds = compute_predictions(model.pipeline, self.data.X_test, self.data.y_test)
        self.save_predictions(model.record, preds)
        return preds

    def save_predictions(self, record: ModelRecord, preds: TestPredictions) -> None:
        """Cache ``preds`` beside ``record``'s artifact, signed with this installation's key;
        silently skipped when the folder cannot be written (predictions are cheap to recompute)."""
        try:
            self.write_predictions(self.record_paths(record).predictions, record, preds)
        except (OSError, ArtifactError):  # read-only folder, a directory in the way: predictions stay uncached
            pass

    def write_predictions(self, path: Path, record: ModelRecord, preds: TestPredictions) -> None:
        """Atomically write ``preds`` of ``record``'s model to ``path``, signed with this
        installation's key (what :meth:`cached_predictions` reads back). Raises OSError."""
        fields = {
            "y_pred": np.asarray(preds.y_pred, dtype=np.int64), "scores": np.asarray(preds.scores, dtype=np.float64),
            "score_kind": np.str_(preds.score_kind), "predict_seconds": np.float64(preds.predict_seconds),
            "latency_ms": np.float64(preds.latency_ms), "test_fingerprint": np.str_(_test_fingerprint(self.data)),
            "model_sha256": np.str_(record.model_sha256),
        }
        atomic_save_npz(path, signature=np.str_(_sign_arrays(fields, self._signing_key())), **fields)

    def cached_predictions(self, record: ModelRecord) -> TestPredictions | None:
        """The cached test-set predictions of ``record``'s artifact, without loading the model;
        None if absent, or (reported through ``problem``) unsigned, changed, malformed, or for
        other test data or another model file: the caller recomputes them."""
        path = self.record_paths(record).predictions
        if not path.exists():
            return None
        try:
            preds = self._read_predictions(path, record)
        except Exception as exc:  # noqa: BLE001 (truncated, foreign, tampered npz: the caller recomputes)
            if isinstance(exc, ArtifactError) and "signing key" in str(exc):
                raise
            self._problem(f"cached predictions {path.name} are unusable ({describe_error(exc)}); they are computed again.")
            return None
        return preds

    def _read_predictions(self, path: Path, record: ModelRecord) -> TestPredictions:
        n = len(self.data.y_test)
        with np.load(path, allow_pickle=False) as f:
            fields = {name: f[name] for name in _PREDICTION_FIELDS}
            signature = str(f["signature"]) if "signature" in f.files else ""
        if not hmac.compare_digest(signature, _sign_arrays(fields, self._signing_key())):
            raise ValueError("not signed by this installation's key")
        if str(fields["test_fingerprint"]) != _test_fingerprint(self.data) or str(fields["model_sha256"]) != record.model_sha256:
            raise ValueError("made for other test data or another model file")
        y_pred, scores = fields["y_pred"], fields["scores"]
        if y_pred.dtype.kind not in "iu" or y_pred.shape != (n,) or (n and not (y_pred.min() >= 0 and y_pred.max() <= 9)):
            raise ValueError(f"y_pred is not {n} digits 0-9 (dtype {y_pred.dtype}, shape {y_pred.shape})")
        if scores.dtype.kind != "f" or scores.shape != (n, 10) or not np.isfinite(scores).all():
            raise ValueError(f"scores are not {n} x 10 finite numbers (dtype {scores.dtype}, shape {scores.shape})")
        kind = str(fields["score_kind"])
        if kind not in SCORE_KINDS:
            raise ValueError(f"score_kind {kind[:40]!r} is not one of {', '.join(SCORE_KINDS)}")
        seconds, latency = float(fields["predict_seconds"]), float(fields["latency_ms"])
        if not (np.isfinite(seconds) and np.isfinite(latency) and 0 <= seconds < 1e7 and 0 <= latency < 1e7):
            raise ValueError("timings are out of range")
        return TestPredictions(y_true=self.data.y_test, y_pred=y_pred.astype(np.int64), scores=scores.astype(np.float64),
                               score_kind=kind, predict_seconds=seconds, latency_ms=latency)

    def accuracy(self, record: ModelRecord) -> float | None:
        """Test accuracy of ``record``'s model from its cached predictions only (None if absent)."""
        preds = self.cached_predictions(record)
        return None if preds is None else float(np.mean(preds.y_true == preds.y_pred))


_PREDICTION_FIELDS = ("y_pred", "scores", "score_kind", "predict_seconds", "latency_ms", "test_fingerprint", "model_sha256")
#: What ``TestPredictions.score_kind`` may be.
SCORE_KINDS = ("probability", "decision score")


def _sign_arrays(fields: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over the prediction fields' names, dtypes, shapes and bytes."""
    mac = hmac.new(key, b"predictions-v1", hashlib.sha256)
    for name in _PREDICTION_FIELDS:
        arr = np.ascontiguousarray(fields[name])
        mac.update(f"|{name}|{arr.dtype.str}|{arr.shape}|".encode())
        mac.update(arr.tobytes())
    return mac.hexdigest()


_test_fingerprints: dict[str, str] = {}
_last_tidy: dict[str, float] = {}


def _test_fingerprint(data: MnistData) -> str:
    """The fingerprint of the test arrays alone (what cached predictions depend on), memoised
    by the whole data set's fingerprint (which covers the test arrays)."""
    fp = _test_fingerprints.get(data.fingerprint)
    if fp is None:
        fp = _test_fingerprints[data.fingerprint] = fingerprint_arrays(data.X_test, data.y_test)
    return fp



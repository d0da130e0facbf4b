"""Stage 3, store: the models folder (signed records, artifacts, cached predictions, side
files), training through it, background jobs, settings and the Workspace."""

from core.store.artifacts import ArtifactStore
from core.store.records import ModelRecord, ModelStatus, TrainedModel, TrainOptions
from core.store.settings import Settings
from core.store.training import train_model
from core.store.workspace import Workspace, open_workspace

__all__ = [
    "ArtifactStore",
    "ModelRecord",
    "ModelStatus",
    "Settings",
    "TrainOptions",
    "TrainedModel",
    "Workspace",
    "open_workspace",
    "train_model",
]

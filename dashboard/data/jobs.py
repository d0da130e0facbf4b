"""Background work of the app: training (Home's "Train missing models", Tune's "Train the best")
in the process's one :class:`core.store.jobs.JobRunner`, and the nearest-neighbour indexes the
Digit inspector needs, started explicitly by the pages that want them ready.

Jobs survive leaving the page; the sidebar shows their progress on every page
(dashboard.components.show_training_status).
"""

from __future__ import annotations

from concurrent.futures import Future

import streamlit as st

from core.analysis.explain import prefetch_neighbour_index
from core.data.sources import MnistData
from core.models.catalog import get_spec
from core.store.jobs import Job, JobRunner
from core.store.records import TrainedModel, TrainOptions
from core.store.training import train_model
from core.store.workspace import Workspace
from dashboard.data.workspace import HASH_FUNCS

__all__ = ["job_model", "job_runner", "start_neighbour_indexes", "start_training", "training_jobs"]


@st.cache_resource(show_spinner=False)
def job_runner() -> JobRunner:
    """The process's one background-job runner (jobs run one at a time, in order)."""
    return JobRunner(workers=1)


def _prefix(ws: Workspace) -> str:
    return f"train:{ws.store.folder.expanduser().resolve()}:{ws.data.fingerprint}:"


def start_training(ws: Workspace, names: list[str], *, options: TrainOptions | None = None) -> list[Job]:
    """Queue training of catalog models ``names`` (with ``options``, default the catalog's) into
    the Workspace's store, one background job per model. A model already queued or training
    with the same options is not queued twice, by this or any other session."""
    jobs = []
    for name in names:
        label = get_spec(name).label
        key = _prefix(ws) + name + ("" if options is None else f"@{ws.store.key(name, options)}")
        jobs.append(job_runner().submit(
            key, lambda name=name: train_model(ws.store, name, options=options), label=f"Training {label}",
        ))
    return jobs


def training_jobs(ws: Workspace) -> list[Job]:
    """This process's training jobs for the Workspace's data and models folder, oldest first."""
    prefix = _prefix(ws)
    return [job for job in job_runner().jobs() if job.key.startswith(prefix)]


def job_model(job: Job) -> str:
    """The catalog name a training job trains."""
    return job.key.rsplit(":", 1)[-1].split("@")[0]


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _start_index(model: TrainedModel, data: MnistData) -> Future:
    # once per artifact and data set (the cache key): core builds it in a background thread
    return prefetch_neighbour_index(model.pipeline, data.X_train, data.y_train, data_key=data.fingerprint)


def start_neighbour_indexes(ws: Workspace, models: dict[str, TrainedModel] | list[TrainedModel]) -> None:
    """Build each model's nearest-neighbour index over the training digits in the background
    (core.analysis.explain caches it per feature space), so that a later explanation does not
    wait for it. Called by the pages that lead to explanations (Home, Digit inspector)."""
    for model in (models.values() if isinstance(models, dict) else models):
        _start_index(model, ws.data)

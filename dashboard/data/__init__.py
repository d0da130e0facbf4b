"""The dashboard's data layer: the Workspace (built once per process at the edge), the trained
models, background jobs and every cached computation the pages show.

Caches are keyed by explicit arguments only: the Settings, a model's artifact path and
SHA-256, the data fingerprint, and the label fixes a page passes in. Nothing here reads
session state, draws a widget or stops a page; the state and components layers do that.

* :mod:`dashboard.data.workspace`: settings, the Workspace, model statuses, loading models,
  cached accuracies.
* :mod:`dashboard.data.jobs`: the background job runner (training, neighbour indexes).
* :mod:`dashboard.data.metrics`: predictions (with label fixes), metrics, marks.
* :mod:`dashboard.data.analysis`: explanations, calibration, thresholds, label-error ranking.
"""

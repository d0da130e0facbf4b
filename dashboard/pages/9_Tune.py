"""Tune: grid search with stratified K-fold CV (here or on a Dask cluster), a heatmap of the
results, and one click to train the best parameters as the model's variant on every page.

The view lives in the URL (dashboard.state): ``model``, one parameter per grid value (e.g.
``n_neighbors=1,3``), ``folds``, ``subset`` and ``result`` (the key of the search result shown,
reopened from the store's cached searches). "Train the best" trains in the background, like
Home's button, with progress in the sidebar. Session state: ``tune_result`` (the last
core.analysis.tune.SearchResult shown), ``tune_cv`` (the last CvResult), ``tune_job`` (the key of
the training job started here).
"""

import streamlit as st

from core.analysis.tune import DEFAULT_FOLDS, DEFAULT_MAX_TRAIN, cached_cv, cross_validate_model, latest_options, search
from core.errors import DashboardError
from core.models.catalog import AUGMENTATIONS, get_spec
from core.models.grids import GRIDS, TUNABLE_MODELS, format_value, parse_grid, settings_text, train_params
from core.plots.tune import plot_search_heatmap, varying_params
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.searches import searches_of
from dashboard import state
from dashboard.components import NUMBER_WIDTH, require_workspace, setup_page
from dashboard.data import jobs

setup_page("Tune", "🎛️")
st.title("Tune")
st.caption(
    "Grid search with stratified K-fold cross-validation on a training subset, on this machine "
    "or on a Dask cluster. Results are cached beside the models: the same search again is instant."
)
ws, _fixes = require_workspace()
data, store = ws.data, ws.store

name = state.url_widget(st.selectbox, "Model", options=list(TUNABLE_MODELS), key="tune_model", param="model",
                        initial=TUNABLE_MODELS[0], format_func=lambda n: get_spec(n).label)
spec = get_spec(name)

st.subheader("Grid")
st.caption("Comma-separated values per parameter; one value fixes it.")
specs = GRIDS[name]
texts: dict[str, str] = {}
for column, param in zip(st.columns(len(specs)), specs):
    texts[param.name] = state.url_widget(
        column.text_input, param.name, key=f"tune_{name}_{param.name}", param=param.name,
        initial=",".join(format_value(v) for v in param.default), help=f"{param.help}: {param.describe()}".strip(": "),
    )
left, middle, right = st.columns([1, 1, 2])
folds = state.url_widget(left.number_input, "Folds (K)", key="tune_folds", param="folds", initial=DEFAULT_FOLDS, parse=int,
                         min_value=2, max_value=10, step=1, width=NUMBER_WIDTH)
max_train = state.url_widget(
    middle.number_input, "Training subset (digits)", key="tune_max_train", param="subset", initial=min(DEFAULT_MAX_TRAIN, data.n_train),
    parse=int, min_value=20, max_value=data.n_train, step=500, width=NUMBER_WIDTH, help="a stratified subset of the training set",
)
# A Dask scheduler runs code in this process, so only the server's configuration names one
# (DASK_SCHEDULER_ADDRESS / DASK_SCHEDULER_ADDRESSES); the page offers those, never free text.
server = ws.settings
address = right.selectbox(
    "Run on", [None, *server.dask_addresses], format_func=lambda a: "this machine" if a is None else f"Dask {a}",
    index=1 if server.dask_addresses else 0, key="tune_engine", help="Dask schedulers come from the server's configuration (DASK_SCHEDULER_ADDRESS).",
    disabled=not server.dask_addresses,
)
try:
    security = server.dask_security() if address else None
except DashboardError as exc:
    st.error(str(exc))
    security, address = None, None

if st.button("Run search", type="primary", key="tune_run"):
    try:
        grid = parse_grid(name, [f"{k}={v}" for k, v in texts.items()])
        bar = st.progress(0.0, text="starting…")
        with reporting(lambda fraction, message: bar.progress(fraction or 0.0, text=message)):
            st.session_state.tune_result = search(store, name, grid=grid, folds=int(folds), max_train=int(max_train),
                                                  dask_address=address, dask_security=security)
        bar.empty()
    except DashboardError as exc:
        st.error(str(exc))

requested = state.url_param("result", key="_tune_result_key", initial=None)
if requested is not None and getattr(st.session_state.get("tune_result"), "key", None) != requested:
    found = [r for r in searches_of(store, name) if r.key == requested]
    if found:
        st.session_state.tune_result = found[0]
    else:
        st.warning(f"Search result {requested!r} from the URL is not among the cached searches of {spec.label}; run the search again.")
result = st.session_state.get("tune_result")
state.write_param("result", result.key if result is not None and result.name == name else None)
st.session_state["_tune_result_key"] = result.key if result is not None and result.name == name else None
if result is not None and result.name == name:
    st.subheader("Results")
    where = "cached result" if result.from_cache else f"{result.seconds:.1f} s on {result.engine}"
    st.caption(f"{result.n_candidates} candidates × {result.folds} folds = {result.n_fits} fits on "
               f"{result.n_train:,} training digits; {where}.")
    st.success(result.best_summary())
    st.dataframe(result.display_table(), hide_index=True, width="stretch")
    table = result.table()
    varying = varying_params(table, result.params) or result.params[:1]
    x_col, y_col = st.columns(2)
    x = x_col.selectbox("Heatmap columns", varying, key="tune_x")
    y_options = [p for p in varying if p != x]
    y = y_col.selectbox("Heatmap rows", y_options, key="tune_y") if y_options else None
    st.plotly_chart(plot_search_heatmap(table, x=x, y=y), key="tune_heatmap")

    st.subheader("Train the best")
    params = train_params(name, result.best_params)
    a_col, d_col = st.columns(2)
    augment = a_col.selectbox("Augmentation", AUGMENTATIONS, index=AUGMENTATIONS.index(spec.augment), key="tune_augment")
    deskew = d_col.checkbox("Deskew", value=spec.deskew, key="tune_deskew")
    shown = settings_text(name, result.best_params) or "the catalog defaults"
    options = TrainOptions(params=params, augment=augment, deskew=deskew)
    if st.button(f"Train {spec.label} with {shown} on the full training set", key="tune_train_best"):
        (job,) = jobs.start_training(ws, [name], options=options)
        st.session_state.tune_job = job.key
        st.rerun()  # the sidebar shows its progress from this run on
    job = next((j for j in jobs.training_jobs(ws) if j.key == st.session_state.get("tune_job")), None)
    if job is not None and jobs.job_model(job) == name:
        if not job.state.finished:
            st.info(f"{job.label} in the background: progress in the sidebar. You can keep using the app.",
                    icon=":material/model_training:")
        elif job.state == "failed":
            st.error(f"{job.label} failed: {job.error}")
        else:
            model = job.result
            how = "loaded from the cache" if model.from_cache else f"trained in {model.record.fit_seconds:.1f} s"
            st.info(f"{spec.label} ({model.record.options_summary()}) on {model.record.n_train:,} digits: {how}. "
                    "Every page now shows this variant.")

st.subheader("Cross-validate the current variant")
options = latest_options(store, name)
st.caption(f"{spec.label}: {'its most recently trained variant' if options else 'catalog defaults (not trained yet)'}, "
           "with the folds, subset and scheduler above. The leaderboard shows the result.")
if st.button("Cross-validate", key="tune_cv_run"):
    try:
        bar = st.progress(0.0, text="starting…")
        with reporting(lambda fraction, message: bar.progress(fraction or 0.0, text=message)):
            st.session_state.tune_cv = cross_validate_model(store, name, options=options, cv=int(folds),
                                                            max_train=int(max_train), dask_address=address,
                                                            dask_security=security)
        bar.empty()
    except DashboardError as exc:
        st.error(str(exc))
known = cached_cv(store, name, options=options)
if known is not None:
    st.metric("CV accuracy", f"{100 * known.mean:.2f}%", help=known.summary())
    st.caption(known.summary())

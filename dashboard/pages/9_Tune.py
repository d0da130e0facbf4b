"""Tune: grid search with stratified K-fold CV (here or on a Dask cluster), a heatmap of the
results, and one click to train the best parameters as the model's variant on every page.

Session state: ``tune_result`` (the last core.analysis.tune.SearchResult shown), ``tune_cv`` (the last
CvResult), ``tune_trained`` (a message about the last variant trained here).
"""

import streamlit as st

from core.analysis.tune import DEFAULT_FOLDS, DEFAULT_MAX_TRAIN, cached_cv, cross_validate_model, latest_options, search
from core.errors import DashboardError
from core.models.catalog import AUGMENTATIONS, get_spec
from core.models.grids import GRIDS, TUNABLE_MODELS, format_value, parse_grid, settings_text, train_params
from core.plots.tune import plot_search_heatmap, varying_params
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.training import train_model
from dashboard import cache
from dashboard.components import require_data, setup_page

setup_page("Tune", "🎛️")
st.title("Tune")
st.caption(
    "Grid search with stratified K-fold cross-validation on a training subset, on this machine "
    "or on a Dask cluster. Results are cached beside the models: the same search again is instant."
)
data = require_data()
store = cache.store(data)

name = st.selectbox("Model", TUNABLE_MODELS, format_func=lambda n: get_spec(n).label, key="tune_model")
spec = get_spec(name)

st.subheader("Grid")
st.caption("Comma-separated values per parameter; one value fixes it.")
specs = GRIDS[name]
texts: dict[str, str] = {}
for column, param in zip(st.columns(len(specs)), specs):
    texts[param.name] = column.text_input(
        param.name, value=",".join(format_value(v) for v in param.default), key=f"tune_{name}_{param.name}",
        help=f"{param.help}: {param.describe()}".strip(": "),
    )
left, middle, right = st.columns([1, 1, 2])
folds = left.number_input("Folds (K)", min_value=2, max_value=10, value=DEFAULT_FOLDS, step=1, key="tune_folds")
max_train = middle.number_input(
    "Training subset (digits)", min_value=20, max_value=data.n_train, value=min(DEFAULT_MAX_TRAIN, data.n_train),
    step=500, key="tune_max_train", help="a stratified subset of the training set",
)
address = right.text_input(
    "Dask scheduler (empty: this machine)", value=cache.settings().dask_address or "", key="tune_dask",
    placeholder="tcp://127.0.0.1:8786", help="default: DASK_SCHEDULER_ADDRESS",
).strip() or None

if st.button("Run search", type="primary", key="tune_run"):
    try:
        grid = parse_grid(name, [f"{k}={v}" for k, v in texts.items()])
        bar = st.progress(0.0, text="starting…")
        with reporting(lambda fraction, message: bar.progress(fraction or 0.0, text=message)):
            st.session_state.tune_result = search(store, name, grid=grid, folds=int(folds), max_train=int(max_train),
                                                  dask_address=address)
        bar.empty()
    except DashboardError as exc:
        st.error(str(exc))

result = st.session_state.get("tune_result")
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
    if st.button(f"Train {spec.label} with {shown} on the full training set", key="tune_train_best"):
        try:
            with st.status(f"Training {spec.label}…") as status:
                with reporting(lambda _fraction, message: status.write(message)):
                    model = train_model(store, name, options=TrainOptions(params=params, augment=augment, deskew=deskew))
                status.update(label=f"{spec.label} ready", state="complete")
            how = "loaded from the cache" if model.from_cache else f"trained in {model.record.fit_seconds:.1f} s"
            st.session_state.tune_trained = (
                f"{spec.label} ({model.record.options_summary()}) on {model.record.n_train:,} digits: {how}. "
                "Every page now shows this variant."
            )
        except (DashboardError, ValueError) as exc:
            st.error(str(exc))
    if st.session_state.get("tune_trained", "").startswith(spec.label):
        st.info(st.session_state.tune_trained)

st.subheader("Cross-validate the current variant")
options = latest_options(store, name)
st.caption(f"{spec.label}: {'its most recently trained variant' if options else 'catalog defaults (not trained yet)'}, "
           "with the folds, subset and scheduler above. The leaderboard shows the result.")
if st.button("Cross-validate", key="tune_cv_run"):
    try:
        bar = st.progress(0.0, text="starting…")
        with reporting(lambda fraction, message: bar.progress(fraction or 0.0, text=message)):
            st.session_state.tune_cv = cross_validate_model(store, name, options=options, cv=int(folds),
                                                            max_train=int(max_train), dask_address=address)
        bar.empty()
    except DashboardError as exc:
        st.error(str(exc))
known = cached_cv(store, name, options=options)
if known is not None:
    st.metric("CV accuracy", f"{100 * known.mean:.2f}%", help=known.summary())
    st.caption(known.summary())

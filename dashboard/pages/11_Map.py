"""Map: every test digit as a point in 2-D (UMAP, t-SNE or PCA of pixels or a model's own
features); a lasso or box turns any region into a gallery, a click opens the Digit inspector.

The view (layout, space, colouring, selection) is in the URL; see dashboard.map_view.
"""

import numpy as np
import streamlit as st

from core.analysis.embedding import METHODS, PIXELS
from core.analysis.map_selection import selection_mask, summarize_selection
from core.errors import DashboardError
from core.models.catalog import get_spec
from core.plots.embedding import COLOURINGS, MAP_CONFIG, plot_map
from dashboard import map_view
from dashboard.components import digit_gallery, paged, pick_model, require_loaded_models, require_workspace, setup_page
from dashboard.data.analysis import load_suspects, trained_predictions
from dashboard.data.metrics import load_predictions
from dashboard.data.workspace import load_model, model_statuses

setup_page("Map", "🗺️")
st.title("Map")
ws, fixes = require_workspace()
data = ws.data
name, model = pick_model(ws, label="Model (colours, answers)")
statuses = {s.name: s for s in model_statuses(ws) if s.trained}
view, spaces = map_view.read_view(list(statuses))
st.session_state.setdefault("map_nonce", 0)


def chart_key() -> str:
    return f"map_chart_{st.session_state.map_nonce}"


# A box or lasso reaches this run as the event of the chart drawn last time: it becomes the
# selection. The chart already shows it, so while nothing else about the figure changes, the
# figure is sent unchanged (Plotly keeps the user's selection; no redraw of 10,000 points) and the
# selection is the points the chart picked. Otherwise a fresh chart draws the selection from the
# figure itself. A click on one digit opens it.
region, clicked, picked = map_view.selection_event(st.session_state.get(chart_key()))
if region is not None:
    view.selection = region
    st.session_state["_map_drag"] = "lasso" if region.kind == "lasso" else "select"
elif clicked is not None:
    st.session_state.map_nonce += 1
    st.switch_page(map_view.INSPECTOR_PAGE, query_params={"index": clicked, "model": name})


def control(param: str, widget, label: str, options, **kwargs):
    """A widget showing ``view.<param>``; a change is remembered and (for the layout) clears the selection."""
    key = f"map_{param}_widget"
    st.session_state[key] = getattr(view, param)

    def changed():
        st.session_state[f"_map_{param}"] = st.session_state[key]
        if param in ("method", "space", "seed"):
            st.session_state["_map_sel"] = None

    value = widget(label, options, key=key, on_change=changed, **kwargs) if options is not None else \
        widget(label, key=key, on_change=changed, **kwargs)
    setattr(view, param, value)
    return value


c1, c2, c3, c4, c5 = st.columns([1.0, 2.1, 1.5, 1.3, 0.7])
with c1:
    control("method", st.selectbox, "Layout", list(METHODS), format_func=METHODS.get)
with c2:
    control("space", st.selectbox, "Feature space", spaces,
            format_func=lambda s: "pixels (deskewed, PCA-50)" if s == PIXELS else f"{get_spec(s).label}: {get_spec(s).features}")
with c3:
    control("colour", st.selectbox, "Colour by", list(COLOURINGS), format_func=COLOURINGS.get)
with c4:
    if view.colour == "pair":
        control("model_b", st.selectbox, "Model B", list(statuses), format_func=lambda n: statuses[n].label)
with c5:
    control("seed", st.number_input, "Seed", None, min_value=0, max_value=2**32 - 1, step=1)
if view.space not in spaces:
    view.space = PIXELS
map_view.remember(view)

# ------------------------------------------------------------------- layout
pipeline, model_id = None, ""
if view.space != PIXELS:
    space_model = model if view.space == name else load_model(ws, statuses[view.space])[0]
    if space_model is None:
        st.error(f"The {view.space} model could not be loaded; retrain it or use another space: {', '.join(spaces)}.")
        st.stop()
    pipeline, model_id = space_model.pipeline, space_model.record.model_sha256
layout, problem = map_view.load_layout(ws, view, model_id)
if problem:
    st.warning(f"The saved map was unusable ({problem}) It is being computed again.", icon=":material/warning:")
if layout is None:
    job = map_view.layout_job(ws, view, model_id)
    if job is not None and job.state == "done" and job.result is not None:
        layout = job.result  # computed, but the models folder could not keep it
    elif job is not None and job.state == "failed" and not problem:
        st.error(f"Computing the map failed: {job.error}")
        if st.button("Try again"):
            map_view.start_layout(ws, view, pipeline=pipeline, model_id=model_id)
            st.rerun()
        st.stop()
    else:
        if job is None or job.state.finished:
            job = map_view.start_layout(ws, view, pipeline=pipeline, model_id=model_id)

        @st.fragment(run_every=1.0)
        def progress() -> None:
            if job.state.finished:
                st.rerun()
            text = f"{job.label}: {job.message}" if job.state == "running" else f"{job.label}: queued behind other work"
            st.progress(job.fraction or 0.0, text=text)

        st.info(f"Computing the {METHODS[view.method]} map of {data.n_test:,} test digits in the background; it is "
                "saved, so this happens once per layout. You can leave the page meanwhile.", icon=":material/hourglass:")
        progress()
        st.stop()

# ---------------------------------------------------------------- the map
preds = load_predictions(ws, model, fixes)
preds_b = quality = None
if view.colour == "pair":
    model_b = load_model(ws, statuses[view.model_b])[0] if view.model_b in statuses else None
    preds_b = None if model_b is None else load_predictions(ws, model_b, fixes)
    if preds_b is None:
        st.warning("Model B could not be loaded; colouring by true label.")
        view.colour = "label"
if view.colour == "quality":
    try:
        loaded = require_loaded_models(ws)
        quality = load_suspects(trained_predictions(ws, loaded), loaded, calibrate=False)
    except DashboardError as exc:
        st.warning(f"No label-quality scores: {exc} Colouring by true label.")
        view.colour = "label"

left, right = st.columns([5, 1.3], gap="medium")
with right:
    st.metric("Trustworthiness", f"{layout.trustworthiness:.3f}", help="sklearn.manifold.trustworthiness, k=10, on "
              f"{layout.n_subset:,} stratified test digits: 1 means the picture's neighbourhoods exist in the features.")
    st.metric("10-NN label agreement", f"{layout.neighbour_agreement:.1%}",
              help="Share of each digit's 10 nearest neighbours in the picture that carry its label.")
    st.caption(f"{METHODS[view.method]} of {view.space}, seed {view.seed}; computed in "
               f"{layout.seconds:.0f} s{' (saved)' if layout.from_cache else ''}. Distances between clusters mean little; neighbourhoods do.")
    show_bg = st.toggle("Training digits", value=True, help=f"{len(layout.train_index):,} training digits, "
                        "placed by the test layout's transform (they are not part of its fit).")
    show_errors = st.toggle("Errors on top", value=True, help=f"{model.record.label}'s mistakes, outlined.")
    show_suspects = st.toggle("Suspects on top", value=True, help="Labels you marked wrong (Label errors page)"
                              " and, when colouring by label quality, the ones cleanlab flags.")
    hover_digits = st.toggle("Digits on hover", value=True)

points = map_view.map_points(ws, layout, preds, preds_b=preds_b, quality=quality, hover=hover_digits)
figure_inputs = (name, model.record.model_sha256, fixes.digest if fixes else "", view.method, view.space, view.seed,
                 view.colour, view.model_b if preds_b is not None else "", show_bg, show_errors, show_suspects, hover_digits)
# the chart on screen: (key, figure inputs, drew a selection itself, drag mode), fixed when it was created
chart = st.session_state.get("_map_chart")
if chart is None or chart[0] != chart_key():
    chart = None
native = region is not None and chart is not None and chart[1:3] == (figure_inputs, False)
if region is not None and not native:
    st.session_state.map_nonce += 1  # a fresh chart that draws the selection from the figure
    chart = None
if native:
    mask = np.zeros(data.n_test, dtype=bool)
    mask[picked[(picked >= 0) & (picked < data.n_test)]] = True
else:
    mask = selection_mask(layout.xy, view.selection) if view.selection is not None else None
drag = chart[3] if chart is not None else st.session_state.get("_map_drag", "pan")
fig = plot_map(points, colour=view.colour, background=map_view.background_points(layout) if show_bg else None,
               show_errors=show_errors, show_suspects=show_suspects,
               selection=view.selection.as_dict() if view.selection is not None and not native else None,
               selected=points["index"].to_numpy()[mask] if mask is not None and not native else None,
               model_label=model.record.label, model_b_label=statuses[view.model_b].label if preds_b is not None else "B",
               dragmode=drag)
if chart is None:
    st.session_state["_map_chart"] = (chart_key(), figure_inputs, view.selection is not None and not native, drag)
with left:
    st.plotly_chart(fig, key=chart_key(), on_select="rerun", selection_mode=("points", "box", "lasso"), config=MAP_CONFIG)
    st.caption("Pick the lasso or the box in the chart's toolbar and draw around a region to see its digits below. "
               "With the pan tool, a click on a digit opens it in the Digit inspector. Scroll to zoom.")

# ---------------------------------------------------------------- selection
if view.selection is None:
    st.info("Draw a lasso or a box around a region of the map to see its digits here.", icon=":material/gesture:")
    st.stop()
summary = summarize_selection(mask, preds.y_true, preds.y_pred)
head, clear = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(f"Selection: {summary.n:,} test digits")
if clear.button("Clear selection", width="stretch"):
    st.session_state["_map_sel"] = None
    st.session_state.map_nonce += 1
    st.rerun()
if summary.n == 0:
    st.info("The selection holds 0 test digits. Draw a larger lasso or box around some points.")
    st.stop()
m1, m2, m3 = st.columns(3)
m1.metric(f"{model.record.label} wrong inside", f"{summary.n_errors:,}")
m2.metric("Accuracy inside", f"{summary.inside:.1%}")
m3.metric("Accuracy outside", "—" if summary.outside is None else f"{summary.outside:.1%}")
table = summary.counts.set_index("digit").T.rename(index={"by_label": "by label", "by_prediction": f"by {model.record.label}'s answer"})
table.columns = [str(c) for c in table.columns]
st.dataframe(table, width="stretch")
chunk, note = paged(summary.indices, key=f"map_page_{st.session_state.map_nonce}")
st.caption(f"The selected digits, {model.record.label}'s mistakes first; {note}. A tile opens the Digit inspector.")
digit_gallery(data.X_test[chunk], chunk,
              [f"label {int(preds.y_true[i])} · pred {int(preds.y_pred[i])}" + ("" if preds.y_pred[i] == preds.y_true[i] else " ✗")
               for i in chunk],
              titles=[f"test #{int(i)}" for i in chunk])

"""The Map page's state and data: the view in the URL, the cached layouts, the background job
that computes a missing one, the points table the figure is drawn from, and the selection.

Logic lives in core.analysis.embedding (layouts, caching), core.analysis.map_selection
(regions) and core.plots.embedding (the figure); this module only connects them to Streamlit.
URL parameters: ``method``, ``space``, ``colour``, ``model_b``, ``seed``, ``sel`` (see
core.analysis.map_selection.format_selection), besides the picker's ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.embedding import METHODS, PIXELS, MapLayout, cached_map, feature_spaces, load_or_build_map
from core.analysis.map_selection import Selection, format_selection, parse_selection, selection_from_shape
from core.data.sources import MnistData
from core.errors import DashboardError
from core.models.catalog import MODELS, ScoreKind
from core.plots.embedding import COLOURINGS, braille_digits
from core.store.artifacts import ArtifactStore
from core.store.jobs import Job
from core.store.marks import load_marks
from core.store.workspace import Workspace
from dashboard.data.jobs import job_runner
from dashboard.state import brought_value as url_value
from dashboard.state import write_params as write_url

__all__ = ["MapView", "layout_job", "load_layout", "map_points", "read_view", "selection_event", "start_layout"]

INSPECTOR_PAGE = "pages/7_Digit_inspector.py"


@dataclass
class MapView:
    """What the user asked for: ``method``, ``space``, ``colour``, ``model_b`` (for "pair"), ``seed``, ``selection``."""

    method: str
    space: str
    colour: str
    model_b: str | None
    seed: int
    selection: Selection | None


def _pick(param: str, allowed, default, what: str, *, warn: bool = True):
    value = url_value(param)
    state = f"_map_{param}"
    if value is not None:
        if value in allowed:
            st.session_state[state] = value
        elif warn:
            st.warning(f"{what} {value!r} in the URL is unknown; choose one of {', '.join(map(str, allowed))}.")
    if st.session_state.get(state) not in allowed:
        st.session_state[state] = default
    return st.session_state[state]


def read_view(trained: list[str]) -> tuple[MapView, list[str]]:
    """The view from the URL (when the user brought one) or the session, and the spaces that work.
    A space asked for that has no features gets a message naming the spaces that work."""
    spaces = feature_spaces(trained)
    requested = url_value("space")
    if requested is not None and requested not in spaces:
        if requested in trained:  # a catalog model without hidden layers, or an imported model or prediction file
            why = "has no hidden layer of its own (or is a prediction file)"
        else:
            why = "is not trained for this data" if requested in MODELS else "is neither pixels nor a trained model"
        st.warning(f"Space {requested!r} {why}: a map needs pixels or a model's own features. "
                   f"Spaces that work here: {', '.join(spaces)}.", icon=":material/warning:")
    method = _pick("method", list(METHODS), "umap", "Method")
    space = _pick("space", spaces, PIXELS, "Space", warn=False)
    colour = _pick("colour", list(COLOURINGS), "label", "Colouring")
    model_b = _pick("model_b", trained, trained[-1] if trained else None, "Model B") if trained else None
    seed_text = url_value("seed")
    if seed_text is not None:
        try:
            st.session_state["_map_seed"] = max(0, int(seed_text))
        except ValueError:
            st.warning(f"Seed {seed_text!r} in the URL is not a whole number; using 0.")
    seed = int(st.session_state.setdefault("_map_seed", 0))
    sel_text = url_value("sel")
    if sel_text is not None:
        try:
            st.session_state["_map_sel"] = parse_selection(sel_text)
        except DashboardError as exc:
            st.warning(f"The selection in the URL cannot be used: {exc}")
            st.session_state["_map_sel"] = None
    return MapView(method, space, colour, model_b, seed, st.session_state.get("_map_sel")), spaces


def remember(view: MapView) -> None:
    """Keep the view in the session and mirror it in the URL."""
    for name in ("method", "space", "colour", "model_b", "seed"):
        st.session_state[f"_map_{name}"] = getattr(view, name)
    st.session_state["_map_sel"] = view.selection
    write_url(method=view.method, space=view.space, colour=view.colour,
              model_b=view.model_b if view.colour == "pair" else None, seed=view.seed or None,
              sel=None if view.selection is None else format_selection(view.selection))


# ------------------------------------------------------------------ layouts


def _quiet_store(folder: str, data: MnistData, key_file: str, problems: list[str] | None = None) -> ArtifactStore:
    """The workspace's store over ``folder``, its problems collected in ``problems`` (or dropped)."""
    return ArtifactStore(folder, data=data, key_file=key_file,
                         problem=(problems.append if problems is not None else (lambda _m: None)))


class _Missing(Exception):
    pass


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs={MnistData: lambda d: d.fingerprint})
def _cached(folder: str, key_file: str, data: MnistData, space: str, method: str, seed: int,
            model_id: str) -> MapLayout:
    problems: list[str] = []
    hit = cached_map(_quiet_store(folder, data, key_file, problems), space=space, method=method, random_state=seed, model_id=model_id)
    if hit is None:
        raise _Missing("; ".join(problems))
    return hit


def load_layout(ws: Workspace, view: MapView, model_id: str) -> tuple[MapLayout | None, str]:
    """The saved layout for ``view`` (read once per process), or None and why the saved file was
    unusable ("" when there is none yet)."""
    try:
        return _cached(str(ws.store.folder), str(ws.store.key_file), ws.data, view.space, view.method, view.seed, model_id), ""
    except _Missing as exc:
        return None, str(exc)


def _job_key(ws: Workspace, view: MapView, model_id: str) -> str:
    return f"map:{ws.store.folder}:{ws.data.fingerprint}:{view.space}:{view.method}:{view.seed}:{model_id}"


def layout_job(ws: Workspace, view: MapView, model_id: str) -> Job | None:
    """The background job computing this layout, if one was started in this process."""
    return job_runner().get(_job_key(ws, view, model_id))


def start_layout(ws: Workspace, view: MapView, *, pipeline=None, model_id: str = "") -> Job:
    """Queue the layout's computation as a background job (one per layout, shared by every
    session); a recomputation over an unusable saved file rewrites it."""
    store = _quiet_store(str(ws.store.folder), ws.data, str(ws.store.key_file))

    def work():
        return load_or_build_map(store, space=view.space, method=view.method, random_state=view.seed,
                                 pipeline=pipeline, name=view.space, model_id=model_id, force=True)

    return job_runner().submit(_job_key(ws, view, model_id), work,
                                     label=f"Map: {METHODS[view.method]} of {view.space}")


# ------------------------------------------------------------------- points


@st.cache_data(show_spinner=False, max_entries=4, hash_funcs={MnistData: lambda d: d.fingerprint})
def _hover_images(data: MnistData) -> list[str]:
    return braille_digits(data.X_test)


def map_points(ws: Workspace, layout: MapLayout, preds, *, preds_b=None, quality: pd.DataFrame | None = None,
               hover: bool = True) -> pd.DataFrame:
    """One row per test digit for core.plots.embedding.plot_map: position, label, the model's
    answer, right/wrong, confidence, marked suspects (and model B, label quality when given)."""
    data = ws.data
    frame = pd.DataFrame({"index": np.arange(data.n_test), "x": layout.xy[:, 0], "y": layout.xy[:, 1],
                          "label": np.asarray(preds.y_true)})
    frame["pred"] = preds.y_pred
    frame["correct"] = preds.y_pred == preds.y_true
    scores = np.asarray(preds.scores, dtype=np.float64)
    top2 = np.sort(scores, axis=1)[:, -2:]
    frame["confidence"] = top2[:, 1] if ScoreKind(preds.score_kind).is_probability else top2[:, 1] - top2[:, 0]
    try:
        marks = load_marks(_quiet_store(str(ws.store.folder), data, str(ws.store.key_file)))
    except DashboardError:
        marks = {}
    suspect = np.zeros(data.n_test, dtype=bool)
    wrong_marks = [i for i, d in marks.items() if d is not None and 0 <= i < data.n_test]
    suspect[wrong_marks] = True
    if quality is not None:
        frame["quality"] = quality.set_index("index")["score"].reindex(frame["index"]).to_numpy()
        suspect |= quality.set_index("index")["flagged"].reindex(frame["index"]).to_numpy(bool)
    frame["suspect"] = suspect
    if preds_b is not None:
        frame["pred_b"] = preds_b.y_pred
        frame["correct_b"] = preds_b.y_pred == preds.y_true
    if hover:
        frame["hover"] = _hover_images(data)
    return frame


def background_points(layout: MapLayout) -> pd.DataFrame:
    return pd.DataFrame({"x": layout.train_xy[:, 0], "y": layout.train_xy[:, 1]})


# ----------------------------------------------------------------- selection


def selection_event(event) -> tuple[Selection | None, int | None, np.ndarray | None]:
    """From a plotly selection event (read as a dict): the box or lasso drawn (in URL
    precision) with the test indices the chart selected in it (sorted, unique), or the test index
    of a single clicked point. Anything else: (None, None, None)."""
    try:
        sel = event["selection"]
    except (KeyError, TypeError):
        return None, None, None
    indices = []
    for p in sel.get("points") or []:
        custom = p.get("customdata") if isinstance(p, dict) else None
        if custom is None:
            continue  # the training digits' background has none
        try:  # a list, or a typed array that reached JSON as {"0": index, "1": ...}
            indices.append(int(custom["0"] if isinstance(custom, dict) else custom[0]))
        except (TypeError, ValueError, IndexError, KeyError):
            return None, None, None
    for kind in ("lasso", "box"):
        shapes = sel.get(kind) or []
        if shapes:
            shape = shapes[-1]
            try:
                return selection_from_shape(kind, shape["x"], shape["y"]), None, np.unique(np.asarray(indices, dtype=np.int64))
            except (DashboardError, KeyError, TypeError, ValueError):
                return None, None, None
    if len(indices) == 1:
        return None, indices[0], None
    return None, None, None

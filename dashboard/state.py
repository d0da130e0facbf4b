"""The view's state: what the user picked, kept in the session across pages and mirrored in
the URL, so a reload or a shared link reopens the same view.

* :func:`url_widget`: THE way a page draws a widget whose value lives in the URL. The value is
  remembered in the session (``_keep_<key>``, which survives pages that do not draw the widget),
  a value the user brings in the URL (a typed, shared or reloaded link) wins, and a bad one
  gets a message naming it and the value shown instead.
* :func:`url_param`: the same for state that is not a widget (a clicked chart cell, an opened
  quadrant).
* :func:`clicked_cell`: the chart-click helper for clickable 10x10 matrices.
* :func:`model_picker`: the one model picker; its default is the most accurate model by cached
  accuracies only (no unpickling, no write, no background job).
* :func:`label_fixes`: the "use corrected labels" switch (``?corrected=1``) and the label
  fixes it selects for the data layer.
* :func:`open_inspector`: open the Digit inspector on a digit inside this session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from core.models.catalog import MODEL_NAMES, MODELS
from core.store.records import ModelStatus
from core.store.workspace import Workspace
from dashboard.data.metrics import Fixes, marked_fixes
from dashboard.data.workspace import cached_accuracy

__all__ = [
    "INSPECTOR_PAGE",
    "UrlValueError",
    "chart_key",
    "clicked_cell",
    "forget_chart_click",
    "label_fixes",
    "model_picker",
    "open_inspector",
    "rank_models",
    "switch_on",
    "url_param",
    "url_widget",
]

_WRITTEN = "_url_written"
#: How many of its latest values per URL parameter a session recognises as its own.
_RECENT_WRITES = 32
#: The Digit inspector's page file (st.switch_page target).
INSPECTOR_PAGE = "pages/7_Digit_inspector.py"


class UrlValueError(ValueError):
    """A value from the URL that cannot be used; its message is shown as it is."""


# ----------------------------------------------------------------------- URL


def _brought(param: str) -> str | None:
    """The URL's ``?param=`` value when the user brought it (a typed, shared or reloaded link),
    None when absent or a value this session wrote there itself. Any of the session's recent
    values, not only its last: after quick changes the browser may ask for the next rerun before
    its address bar has caught up, and that older value is not the user's."""
    value = st.query_params.get(param)
    if value is None or value in st.session_state.get(_WRITTEN, {}).get(param, ()):
        return None
    return value


def brought_value(param: str) -> str | None:
    """The URL's raw ``?param=`` text when the user brought it (see :func:`url_param` for the
    usual way); for pages that validate several parameters together."""
    return _brought(param)


def write_params(**values: Any) -> None:
    """Mirror several values in the URL at once (None removes a parameter)."""
    for param, value in values.items():
        _write(param, None if value is None else str(value))


def _write(param: str, text: str | None) -> None:
    if text is None:
        if param in st.query_params:
            del st.query_params[param]
        return
    recent = st.session_state.setdefault(_WRITTEN, {}).setdefault(param, [])
    if text in recent:
        recent.remove(text)
    recent.append(text)
    del recent[:-_RECENT_WRITES]
    if st.query_params.get(param) != text:
        st.query_params[param] = text


def _from_url(param: str, label: str, parse: Callable[[str], Any], where: Any) -> tuple[bool, Any]:
    raw = _brought(param)
    if raw is None:
        return False, None
    try:
        return True, parse(raw)
    except UrlValueError as exc:
        (where or st).warning(str(exc))
    except (ValueError, TypeError, KeyError):
        (where or st).warning(f"{label} {raw!r} in the URL (?{param}=) is not a valid value; showing the last one instead.")
    return False, None


def url_param(param: str, *, key: str, initial: Any, parse: Callable[[str], Any] = str,
              label: str | None = None, where: Any = None) -> Any:
    """The current value of a piece of view state that is not a widget (e.g. an opened chart
    cell): the URL's value when the user brought one, else the session's (``st.session_state[key]``),
    else ``initial``. Write it back with :func:`write_param` once the page has settled it."""
    found, value = _from_url(param, label or param, parse, where)
    if found:
        st.session_state[key] = value
    st.session_state.setdefault(key, initial)
    return st.session_state[key]


def write_param(param: str, value: Any, *, to_url: Callable[[Any], str | None] = str) -> None:
    """Mirror ``value`` in the URL as ``?param=`` (``None`` or ``to_url`` returning None removes it)."""
    _write(param, None if value is None else to_url(value))


def url_widget(widget: Callable[..., Any], label: str, *, key: str, param: str, initial: Any,
               parse: Callable[[str], Any] = str, to_url: Callable[[Any], str | None] = str,
               where: Any = None, on_change: Callable[[], None] | None = None, **kwargs: Any) -> Any:
    """Draw ``widget(label, key=key, **kwargs)`` (e.g. ``st.selectbox``, ``st.sidebar.toggle``,
    ``column.number_input``) with its value kept in the session and mirrored in the URL as
    ``?param=``; returns the value.

    ``initial``: the value (or a function giving it) when neither URL nor session has one.
    ``parse`` turns the URL's text into a value (raise UrlValueError with a message, or
    ValueError); ``to_url`` does the reverse (None leaves the parameter out). An ``options``
    keyword is checked: a remembered or brought value outside it falls back to ``initial``.
    Do not pass ``value``/``index``/``default``: the session sets the widget's value."""
    keep = f"_keep_{key}"
    options = kwargs.get("options")

    def valid(value: Any) -> bool:
        if options is None:
            return True
        if isinstance(value, list | tuple):
            return all(v in options for v in value)
        return value in options

    found, value = _from_url(param, label, parse, where)
    if found and valid(value):
        st.session_state[keep] = value
    elif found:
        (where or st).warning(f"{label} {st.query_params.get(param)!r} in the URL (?{param}=) is not one of the choices here.")
    if keep not in st.session_state or not valid(st.session_state[keep]):
        st.session_state[keep] = initial() if callable(initial) else initial
    st.session_state[key] = st.session_state[keep]

    def remember() -> None:
        st.session_state[keep] = st.session_state[key]
        if on_change is not None:
            on_change()

    value = widget(label, key=key, on_change=remember, **kwargs)
    st.session_state[keep] = value
    _write(param, to_url(value))
    return value


def list_parser(convert: Callable[[str], Any] = str) -> Callable[[str], list]:
    """A ``parse`` for comma-separated lists (multiselects)."""
    return lambda text: [convert(t) for t in text.split(",") if t]


def join_list(values: Sequence[Any]) -> str:
    """The ``to_url`` of a multiselect: its values, comma-separated."""
    return ",".join(str(v) for v in values)


# -------------------------------------------------------------- chart clicks


def chart_key(prefix: str) -> str:
    """The widget key of a clickable chart: ``<prefix>_chart_<n>``, n raised after every click
    so that the next click lands on a fresh chart with no Plotly selection of its own."""
    return f"{prefix}_chart_{st.session_state.setdefault(f'{prefix}_nonce', 0)}"


def forget_chart_click(prefix: str) -> None:
    """Another control (e.g. a button's callback) took over the view: the chart is drawn afresh,
    so a selection the browser still holds on the old chart is not read as a new click (it was,
    now and then: a quadrant button reopened the cell clicked before it)."""
    st.session_state[f"{prefix}_nonce"] = st.session_state.get(f"{prefix}_nonce", 0) + 1


def _matrix_cell(index: int) -> tuple[int, int] | None:
    return divmod(index, 10) if 0 <= index < 100 else None


def cell_from_event(event: Any, *, cell_of: Callable[[int], Any] | None = None) -> Any:
    """The clicked cell of a chart from its selection event (read as a dict), or None.

    Point ``k`` of the cell layer (trace 1; trace 0 is the heatmap) is cell ``cell_of(k)``, None
    where no cell is clickable. The default is a 10x10 matrix: ``divmod(k, 10)``, with the point's
    x/y as the fallback. Anything unexpected counts as no selection; the latest click is last."""
    try:
        points = list(event["selection"]["points"] or [])
    except (KeyError, TypeError, AttributeError):
        return None
    for point in reversed(points):
        try:
            if int(point.get("curve_number", 1)) != 1:
                continue
            index = point.get("point_index", point.get("point_number"))
            if cell_of is not None:
                cell = cell_of(int(index))
            elif index is not None:
                cell = _matrix_cell(int(index))
            else:
                cell = int(round(float(point["y"]))), int(round(float(point["x"])))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue
        if cell is not None:
            return cell
    return None


def clicked_cell(prefix: str, *, cell_of: Callable[[int], Any] | None = None) -> Any:
    """The cell the user clicked on the chart drawn last run under :func:`chart_key`, or None
    (``cell_of`` as in :func:`cell_from_event`). A click raises the nonce, so the chart is drawn
    afresh under a new key."""
    click = cell_from_event(st.session_state.get(chart_key(prefix)), cell_of=cell_of)
    if click is not None:
        forget_chart_click(prefix)
    return click


def parse_cell(text: str) -> tuple[int, int]:
    """``"4-9"`` -> (4, 9); UrlValueError otherwise."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 1 for p in parts):
        raise UrlValueError(f"Cell {text!r} in the URL is not of the form true-predicted, e.g. 4-9.")
    return int(parts[0]), int(parts[1])


def cell_text(cell: tuple[int, int]) -> str:
    return f"{cell[0]}-{cell[1]}"


# -------------------------------------------------------------- model picker


def rank_models(ws: Workspace, statuses: list[ModelStatus]) -> list[str]:
    """Trained model names, most accurate first by cached test accuracy (read from cached
    predictions only: no unpickling, no write, no job). Models without cached predictions
    come last; ties keep catalog order."""
    trained = [s for s in statuses if s.trained]
    accuracies = {s.name: cached_accuracy(ws, s) for s in trained}
    return sorted((s.name for s in trained), key=lambda n: 1.0 if accuracies[n] is None else -accuracies[n])


def model_picker(ws: Workspace, statuses: list[ModelStatus], *, label: str = "Model", param: str = "model",
                 key: str = "model_picker", rank: int = 0, variants: dict[str, ModelStatus] | None = None,
                 describe: Callable[[str], str] | None = None) -> str:
    """A sidebar selectbox of the trained models among ``statuses``; returns the picked name.

    The choice follows the user across pages (one remembered choice per ``key``) and lives in
    the URL (``?model=knn``), which wins when the user brings it. The default is the
    ``rank``-th most accurate model (:func:`rank_models`). Loads no model. ``variants``: further
    choices by id (e.g. ``knn-<key>``, an older variant beside the newest), named by ``describe``."""
    by_name = {s.name: s for s in statuses if s.trained} | dict(variants or {})

    def parse(raw: str) -> str:
        newest = by_name.get(raw.partition("-")[0])
        if newest is not None and newest.record is not None and raw == f"{newest.name}-{newest.record.key}":
            return newest.name  # the newest variant's id is its plain name
        if raw in by_name:
            return raw
        if raw in MODELS:
            raise UrlValueError(f"Model {raw!r} from the URL is not trained yet; showing another one.")
        raise UrlValueError(f"Unknown model {raw!r} in the URL; valid names are: {', '.join(MODEL_NAMES)}.")

    def initial() -> str:
        ranked = rank_models(ws, statuses)
        return ranked[min(rank, len(ranked) - 1)]

    return url_widget(
        st.sidebar.selectbox, label, options=list(by_name), key=key, param=param, initial=initial, parse=parse,
        where=st.sidebar, format_func=describe or (lambda n: by_name[n].label),
        help="Only trained models are listed. Train the others on the Home page.",
    )


# ----------------------------------------------------------- corrected labels

SWITCH_KEY = "use_corrected_labels"


def switch_on() -> bool:
    """Whether "use corrected labels" is on in this session."""
    return bool(st.session_state.get(f"_keep_{SWITCH_KEY}", False))


def label_fixes(ws: Workspace) -> Fixes:
    """Draw the "use corrected labels" switch in the sidebar (in the URL as ``?corrected=1``)
    and return the label fixes the data layer should apply: the user's marks when it is on,
    none when it is off."""
    fixes, problem = marked_fixes(ws)
    if problem:
        st.sidebar.warning(f"Label marks ignored: {problem}", icon=":material/warning:")

    def parse(text: str) -> bool:
        if text not in ("0", "1"):
            raise UrlValueError(f"corrected={text!r} in the URL: use 1 (corrected labels) or 0.")
        return text == "1"

    on = url_widget(
        st.sidebar.toggle, "use corrected labels", key=SWITCH_KEY, param="corrected", initial=False, parse=parse,
        to_url=lambda v: "1" if v else None, where=st.sidebar,
        help=f"Recompute every page's metrics with the labels you marked wrong on the Label errors page "
             f"fixed ({len(fixes)} marked wrong for this data).",
    )
    if on:
        st.sidebar.caption(f"Metrics use {len(fixes)} corrected test label{'s' if len(fixes) != 1 else ''}.")
    return fixes if on else ()


# ------------------------------------------------------------------ navigation


def open_inspector(index: int, *, split: str = "test") -> None:
    """Open the Digit inspector on digit ``index`` of ``split`` ("test" or "train") in this session
    (the switch, the thresholds and every other choice stay as they are; Back returns to this view)."""
    st.session_state["_keep_inspect_index"] = int(index)
    st.session_state["inspect_split"] = "train" if split == "train" else "test"
    st.switch_page(INSPECTOR_PAGE)

"""Pieces every page shares: page setup, the sidebar (data source, model picker), the
"train first" message, and the digit gallery.

The gallery is one ``st.html`` block: a CSS grid of ``<div class="digit-tile">`` items,
each holding a 28x28 PNG (base64, scaled up in the browser with nearest-neighbour
``image-rendering: pixelated``) and a caption. Browser tests count ``.digit-tile``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException

from core.catalog import MODEL_NAMES, MODELS
from core.data import DataSourceError, MnistData
from core.idx import IdxFormatError
from core.training import TrainedModel
from dashboard import cache

__all__ = [
    "GALLERY_PAGE_SIZE",
    "digit_gallery",
    "distinct_labels",
    "enlarge",
    "model_picker",
    "paged",
    "png_data_uri",
    "require_data",
    "require_models",
    "setup_page",
    "show_train_first",
    "top3_caption",
    "train_hint",
]

GALLERY_PAGE_SIZE = 40
HOME_PAGE = "Home.py"
#: Where a digit tile links to (the Digit inspector page, relative to any page's URL).
INSPECTOR_URL = "Digit_inspector"


def train_hint() -> str:
    """The terminal command that trains the models for the data source in use."""
    source, _ = cache.data_source()
    return "python -m core train" + (f" --source {source}" if source != "auto" else "")


def setup_page(title: str, icon: str) -> None:
    """``st.set_page_config`` with the app's defaults (wide layout)."""
    st.set_page_config(page_title=f"{title} · MNIST dashboard", page_icon=icon, layout="wide")


# ------------------------------------------------------------------- sidebar


def require_data() -> MnistData:
    """The configured MNIST data; shows source and size in the sidebar.

    A data source that cannot deliver stops the page with the reason and how to fix it.
    """
    try:
        data = cache.load_data()
    except (ValueError, DataSourceError, IdxFormatError, OSError) as exc:
        source, mnist_dir = cache.data_source()
        st.sidebar.error(f"No data: {exc}")
        st.error(
            f"**MNIST could not be loaded** (MNIST_SOURCE={source!r}"
            + (f", MNIST_DIR={mnist_dir!r}" if mnist_dir else "")
            + f"):\n\n{exc}\n\nSet `MNIST_SOURCE` to one of auto, idx, openml, sample, "
            "or point `MNIST_DIR` at a folder with the four IDX files, then reload."
        )
        st.stop()
    with st.sidebar:
        st.markdown("**Data**")
        st.caption(f"{data.description}  \n{_sentence(data.reason)}")
    return data


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def require_models(data: MnistData) -> list[cache.ModelStatus]:
    """The trained models' statuses; stops the page with the "train first" message if none."""
    statuses = [s for s in cache.load_model_status(data) if s.trained]
    if not statuses:
        st.sidebar.warning("No trained models yet.")
        show_train_first()
        st.stop()
    return statuses


def show_train_first() -> None:
    """Tell the user that no model is trained and how to train them."""
    st.info(
        "**No trained models yet.** Train them first: press **Train missing models** on the "
        f"Home page, or run `{train_hint()}` in a terminal (same `MNIST_SOURCE`/`MNIST_DIR` "
        "and `MODELS_DIR` as the dashboard), then reload this page.",
        icon=":material/info:",
    )
    try:
        st.page_link(HOME_PAGE, label="Go to the Home page", icon=":material/home:")
    except StreamlitAPIException:  # a page started on its own (streamlit run pages/…) has no Home
        pass


def _best_by_accuracy(statuses: list[cache.ModelStatus], data: MnistData) -> str:
    best, best_acc = statuses[0].name, -1.0
    for status in statuses:
        model, _ = cache.load_model(status, data)
        if model is None:
            continue
        acc = cache.load_accuracy(model, data)
        if acc > best_acc:
            best, best_acc = status.name, acc
    return best


def model_picker(data: MnistData, *, label: str = "Model", key: str = "model") -> tuple[str, TrainedModel]:
    """A sidebar selectbox of the trained models; returns ``(name, TrainedModel)``.

    The choice is kept in the session across pages and mirrored in the URL (``?model=knn``).
    An unknown or untrained name in the URL gets a warning and the default (the most accurate
    model). Stops the page with a message when no model is trained or the pick is unusable.
    """
    statuses = require_models(data)
    by_name = {s.name: s for s in statuses}
    names = list(by_name)
    widget_key, remembered_key, written_key = f"{key}_picker", f"_{key}_choice", f"_{key}_qp_written"

    requested = st.query_params.get(key)
    if requested is not None and requested != st.session_state.get(written_key):
        # a URL the user typed or shared (we did not write this value)
        if requested in by_name:
            st.session_state[widget_key] = requested
        elif requested in MODELS:
            st.sidebar.warning(f"Model {requested!r} from the URL is not trained yet; showing another one.")
        else:
            st.sidebar.warning(
                f"Unknown model {requested!r} in the URL; valid names are: {', '.join(MODEL_NAMES)}."
            )
    if st.session_state.get(widget_key) not in by_name:
        remembered = st.session_state.get(remembered_key)
        st.session_state[widget_key] = remembered if remembered in by_name else _best_by_accuracy(statuses, data)

    name = st.sidebar.selectbox(
        label, names, key=widget_key, format_func=lambda n: by_name[n].label,
        help="Only trained models are listed. Train the others on the Home page.",
    )
    st.session_state[remembered_key] = name
    st.session_state[written_key] = name
    if st.query_params.get(key) != name:
        st.query_params[key] = name

    model, notes = cache.load_model(by_name[name], data)
    for note in notes:
        st.warning(f"{note} Train it again on the Home page or with `{train_hint()}`.", icon=":material/warning:")
    if model is None:
        st.error(f"The saved {by_name[name].label} model could not be loaded; pick another model or retrain it.")
        st.stop()
    rec = model.record
    st.sidebar.caption(f"{rec.label}: {rec.options_summary()}, trained on {rec.n_train:,} digits in {rec.fit_seconds:.1f} s.")
    return name, model


# -------------------------------------------------------------------- images


def png_data_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64,…`` URI of a (28, 28) or (784,) uint8 digit."""
    arr = np.asarray(image, dtype=np.uint8).reshape(28, 28)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def enlarge(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A (28, 28) digit scaled up with nearest-neighbour pixels, for st.image."""
    arr = np.asarray(image, dtype=np.uint8).reshape(28, 28)
    return np.kron(arr, np.ones((scale, scale), dtype=np.uint8))


def distinct_labels(values: Sequence[float]) -> dict[float, str]:
    """Labels for sorted numbers with as few significant digits (3-17) as keep them apart,
    e.g. for the notches of a threshold slider whose scores bunch up near 1."""
    for digits in range(3, 18):
        labels = {v: f"{v:.{digits}g}" for v in values}
        if len(set(labels.values())) == len(labels):
            return labels
    return {v: repr(v) for v in values}


def top3_caption(digits: Sequence[int], scores: Sequence[float], score_kind: str) -> str:
    """E.g. ``8 93% · 5 6% · 3 1%`` (probabilities) or ``8 2.31 · 5 1.10 · 3 0.2`` (scores)."""
    if score_kind == "probability":
        return " · ".join(f"{d} {100 * s:.0f}%" for d, s in zip(digits, scores))
    return " · ".join(f"{d} {s:.2f}" for d, s in zip(digits, scores))


_GALLERY_CSS = """
<style>
.digit-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(118px,1fr));gap:8px;margin:4px 0 8px}
.digit-tile{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:4px;text-align:center;
 font-size:11px;line-height:1.25;background:rgba(128,128,128,.06)}
.digit-tile img{width:72px;height:72px;image-rendering:pixelated;display:block;margin:2px auto 3px;background:#000}
.digit-tile .idx{color:rgba(128,128,128,1);font-size:10px}
.digit-tile .top{font-variant-numeric:tabular-nums;white-space:nowrap}
a.digit-link{color:inherit;text-decoration:none;display:block}
a.digit-link:hover .digit-tile{border-color:rgba(255,75,75,.8)}
</style>
"""


def digit_gallery(
    images: np.ndarray,
    indices: Sequence[int],
    captions: Sequence[str],
    *,
    titles: Sequence[str] | None = None,
    columns: int | None = None,
    link: bool = True,
) -> None:
    """One HTML grid of digit tiles: ``images`` (k, 784) uint8, ``indices`` the test-set
    indices (shown as ``#1234``), ``captions`` one line each (e.g. top-3 scores), ``titles``
    hover texts. ``columns`` fixes the number of columns (default: as many as fit).
    ``link``: each tile opens the Digit inspector on its test index (and the page's
    ``?model=``); pass False for digits that are not test digits."""
    model = st.query_params.get("model")
    model_qs = f"&amp;model={html.escape(model, quote=True)}" if model in MODELS else ""
    style = f' style="grid-template-columns:repeat({int(columns)},minmax(0,1fr))"' if columns else ""
    parts = [_GALLERY_CSS, f'<div class="digit-grid"{style}>']
    for k, (img, idx, cap) in enumerate(zip(images, indices, captions)):
        title = html.escape(titles[k]) if titles is not None else ""
        tile = (
            f'<div class="digit-tile" data-index="{int(idx)}" title="{title}">'
            f'<img src="{png_data_uri(img)}" alt="test digit {int(idx)}"/>'
            f'<div class="idx">#{int(idx)}</div><div class="top">{html.escape(cap)}</div></div>'
        )
        if link:
            tile = (f'<a class="digit-link" href="{INSPECTOR_URL}?index={int(idx)}{model_qs}" target="_self">'
                    f"{tile}</a>")
        parts.append(tile)
    parts.append("</div>")
    st.html("".join(parts))


def paged(indices: np.ndarray, *, key: str, page_size: int = GALLERY_PAGE_SIZE) -> tuple[np.ndarray, str]:
    """The slice of ``indices`` for the page chosen in a small pager (shown only when there
    is more than one page), and a ``showing a-b of n`` note."""
    n = len(indices)
    pages = max(1, -(-n // page_size))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages}, {page_size} per page)", 1, pages, 1, step=1, key=key))
    start = (page - 1) * page_size
    chunk = indices[start : start + page_size]
    note = f"showing {start + 1}–{start + len(chunk)} of {n}" if n else "nothing to show"
    return chunk, note

"""Pieces every page shares: page setup, the sidebar (data source, model picker), the
"train first" message, and the digit gallery.

The gallery is one ``st.html`` block: a CSS grid of ``<div class="digit-tile">`` items,
each holding a 28x28 PNG (base64, scaled up in the browser with nearest-neighbour
``image-rendering: pixelated``) and a caption. Browser tests count ``.digit-tile``.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException

from core.data.idx import IdxFormatError
from core.data.sources import DataSourceError, MnistData
from core.models.catalog import MODEL_NAMES, MODELS, ScoreKind
from core.plots.metrics import percent_label
from core.store.records import TrainedModel
from dashboard import cache, cache_labels

__all__ = [
    "GALLERY_PAGE_SIZE",
    "digit_gallery",
    "enlarge",
    "model_picker",
    "paged",
    "png_data_uri",
    "require_data",
    "require_loaded_models",
    "require_models",
    "score_label",
    "setup_page",
    "show_train_first",
    "top3_caption",
    "train_hint",
    "url_value",
    "write_url",
]

GALLERY_PAGE_SIZE = 40
HOME_PAGE = "Home.py"
#: Where a digit tile links to (the Digit inspector page, relative to any page's URL).
INSPECTOR_URL = "Digit_inspector"


def train_hint() -> str:
    """The terminal command that trains the models for the data source in use."""
    source, _ = cache.data_source()
    return "python -m core train" + (f" --source {source}" if source != "auto" else "")


#: The browser tab title of a page called ``title`` (its sidebar label and heading are ``title``).
TAB_TITLE = "{title} · MNIST dashboard"

# Streamlit pushes a browser-history entry for every change of the query string, and a second one
# when a page visit rewrites it (measured: two entries per sidebar click). This keeps one entry per
# page and replaces the URL in place when only the query string changes (a model, cell, digit or
# threshold picked), so Back goes to the previous page. Installed once per browser tab.
_HISTORY_JS = """<script>
(() => {
  const h = window.history;
  if (h.__samePathReplaces) return;
  const push = h.pushState.bind(h);
  h.pushState = function (state, title, url) {
    try {
      if (new URL(url, window.location.href).pathname === window.location.pathname) {
        return h.replaceState(state, title, url);
      }
    } catch (e) { /* an unparsable URL: leave it to the browser */ }
    return push(state, title, url);
  };
  h.__samePathReplaces = true;
})();
</script>"""


#: Streamlit's lazily loaded element code that our pages need: Plotly (4.7 MB) and the data grid.
PREFETCH_CHUNKS = ("PlotlyChart", "DataFrame")


@functools.cache
def chunk_files(names: tuple[str, ...] = PREFETCH_CHUNKS) -> tuple[str, ...]:
    """File names of Streamlit's own script chunks ``names`` (e.g. ``PlotlyChart.D9Z0_fxz.js``)
    in the installed Streamlit; a name missing from this version is skipped."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = []
    for name in names:
        hits = sorted(folder.glob(f"{name}.*.js"))
        if len(hits) == 1:
            found.append(hits[0].name)
    return tuple(found)


# A tab's first chart evaluates Plotly's 4.7 MB module: 0.7 s of the browser's main thread on
# this project's 2-core machine (docs/ui-benchmark.md). Streamlit loads that code only when a
# chart appears, so the first page with a chart paid for it. This script imports the chunks
# (the same URLs Streamlit's own loader uses, next to its index script) once per tab when
# the browser is idle after the page has rendered, so it is ready by the user's next click.
_PREFETCH_JS = """<script>
(() => {
  if (window.__chunksPrefetched) return;
  window.__chunksPrefetched = true;
  const files = %s;
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!main || !files.length) return;
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 300));
  const next = (k) => {
    if (k >= files.length) return;
    idle(() => import(new URL(files[k], main.src).href).catch(() => {}).finally(() => next(k + 1)), {timeout: 2000});
  };
  setTimeout(() => next(0), 200);
})();
</script>"""


def setup_page(title: str, icon: str) -> None:
    """``st.set_page_config`` with the app's defaults (wide layout, tab title from :data:`TAB_TITLE`),
    one browser-history entry per page visit (see ``_HISTORY_JS``), and the chart code
    prefetched when the browser is idle (see ``_PREFETCH_JS``)."""
    st.set_page_config(page_title=TAB_TITLE.format(title=title), page_icon=icon, layout="wide")
    st.html(_HISTORY_JS + _PREFETCH_JS % json.dumps(list(chunk_files())), unsafe_allow_javascript=True)


# ----------------------------------------------------------------------- URL

_WRITTEN = "_url_written"


def url_value(name: str) -> str | None:
    """The URL's ``?name=`` value when the user brought it (a typed, shared or reloaded link),
    None when it is absent or is just what this session wrote there itself."""
    value = st.query_params.get(name)
    if value is None or st.session_state.get(_WRITTEN, {}).get(name) == value:
        return None
    return value


def write_url(**values: object) -> None:
    """Mirror the view in the URL (``None`` removes a parameter); only changed values are written."""
    written = st.session_state.setdefault(_WRITTEN, {})
    for name, value in values.items():
        if value is None:
            written.pop(name, None)
            if name in st.query_params:
                del st.query_params[name]
            continue
        text = str(value)
        written[name] = text
        if st.query_params.get(name) != text:
            st.query_params[name] = text


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
    cache.show_training_status()  # background training's progress, on every page
    cache_labels.sidebar_switch(data)  # "use corrected labels", on every page
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


def require_loaded_models(data: MnistData) -> dict[str, TrainedModel]:
    """Every trained model that loads, by name; warns about unusable artifacts and stops the
    page (with the reason) when none is usable or none is trained."""
    models, problems = cache.load_models(require_models(data), data)
    for problem in problems:
        st.warning(f"{problem} Retrain it on the Home page or with `{train_hint()}`.", icon=":material/warning:")
    if not models:
        st.error("None of the saved models could be loaded; retrain them on the Home page.")
        st.stop()
    return models


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
    """The most accurate model by its cached test predictions (read through cache.py; no model
    is unpickled and no file written). Models without cached predictions rank last; ties and
    "nothing cached yet" go to the earlier catalog entry."""
    best, best_acc = statuses[0].name, -1.0
    for status in statuses:
        acc = cache.cached_accuracy(status, data)
        if acc is not None and acc > best_acc:
            best, best_acc = status.name, acc
    return best


def model_picker(data: MnistData, *, label: str = "Model", key: str = "model") -> tuple[str, TrainedModel]:
    """A sidebar selectbox of the trained models; returns ``(name, TrainedModel)``.

    The choice follows the user across pages (kept in the session) and is mirrored in the URL
    (``?model=knn``), which wins when the user brings it (a shared link or a reload). An
    unknown or untrained name in the URL gets a warning and the remembered choice, or the
    most accurate model. Stops the page with a message when no model is trained or the pick
    is unusable.
    """
    statuses = require_models(data)
    by_name = {s.name: s for s in statuses}
    names = list(by_name)
    widget_key, remembered_key = f"{key}_picker", f"_{key}_choice"

    choice = st.session_state.get(remembered_key)
    requested = url_value(key)
    if requested is not None:
        if requested in by_name:
            choice = requested
        elif requested in MODELS:
            st.sidebar.warning(f"Model {requested!r} from the URL is not trained yet; showing another one.")
        else:
            st.sidebar.warning(
                f"Unknown model {requested!r} in the URL; valid names are: {', '.join(MODEL_NAMES)}."
            )
    if choice not in by_name:
        choice = _best_by_accuracy(statuses, data)
    # Each page has its own selectbox (Streamlit keys widgets per page), and a page's widget state
    # is dropped when the user leaves it: so the session's choice is set before every run, and the
    # widget's callback records the user's changes.
    st.session_state[widget_key] = choice

    def remember() -> None:
        st.session_state[remembered_key] = st.session_state[widget_key]

    name = st.sidebar.selectbox(
        label, names, key=widget_key, format_func=lambda n: by_name[n].label, on_change=remember,
        help="Only trained models are listed. Train the others on the Home page.",
    )
    st.session_state[remembered_key] = name
    write_url(**{key: name})

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


def score_label(value: float, score_kind: ScoreKind | str) -> str:
    """A probability as an honest percentage (``99.6%``, never ``100%`` unless it is), a decision
    score with two decimals and a real minus sign (``−0.37``)."""
    if ScoreKind(score_kind).is_probability:
        return percent_label(value)
    return f"{value:.2f}".replace("-", "−")


def top3_caption(digits: Sequence[int], scores: Sequence[float], score_kind: ScoreKind | str) -> str:
    """Two lines for a gallery tile: the prediction with its score, then the runners-up, e.g.
    ``pred 8 (93%)`` / ``then 5 (6.0%), 3 (0.8%)``; decision scores as ``pred 8 (2.31)``."""
    pairs = [f"{int(d)} ({score_label(float(s), score_kind)})" for d, s in zip(digits, scores)]
    first = f"pred {pairs[0]}" if pairs else ""
    return first + ("\nthen " + ", ".join(pairs[1:]) if len(pairs) > 1 else "")


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
    split: str = "test",
) -> None:
    """One HTML grid of digit tiles: ``images`` (k, 784) uint8, ``indices`` the test-set
    indices (shown as ``#1234``), ``captions`` one per tile (``\\n`` breaks a line), ``titles``
    hover texts. ``columns`` fixes the number of columns (default: as many as fit).
    ``link``: each tile opens the Digit inspector on its test index (and the page's
    ``?model=``); pass False for digits the inspector cannot show. ``split="train"``: the indices
    are training indices, and the tiles open the inspector on ``?split=train&index=N``."""
    model = st.query_params.get("model")
    model_qs = f"&amp;model={html.escape(model, quote=True)}" if model in MODELS else ""
    style = f' style="grid-template-columns:repeat({int(columns)},minmax(0,1fr))"' if columns else ""
    parts = [_GALLERY_CSS, f'<div class="digit-grid"{style}>']
    for k, (img, idx, cap) in enumerate(zip(images, indices, captions)):
        title = html.escape(titles[k]) if titles is not None else ""
        tile = (
            f'<div class="digit-tile" data-index="{int(idx)}" title="{title}">'
            f'<img src="{png_data_uri(img)}" alt="{"training" if split == "train" else "test"} digit {int(idx)}"/>'
            f'<div class="idx">#{int(idx)}</div><div class="top">{html.escape(cap).replace(chr(10), "<br>")}</div></div>'
        )
        if link:
            split_qs = "split=train&amp;" if split == "train" else ""
            tile = (f'<a class="digit-link" href="{INSPECTOR_URL}?{split_qs}index={int(idx)}{model_qs}" target="_self">'
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
        if st.session_state.get(key, 1) > pages:  # fewer pages than before (e.g. a new threshold)
            st.session_state[key] = pages
        page = int(st.number_input(f"Page (of {pages}, {page_size} per page)", 1, pages, 1, step=1, key=key))
    start = (page - 1) * page_size
    chunk = indices[start : start + page_size]
    note = f"showing {start + 1}–{start + len(chunk)} of {n}" if n else "nothing to show"
    return chunk, note

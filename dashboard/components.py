"""Pieces every page shares: page setup, the sidebar (data, background training), the "train
first" message, the model a page shows, the one digit gallery and the number labels.

The gallery is one ``st.components.v2`` component: a CSS grid of ``<div class="digit-tile">``
items, each a 28x28 PNG (base64, scaled up in the browser with ``image-rendering: pixelated``)
and a caption. A click on a tile opens the Digit inspector on that digit INSIDE this session
(dashboard.state.open_inspector), so every choice (the corrected-labels switch, thresholds)
stays. Browser tests count ``.digit-tile``.
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

from core.data.idx import IdxFormatError
from core.data.sources import DataSourceError
from core.errors import DashboardError
from core.models.catalog import ScoreKind
from core.models.prediction_file import is_predictions_only
from core.plots.metrics import percent_label
from core.store.records import ModelStatus, TrainedModel
from core.store.workspace import Workspace
from dashboard import patches, state
from dashboard.data import jobs
from dashboard.data.metrics import Fixes
from dashboard.data.workspace import data_source, load_model, load_models, model_statuses, workspace

__all__ = [
    "GALLERY_PAGE_SIZE",
    "NUMBER_WIDTH",
    "TAB_TITLE",
    "digit_gallery",
    "enlarge",
    "format_number",
    "paged",
    "pick_model",
    "png_data_uri",
    "require_loaded_models",
    "require_models",
    "require_workspace",
    "score_label",
    "setup_page",
    "show_train_first",
    "show_training_status",
    "top3_caption",
    "train_hint",
]

GALLERY_PAGE_SIZE = 40
#: Width in pixels of a number input (a page number, an index, a percentage), not the full column.
NUMBER_WIDTH = 220
HOME_PAGE = "Home.py"
#: The browser tab title of a page called ``title`` (its sidebar label and heading are ``title``).
TAB_TITLE = "{title} · MNIST dashboard"


def train_hint() -> str:
    """The terminal command that trains the models for the data source in use."""
    source, _ = data_source()
    return "python -m core train" + (f" --source {source}" if source != "auto" else "")


def setup_page(title: str, icon: str) -> None:
    """``st.set_page_config`` with the app's defaults (wide layout, tab title from
    :data:`TAB_TITLE`) and the browser patches (dashboard.patches)."""
    st.set_page_config(page_title=TAB_TITLE.format(title=title), page_icon=icon, layout="wide")
    patches.install_page_patches()


# ------------------------------------------------------------------- sidebar


def require_workspace() -> tuple[Workspace, Fixes]:
    """The Workspace and the label fixes the page's metrics use (the "use corrected labels"
    switch, drawn in the sidebar); shows the data source and background training there.

    A data source or models folder that cannot be used stops the page with the reason and
    what to do."""
    try:
        ws = workspace()
    except (ValueError, DataSourceError, IdxFormatError, OSError) as exc:
        source, mnist_dir = data_source()
        st.sidebar.error(f"No data: {exc}")
        st.error(
            f"**MNIST could not be loaded** (MNIST_SOURCE={source!r}"
            + (f", MNIST_DIR={mnist_dir!r}" if mnist_dir else "")
            + f"):\n\n{exc}\n\nSet `MNIST_SOURCE` to one of auto, idx, openml, sample, "
            "or point `MNIST_DIR` at a folder with the four IDX files, then reload."
        )
        st.stop()
        raise  # not reached
    except DashboardError as exc:  # the models folder
        _folder_unusable(exc)
    data = ws.data
    with st.sidebar:
        st.markdown("**Data**")
        st.caption(f"{data.description}  \n{_sentence(data.reason)}")
    show_training_status()  # background training's progress, on every page
    return ws, state.label_fixes(ws)  # "use corrected labels", on every page


def _folder_unusable(exc: Exception):
    st.sidebar.error(f"Models folder: {exc}")
    st.error(f"**The models folder cannot be used.**\n\n{exc}")
    st.stop()


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def statuses_or_stop(ws: Workspace) -> list[ModelStatus]:
    """Every catalog model's status; stops the page when the models folder cannot be used."""
    try:
        return model_statuses(ws)
    except DashboardError as exc:
        _folder_unusable(exc)
        raise  # not reached


def require_models(ws: Workspace) -> list[ModelStatus]:
    """The trained models' statuses; stops the page with the "train first" message if none."""
    statuses = [s for s in statuses_or_stop(ws) if s.trained]
    if not statuses:
        st.sidebar.warning("No trained models yet.")
        show_train_first()
        st.stop()
    return statuses


def require_loaded_models(ws: Workspace) -> dict[str, TrainedModel]:
    """Every trained model that loads, by name; warns about unusable artifacts and stops the
    page (with the reason) when none is usable or none is trained."""
    models, problems = load_models(ws, require_models(ws))
    for problem in problems:
        st.warning(f"{problem} Retrain it on the Home page or with `{train_hint()}`.", icon=":material/warning:")
    if not models:
        st.error("None of the saved models could be loaded; retrain them on the Home page.")
        st.stop()
    return models


def predictive_models(models: dict[str, TrainedModel]) -> dict[str, TrainedModel]:
    """The models that can classify a new digit (imported prediction files cannot); stops the page
    with the reason when there are none."""
    found = {n: m for n, m in models.items() if not is_predictions_only(m.pipeline)}
    if not found:
        st.info("Only imported prediction files are available, and this page classifies digits they have no "
                "answer for. Train a model on the Home page or import an ONNX model.", icon=":material/info:")
        st.stop()
    return found


def file_only_note(models: dict[str, TrainedModel]) -> str:
    """A sentence naming the imported prediction files a page that classifies digits leaves out,
    and why ("" when there are none)."""
    names = [m.record.label for m in models.values() if is_predictions_only(m.pipeline)]
    if not names:
        return ""
    return (f"Not shown: {', '.join(names)}. A prediction file holds answers for the test digits only; it has no "
            "model to classify a new or changed digit (import an ONNX export of the model for that).")


def load_or_stop(ws: Workspace, status: ModelStatus) -> TrainedModel:
    """The fitted model of ``status``; warns about an unusable artifact and stops the page."""
    model, notes = load_model(ws, status)
    for note in notes:
        st.warning(f"{note} Train it again on the Home page or with `{train_hint()}`.", icon=":material/warning:")
    if model is None:
        st.error(f"The saved {status.label} model could not be loaded; pick another model or retrain it.")
        st.stop()
    return model


def pick_model(ws: Workspace, *, label: str = "Model") -> tuple[str, TrainedModel]:
    """The sidebar's model picker (dashboard.state.model_picker) and the picked model, loaded;
    stops the page with a message when no model is trained or the pick is unusable."""
    statuses = require_models(ws)
    name = state.model_picker(ws, statuses, label=label)
    model = load_or_stop(ws, next(s for s in statuses if s.name == name))
    rec = model.record
    st.sidebar.caption(f"{rec.label}: {rec.options_summary()}, trained on {rec.n_train:,} digits in {rec.fit_seconds:.1f} s.")
    return name, model


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


# ---------------------------------------------------------- background training

_SEEN_ACTIVE = "_training_jobs_seen_active"


@st.fragment(run_every=1.0)
def _training_fragment() -> None:
    active = jobs.job_runner().active()
    if not active:
        if st.session_state.pop(_SEEN_ACTIVE, False):
            st.rerun()  # the whole page: it now sees the new models, and this poller stops
        return
    st.session_state[_SEEN_ACTIVE] = True
    st.markdown("**Training in the background**")
    for job in active:
        if job.state == "running":
            st.progress(job.fraction or 0.0, text=f"{job.label}: {job.message}")
        else:
            st.caption(f"{job.label}: queued")
    st.caption("You can keep using the app; the pages pick the models up when they are ready.")


def show_training_status() -> None:
    """In the sidebar: progress of background training, refreshed every second while jobs
    run (nothing, and no polling, when none do)."""
    if not jobs.job_runner().active() and not st.session_state.get(_SEEN_ACTIVE):
        return
    with st.sidebar:
        _training_fragment()


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
    return format_number(value, kind="share" if ScoreKind(score_kind).is_probability else "number")


def top3_caption(digits: Sequence[int], scores: Sequence[float], score_kind: ScoreKind | str) -> str:
    """Two lines for a gallery tile: the prediction with its score, then the runners-up, e.g.
    ``pred 8 (93%)`` / ``then 5 (6.0%), 3 (0.8%)``; decision scores as ``pred 8 (2.31)``."""
    pairs = [f"{int(d)} ({score_label(float(s), score_kind)})" for d, s in zip(digits, scores)]
    first = f"pred {pairs[0]}" if pairs else ""
    return first + ("\nthen " + ", ".join(pairs[1:]) if len(pairs) > 1 else "")


def format_number(value: float, *, kind: str = "number", digits: int = 2) -> str:
    """The one number formatter of the pages: ``kind="share"`` (0-1) as an honest percentage
    (core.plots.metrics.percent_label: never a rounded 100%), ``"count"`` with thousands
    separators, ``"number"`` with ``digits`` decimals and a real minus sign (``−0.37``)."""
    if kind == "share":
        return percent_label(value)
    if kind == "count":
        return f"{int(value):,}"
    return f"{float(value):.{int(digits)}f}".replace("-", "−")


_GALLERY_CSS = """
.digit-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(118px,1fr));gap:8px;margin:4px 0 8px}
.digit-tile{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:4px;text-align:center;
 font-size:11px;line-height:1.25;background:rgba(128,128,128,.06)}
.digit-tile img{width:72px;height:72px;image-rendering:pixelated;display:block;margin:2px auto 3px;background:#000}
.digit-tile .idx{color:rgba(128,128,128,1);font-size:10px}
.digit-tile .top{font-variant-numeric:tabular-nums;white-space:nowrap}
.digit-grid.linked .digit-tile{cursor:pointer}
.digit-grid.linked .digit-tile:hover{border-color:rgba(255,75,75,.8)}
"""


_GALLERY_JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".digit-gallery");
  if (!root) {
    root = document.createElement("div");
    root.className = "digit-gallery";
    parentElement.appendChild(root);
  }
  // the latest trigger; the same tiles as before are kept, so a click already on its way is not lost
  root._open = data.link ? (index) => setTriggerValue("open", index) : null;
  if (root._html === data.html) return;
  root._html = data.html;
  root.innerHTML = data.html;
  if (!data.link) return;
  root.querySelectorAll(".digit-tile[data-index]").forEach((tile) => {
    tile.setAttribute("role", "link");
    tile.tabIndex = 0;
    const open = () => { if (root._open) root._open(Number(tile.dataset.index)); };
    tile.onclick = open;
    tile.onkeydown = (e) => { if (e.key === "Enter") open(); };
  });
}
"""

_gallery_component = st.components.v2.component("digit_gallery", css=_GALLERY_CSS, js=_GALLERY_JS, isolate_styles=False)


def gallery_html(images: np.ndarray, indices: Sequence[int], captions: Sequence[str], *,
                 titles: Sequence[str] | None = None, columns: int | None = None, link: bool = True) -> str:
    """The gallery's HTML (see :func:`digit_gallery`)."""
    style = f' style="grid-template-columns:repeat({int(columns)},minmax(0,1fr))"' if columns else ""
    parts = [f'<div class="digit-grid{" linked" if link else ""}"{style}>']
    for k, (img, idx, cap) in enumerate(zip(images, indices, captions)):
        title = html.escape(titles[k]) if titles is not None else ""
        parts.append(
            f'<div class="digit-tile" data-index="{int(idx)}" title="{title}">'
            f'<img src="{png_data_uri(img)}" alt="digit {int(idx)}"/>'
            f'<div class="idx">#{int(idx)}</div><div class="top">{html.escape(cap).replace(chr(10), "<br>")}</div></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def digit_gallery(
    images: np.ndarray,
    indices: Sequence[int],
    captions: Sequence[str],
    *,
    key: str = "gallery",
    titles: Sequence[str] | None = None,
    columns: int | None = None,
    link: bool = True,
    split: str = "test",
) -> None:
    """The one digit gallery: ``images`` (k, 784) uint8, ``indices`` the digits' indices (shown
    as ``#1234``), ``captions`` one per tile (``\\n`` breaks a line), ``titles`` hover texts,
    ``columns`` a fixed number of columns (default: as many as fit), ``key`` unique per page.
    ``link``: a click on a tile opens the Digit inspector on that digit in this session;
    ``split="train"``: the indices are training indices (the inspector shows training digits)."""
    result = _gallery_component(
        key=key, data={"html": gallery_html(images, indices, captions, titles=titles, columns=columns, link=link), "link": link},
        on_open_change=lambda: None,
    )
    opened = getattr(result, "open", None)
    if link and opened is not None:
        state.open_inspector(int(opened), split=split)


def paged(indices: np.ndarray, *, key: str, page_size: int = GALLERY_PAGE_SIZE) -> tuple[np.ndarray, str]:
    """The slice of ``indices`` for the page chosen in a small pager (shown only when there
    is more than one page), and a ``showing a-b of n`` note."""
    n = len(indices)
    pages = max(1, -(-n // page_size))
    page = 1
    if pages > 1:
        if st.session_state.get(key, 1) > pages:  # fewer pages than before (e.g. a new threshold)
            st.session_state[key] = pages
        page = int(st.number_input(f"Page (of {pages}, {page_size} per page)", 1, pages, 1, step=1, key=key, width=NUMBER_WIDTH))
    start = (page - 1) * page_size
    chunk = indices[start : start + page_size]
    note = f"showing {start + 1}–{start + len(chunk)} of {n}" if n else "nothing to show"
    return chunk, note

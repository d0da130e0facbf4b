"""Draw a digit (or upload a picture of one) and see what every trained model answers.

The picture goes through core.data.drawing (prepare_canvas / prepare_upload), which turns it
into a 28x28 MNIST-style digit; core.analysis.evaluation.predict_digit runs every trained model.
Whichever input changed last (canvas or upload) is the one used.

The headline is core.analysis.trust.verdict: "Prediction: D" only when the models agree and the most
accurate one is confident, "Not sure: 4 or 9?" otherwise, and "This does not look like a
digit" when the ink is far from MNIST's (a bar, a dot) or no model is confident.

The canvas's own toolbar (upload, undo, redo, delete) floats, invisible until hovered, over
the canvas's top band and swallowed strokes begun there; CANVAS_FIX moves it below the canvas
(a style injected into the component's open shadow root, re-applied whenever a new canvas
mounts), where it covers neither the drawing area nor the instruction above it.
"""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.analysis.trust import verdict
from core.data.drawing import (
    BlankImageError,
    ImageInputError,
    prepare_canvas,
    prepare_upload,
)
from core.models.predict import predict_digit
from core.plots.explain import plot_pixel_map
from dashboard import cache
from dashboard.cache_explain import (
    file_only_note,
    load_explanation,
    load_ink_reference,
    load_thresholds,
    ranked_models,
)
from dashboard.components import digit_gallery, enlarge, require_data, setup_page
from dashboard.html_views import answer_cards_html

CANVAS_PX = 280
# No ``type=`` filter on the uploader: a file it refuses in the browser never reaches the
# script, so the previous upload's result stayed on screen under the uploader's error.
# core.data.drawing.prepare_upload refuses what it cannot read, with a message that clears it.
UPLOAD_HINT = "PNG, JPEG, GIF, BMP, WebP or TIFF"

setup_page("Draw a digit", "✏️")
st.title("Draw a digit")
data = require_data()
# most accurate first: the first row of predict_digit is the best model's answer
ranked = [m for m, _ in ranked_models(data, predictive=True)]
if file_only_note(data):
    st.caption(file_only_note(data))
# What the verdict compares a drawing with, ready before the first stroke (cached per data and models).
thresholds = load_thresholds(tuple(ranked), data)
ink_reference = load_ink_reference(data)

CANVAS_FIX = """
<script>
(() => {
  if (window.__drawCanvasFix) return;
  window.__drawCanvasFix = true;
  const css = `
    .dc-root { margin-bottom: 3.1rem; }
    .dc-toolbar, .dc-root:hover > .dc-toolbar, .dc-toolbar[data-pinned=true] {
      top: auto !important; bottom: -3.1rem !important; left: 0 !important; right: auto !important;
      opacity: 1 !important; padding: 0 !important; }`;
  // A component's shadow root fills in after its host is attached, and the page's observer
  // does not see inside it: style every shadow root (the rules only match the canvas's
  // .dc-* classes) and watch each one so the style comes back if the root is re-rendered.
  const ensure = (root) => {
    if (!root.getElementById("draw-canvas-fix")) {
      const style = document.createElement("style");
      style.id = "draw-canvas-fix";
      style.textContent = css;
      root.appendChild(style);
    }
  };
  const watched = new WeakSet();
  const patch = () => {
    for (const el of document.querySelectorAll("*")) {
      const root = el.shadowRoot;
      if (!root) continue;
      ensure(root);
      if (!watched.has(root)) {
        watched.add(root);
        new MutationObserver(() => ensure(root)).observe(root, {childList: true});
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; patch(); }); }
  }).observe(document.body, {childList: true, subtree: true});
  patch();
})();
</script>
"""
st.html(CANVAS_FIX, unsafe_allow_javascript=True)

st.session_state.setdefault("draw_nonce", 0)
st.session_state.setdefault("draw_input", "canvas")


def use(source: str) -> None:
    st.session_state.draw_input = source


def use_canvas() -> None:
    use("canvas")


def clear_canvas() -> None:
    st.session_state.draw_nonce += 1  # a new key gives a fresh, empty canvas
    st.session_state.draw_input = "canvas"


draw_col, upload_col, seen_col = st.columns([3, 2, 2], gap="large")
with draw_col:
    st.markdown("**Draw one digit, large and centred**")
    stroke = st.session_state.get("draw_stroke", 20)
    canvas = st_canvas(
        stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
        height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw", return_image_data=True,
        key=f"draw_canvas_{st.session_state.draw_nonce}", on_change=use_canvas,
    )
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.slider("Stroke width", 6, 40, 20, key="draw_stroke", on_change=use, args=("canvas",),
              help="Applies to the next strokes.")
    c2.button("Clear", on_click=clear_canvas, key="draw_clear", icon=":material/delete:",
              help="Clear the canvas", width="stretch")
with upload_col:
    st.markdown("**…or upload a picture**")
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit", key="draw_upload",
        on_change=use, args=("upload",),
        help=f"{UPLOAD_HINT}. Dark ink on paper is inverted automatically; the digit is cropped, scaled and centred like MNIST.",
    )
    if upload is not None:
        st.caption("Using the upload." if st.session_state.draw_input == "upload"
                   else "Using the canvas (you drew after uploading). Upload again to switch back.")

source = "upload" if (st.session_state.draw_input == "upload" and upload is not None) else "canvas"
digit = None
try:
    if source == "upload":
        digit = prepare_upload(upload.getvalue())
    elif canvas is not None and canvas.image_data is not None:
        digit = prepare_canvas(canvas.image_data)
    else:
        raise BlankImageError("Draw a digit on the black canvas to see the models' answers.")
except BlankImageError as exc:
    with seen_col:
        st.info(str(exc), icon=":material/edit:")
except ImageInputError as exc:
    with seen_col:
        st.error(str(exc))

if digit is None:
    st.stop()

with seen_col:
    st.markdown("**What the models see**")
    st.image(enlarge(digit.image, 8), caption="28×28 pixels, enlarged", width=224)
    for note in digit.notes:
        st.caption(f"Note: {note}.")

answers = predict_digit(ranked, digit.pixels)
best = answers.iloc[0]
decision = verdict(answers, thresholds=thresholds, pixels=digit.pixels, ink_reference=ink_reference)
st.header(decision.headline)
st.caption(decision.sentence(best["label"], accuracy=cache.load_accuracy(ranked[0], data)))

st.subheader("Every model's answer")
# One HTML block, not a chart per model: eight Plotly charts cost ~0.5 s of browser time per stroke.
st.html(answer_cards_html(answers))

# On demand: the first explanation on full MNIST builds a nearest-neighbour index over the
# training digits (seconds), which must not slow down every stroke (UI benchmark, "draw").
if st.toggle(f"Why does {best['label']} say {best['prediction']}? (occlusion map, nearest training digits)",
             key="draw_explain"):
    explanation = load_explanation(ranked[0], data, digit.pixels.tobytes(), None)
    occ = explanation.occlusion
    map_col, near_col = st.columns([2, 3], gap="large")
    map_col.plotly_chart(plot_pixel_map(digit.pixels, occ.toward_predicted, title=f"toward {occ.predicted}", unit=occ.unit),
                         key="draw_map", config={"displayModeBar": False})
    map_col.caption(f"Occlusion map: red pixels pushed the score toward {occ.predicted}, blue ones against it.")
    with near_col:
        nb = explanation.neighbours
        st.markdown("**Nearest training digits** in the model's feature space")
        digit_gallery(data.X_train[nb.indices], nb.indices,
                      [f"label {int(lab)} · dist {d:.2f}" for lab, d in zip(nb.labels, nb.distances)], columns=4, link=False)

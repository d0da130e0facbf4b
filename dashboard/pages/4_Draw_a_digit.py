"""Draw a digit (or upload a picture of one) and see what every trained model answers.

The picture goes through core.data.drawing (prepare_canvas / prepare_upload), which turns it
into a 28x28 MNIST-style digit; core.analysis.evaluation.predict_digit runs every trained model.
Whichever input changed last (canvas or upload) is the one used.

The headline is core.analysis.trust.verdict: "Prediction: D" only when the models agree and the most
accurate one is confident, "Not sure: 4 or 9?" otherwise, and "This does not look like a
digit" when the ink is far from MNIST's (a bar, a dot) or no model is confident.

The canvas's own toolbar floats over the canvas's top band and swallowed strokes begun there;
dashboard.patches.CANVAS_FIX moves it below the canvas.
"""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.analysis.verdict import verdict
from core.data.drawing import (
    BlankImageError,
    ImageInputError,
    prepare_canvas,
    prepare_upload,
)
from core.models.predict import predict_digit
from core.plots.explain import plot_pixel_map
from dashboard import patches
from dashboard.components import digit_gallery, enlarge, file_only_note, predictive_models, require_loaded_models, require_workspace, setup_page
from dashboard.data.analysis import load_explanation, load_ink_reference, load_thresholds, rank_by_accuracy
from dashboard.data.metrics import load_accuracy
from dashboard.html_views import answer_cards_html

CANVAS_PX = 280
# No ``type=`` filter on the uploader: a file it refuses in the browser never reaches the
# script, so the previous upload's result stayed on screen under the uploader's error.
# core.data.drawing.prepare_upload refuses what it cannot read, with a message that clears it.
UPLOAD_HINT = "PNG, JPEG, GIF, BMP, WebP or TIFF"

setup_page("Draw a digit", "✏️")
st.title("Draw a digit")
ws, fixes = require_workspace()
data = ws.data
# most accurate first: the first row of predict_digit is the best model's answer
_all_models = require_loaded_models(ws)
ranked = [m for m, _ in rank_by_accuracy(ws, predictive_models(_all_models), fixes)]
if file_only_note(_all_models):
    st.caption(file_only_note(_all_models))
# What the verdict compares a drawing with, ready before the first stroke (cached per data and models).
thresholds = load_thresholds(ws, tuple(ranked))
ink_reference = load_ink_reference(ws)

patches.install_canvas_fix()

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
st.caption(decision.sentence(best["label"], accuracy=load_accuracy(ws, ranked[0], fixes)))

st.subheader("Every model's answer")
# One HTML block, not a chart per model: eight Plotly charts cost ~0.5 s of browser time per stroke.
st.html(answer_cards_html(answers))

# On demand: the first explanation on full MNIST builds a nearest-neighbour index over the
# training digits (seconds), which must not slow down every stroke (UI benchmark, "draw").
if st.toggle(f"Why does {best['label']} say {best['prediction']}? (occlusion map, nearest training digits)",
             key="draw_explain"):
    explanation = load_explanation(ws, ranked[0], digit.pixels.tobytes(), None)
    occ = explanation.occlusion
    map_col, near_col = st.columns([2, 3], gap="large")
    map_col.plotly_chart(plot_pixel_map(digit.pixels, occ.toward_predicted, title=f"toward {occ.predicted}", unit=occ.unit),
                         key="draw_map", config={"displayModeBar": False})
    map_col.caption(f"Occlusion map: red pixels pushed the score toward {occ.predicted}, blue ones against it.")
    with near_col:
        nb = explanation.neighbours
        st.markdown("**Nearest training digits** in the model's feature space")
        digit_gallery(data.X_train[nb.indices], nb.indices,
                      [f"label {int(lab)} · dist {d:.2f}" for lab, d in zip(nb.labels, nb.distances)], columns=4, link=False, key="draw_neighbours")

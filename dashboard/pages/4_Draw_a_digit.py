"""Draw a digit (or upload a picture of one) and see what every trained model answers.

The picture goes through core.drawing (prepare_canvas / prepare_upload), which turns it
into a 28x28 MNIST-style digit; core.evaluation.predict_digit runs every trained model.
Whichever input changed last (canvas or upload) is the one used.
"""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.drawing import (
    BlankImageError,
    ImageInputError,
    prepare_canvas,
    prepare_upload,
)
from core.evaluation import predict_digit
from core.plots import plot_top3_bars
from dashboard import cache
from dashboard.components import (
    enlarge,
    require_data,
    require_models,
    setup_page,
    train_hint,
)

CANVAS_PX = 280
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]

setup_page("Draw a digit", "✏️")
st.title("Draw a digit")
data = require_data()
statuses = require_models(data)
models, problems = cache.load_models(statuses, data)
for problem in problems:
    st.warning(f"{problem} Retrain it on the Home page or with `{train_hint()}`.", icon=":material/warning:")
if not models:
    st.error("None of the saved models could be loaded; retrain them on the Home page.")
    st.stop()
# most accurate first: the first row of predict_digit is the headline
ranked = sorted(models.values(), key=lambda m: -cache.load_accuracy(m, data))

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
        "A photo or scan of one handwritten digit", type=UPLOAD_TYPES, key="draw_upload",
        on_change=use, args=("upload",),
        help="Dark ink on paper is inverted automatically; the digit is cropped, scaled and centred like MNIST.",
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
agree = int((answers["prediction"] == best["prediction"]).sum())
st.header(f"Prediction: {best['prediction']}")
st.caption(
    f"From {best['label']}, the most accurate trained model ({100 * cache.load_accuracy(ranked[0], data):.1f}% on the "
    f"test set). {agree} of {len(answers)} models agree."
)

st.subheader("Every model's answer")
cols = st.columns(min(4, len(answers)))
for k, row in enumerate(answers.itertuples(index=False)):
    with cols[k % len(cols)]:
        kind = "top-3 probabilities" if row.score_kind == "probability" else "top-3 decision scores (not probabilities)"
        st.markdown(f"**{row.label}: {row.prediction}**")
        st.caption(kind)
        st.plotly_chart(plot_top3_bars(row.top_digits, row.top_scores, score_kind=row.score_kind),
                        key=f"draw_bars_{row.model}", config={"displayModeBar": False, "staticPlot": True})

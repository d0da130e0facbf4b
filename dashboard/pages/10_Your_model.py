"""Your model: import an ONNX model or a file of test predictions, list and delete imports.

Everything happens in core.store.imports (checks, detection, signed records); an imported
model then appears on every page through the store's model list.
"""

import pandas as pd
import streamlit as st

from core.errors import DashboardError
from core.store.imports import delete_import, import_file, imports_table, suggest_name
from dashboard.components import require_workspace, setup_page

setup_page("Your model", "📥")
st.title("Your model")
ws, _fixes = require_workspace()
data, store = ws.data, ws.store

st.markdown(
    "Bring a model trained elsewhere and see it on every page. **An ONNX file** (PyTorch, Keras via tf2onnx, "
    "scikit-learn via skl2onnx) taking 28x28 digits as (N, 784), (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), "
    "with 10 scores per digit: the input layout, pixel scale and output kind are detected. Or **a prediction "
    f"file** (.csv, .npy, .npz) of the {len(data.y_test):,} test digits in the standard order: ({len(data.y_test):,}, 10) "
    "probabilities or scores, or one predicted digit per row. A prediction file shows on the pages that need only "
    "predictions; the Draw page and occlusion maps need a model."
)
upload = st.file_uploader("ONNX model or prediction file", key="import_upload",
                          help="Checked before anything runs; an ONNX graph never runs Python code.")
left, right = st.columns([2, 1])
name = left.text_input("Name", value=suggest_name(upload.name) if upload else "", key=f"import_name_{upload.name if upload else ''}",
                       help="Lowercase letters, digits and '_'; not a catalog model's name.")
scale = right.selectbox("Pixel scale (ONNX)", ["detect", "0-1", "0-255"], key="import_scale",
                        help="detect: the scale with the higher accuracy on 500 training digits.")
if st.button("Import", type="primary", disabled=upload is None, key="import_button"):
    with st.spinner("Checking the file and predicting the test set…"):
        try:
            model, notes = import_file(store, upload.getvalue(), upload.name, name=name.strip(),
                                       scale=None if scale == "detect" else scale)
        except DashboardError as exc:
            st.error(f"**Not imported.** {exc}", icon=":material/error:")
        else:
            st.success(f"Imported **{model.record.name}**: " + " ".join(notes), icon=":material/check:")

st.subheader("Imported models")
rows = imports_table(store)
if not rows:
    st.caption("None yet.")
else:
    frame = pd.DataFrame(rows)
    frame["accuracy_at_import"] = (100 * frame["accuracy_at_import"]).round(2)
    st.dataframe(frame.rename(columns={"accuracy_at_import": "accuracy %", "sha256": "SHA-256"}), hide_index=True,
                 width="stretch")
    doomed = st.selectbox("Delete an imported model", [r["name"] for r in rows], key="delete_choice")
    if st.button(f"Delete {doomed}", key="delete_button"):
        try:
            delete_import(store, doomed)
        except DashboardError as exc:
            st.error(str(exc))
        else:
            st.rerun()

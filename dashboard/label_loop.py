"""The label-cleaning loop in the app: rank the training labels (out-of-fold probabilities,
a background job), review them (marks saved at once), export/import the marks, train the
cleaned variant (a background job), and the Compare page's view of a variant.

Session state: ``lt_mark_<index>`` is the mark box of training suspect ``index`` (changing it
saves the mark); ``lt_models`` the models cross-validated; ``lt_page`` the page of suspects;
``lt_retrain_model`` the model to retrain.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.compare import format_p
from core.analysis.oof import DEFAULT_MODELS, compute_out_of_fold, load_out_of_fold, oof_side_key, rank_train_labels
from core.analysis.variants import loop_verdict, variant_options
from core.data.label_fixes import DROP, LabelFixes
from core.data.sources import MnistData
from core.errors import DashboardError
from core.models.catalog import MODEL_NAMES, get_spec, is_available
from core.models.predict import TestPredictions
from core.store.marks import load_marks
from core.store.records import ModelRecord, ModelStatus
from core.store.train_marks import (
    clear_train_mark,
    import_marks,
    label_fixes_from,
    load_train_marks,
    marks_csv,
    save_train_mark,
)
from core.store.training import train_model
from dashboard import state
from dashboard.components import digit_gallery, paged
from dashboard.data.jobs import job_runner
from dashboard.data.workspace import model_statuses, models_path, workspace

__all__ = [
    "MARK_CHOICES",
    "canonical_id",
    "model_choice_label",
    "show_label_cleaning",
    "training_review",
    "variant_statuses",
]

NOT_REVIEWED, RIGHT, AMBIGUOUS = "not reviewed", "label is right", "ambiguous, drop it"
MARK_CHOICES = [NOT_REVIEWED, RIGHT, AMBIGUOUS, *(f"wrong label → {d}" for d in range(10))]
PAGE_SIZE = 10
FOLDS = 5


# ---------------------------------------------------------------- Compare page


def variant_statuses(statuses: list[ModelStatus], data: MnistData) -> dict[str, ModelStatus]:
    """Every usable artifact that is not its model's newest (e.g. the original beside a newer
    label-cleaned variant), as ``{"<name>-<key>": ModelStatus}``."""
    store = workspace().store
    out = {}
    for status in statuses:
        if status.record is None or status.name not in MODEL_NAMES:  # imported models have one artifact each
            continue
        for record in store.records(status.name):
            if record.key != status.record.key:
                out[f"{record.name}-{record.key}"] = ModelStatus(status.name, status.label, record)
    return out


def canonical_id(requested: str, by_id: dict[str, ModelStatus]) -> str:
    """A model id from the URL: ``knn-<key>`` of the newest ``knn`` becomes ``knn``."""
    name, _, key = requested.partition("-")
    status = by_id.get(name)
    if key and status is not None and status.record is not None and status.record.key == key:
        return name
    return requested


def model_choice_label(status: ModelStatus, model_id: str) -> str:
    """How a model (or a variant of it) is named in pickers: its label, plus its options when
    it is not the plain newest model or it was trained on cleaned labels."""
    record = status.record
    if record is None:
        return status.label
    fixes = record.label_fixes
    if fixes:  # short: the Label cleaning note names the marks' hash
        return f"{status.label}, cleaned ({fixes['relabelled']} fixed, {fixes['dropped']} dropped)"
    if model_id != status.name:
        return f"{status.label} ({record.options_summary()})"
    return status.label


def show_label_cleaning(rec_a: ModelRecord | None, pa: TestPredictions, rec_b: ModelRecord | None, pb: TestPredictions,
                        data: MnistData) -> None:
    """On the Compare page, when A or B was trained on cleaned labels: which side was cleaned
    how, and the comparison on the corrected test labels too when there are test marks."""
    if rec_a is None or rec_b is None or not (rec_a.label_fixes or rec_b.label_fixes):
        return
    verdict = loop_verdict(rec_a, replace(pa, y_true=data.y_test), rec_b, replace(pb, y_true=data.y_test),
                           load_marks(workspace().store))
    st.info(f"**Label cleaning.** {verdict.sides()}. The figures above use "
            f"{'the corrected' if state.switch_on() else 'the original'} test labels.",
            icon=":material/cleaning_services:")
    if verdict.corrected is not None:
        r = verdict.corrected
        c1, c2, c3 = st.columns(3)
        c1.metric("A on corrected test labels", f"{r.accuracy_a:.2%}")
        c2.metric("B on corrected test labels", f"{r.accuracy_b:.2%}",
                  delta=f"{100 * (r.accuracy_b - r.accuracy_a):+.2f} points")
        c3.metric("McNemar p (corrected test labels)", format_p(r.p_value))
        o = verdict.original
        st.caption(f"On the original test labels: A {o.accuracy_a:.2%}, B {o.accuracy_b:.2%}, McNemar p "
                   f"{format_p(o.p_value)}. Both training and test labels cleaned: read this row with care, the "
                   "same reviewer decided both.")


# ----------------------------------------------------------- Label errors page


def _oof_job_key(data: MnistData, models: tuple[str, ...]) -> str:
    return f"oof:{models_path()}:{data.fingerprint}:{'+'.join(models)}:f{FOLDS}"


def _side_stamp(data: MnistData, models: tuple[str, ...]) -> str:
    store = workspace().store
    stamps = []
    for name in models:
        path = store.side_path("oof", oof_side_key(name, scope="train", folds=FOLDS, seed=0), ".npz")
        stamps.append(str(path.stat().st_mtime_ns) if path.exists() else "-")
    return ":".join(stamps)


@st.cache_data(show_spinner="Ranking the training labels…", max_entries=8)
def _ranking(folder: str, fingerprint: str, models: tuple[str, ...], stamp: str, _data: MnistData) -> pd.DataFrame | None:
    oof = load_out_of_fold(workspace().store, models, scope="train", folds=FOLDS)
    return None if oof is None else rank_train_labels(oof)


def _mark_label(value: int | str | None) -> str:
    if value is None:
        return RIGHT
    return AMBIGUOUS if value == DROP else f"wrong label → {value}"


def _save(data: MnistData, index: int, choice: str) -> None:
    store = workspace().store
    try:
        if choice == NOT_REVIEWED:
            clear_train_mark(store, index)
        else:
            value = None if choice == RIGHT else DROP if choice == AMBIGUOUS else int(choice[-1])
            save_train_mark(store, index, value)
    except DashboardError as exc:
        st.session_state["_lt_error"] = str(exc)


def _on_mark(data: MnistData, index: int) -> None:
    _save(data, index, st.session_state[f"lt_mark_{index}"])


def _accept(data: MnistData, index: int, digit: int) -> None:
    choice = f"wrong label → {digit}"
    st.session_state[f"lt_mark_{index}"] = choice
    _save(data, index, choice)


def training_review(data: MnistData) -> None:
    """The Label errors page's training-set part: rank, review, export/import, retrain."""
    st.subheader("Suspects in the training set")
    probability_models = [n for n in MODEL_NAMES if get_spec(n).has_proba and is_available(n)]
    if "lt_models" not in st.session_state:  # the models already cross-validated for this data, else the default
        store = workspace().store
        done = [m for m in probability_models
                if store.side_path("oof", oof_side_key(m, scope="train", folds=FOLDS, seed=0), ".npz").is_file()]
        st.session_state["lt_models"] = done or [m for m in DEFAULT_MODELS if m in probability_models]
    models = tuple(st.multiselect(
        "Models to cross-validate (their out-of-fold probabilities are averaged)", probability_models,
        key="lt_models", format_func=lambda n: get_spec(n).label,
        help="Each model is fitted 5 times on four fifths of the training set and predicts the fifth it did not see. "
             "KNN + MLP take about 4 minutes on 60,000 digits; the CNN much longer.",
    ))
    if not models:
        st.info("Pick at least one model to rank the training labels.")
        return
    store = workspace().store
    table = _ranking(models_path(), data.fingerprint, models, _side_stamp(data, models), data)
    job = job_runner().get(_oof_job_key(data, models))
    if table is None:
        running = job is not None and not job.state.finished
        if job is not None and job.error:
            st.error(f"Ranking the training labels failed: {job.error}")
        st.caption("Not ranked yet with these models. The cross-validation runs in the background (progress in the "
                   "sidebar); its probabilities are kept beside the models, so this is done once per data set.")
        if st.button("Rank the training labels", key="lt_rank", icon=":material/model_training:", disabled=running):
            job_runner().submit(_oof_job_key(data, models),
                                      lambda: compute_out_of_fold(store, models, scope="train", folds=FOLDS),
                                      label=f"Cross-validating {' + '.join(get_spec(m).label for m in models)}")
            st.rerun()
        if running:
            st.progress(job.fraction or 0.0, text=f"{job.label}: {job.message}")
        return

    if "_lt_error" in st.session_state:
        st.error(f"The mark was not saved: {st.session_state.pop('_lt_error')}")
    try:
        marks = load_train_marks(store)
    except DashboardError as exc:
        st.error(str(exc))
        marks = {}
    st.caption(
        f"cleanlab's label quality (self-confidence, low = suspect) on the mean out-of-fold probabilities of "
        f"{', '.join(get_spec(m).label for m in models)} ({FOLDS} folds); ties go to the digit whose other label is "
        "most probable. Mark each suspect: the mark is saved at once. Keyboard: Tab moves between the boxes, typing "
        "filters a box (e.g. \"→ 7\", \"right\", \"drop\"), Enter picks."
    )
    rows, note = paged(np.arange(len(table)), key="lt_page", page_size=PAGE_SIZE)
    reviewed = sum(1 for i in table["index"].head(int(rows[-1]) + 1 if len(rows) else 0) if int(i) in marks)
    st.caption(f"Most suspect first; {note}. {reviewed} of the first {int(rows[-1]) + 1 if len(rows) else 0} marked.")
    per_row = 5
    for start in range(0, len(rows), per_row):
        cols = st.columns(per_row)
        for col, r in zip(cols, rows[start:start + per_row]):
            s = table.iloc[int(r)]
            index, given, suggested = int(s["index"]), int(s["given"]), int(s["suggested"])
            with col.container(border=True, key=f"lt_tile_{index}"):
                digit_gallery(data.X_train[[index]], [index],
                              [f"given {given} → {suggested}\nscore {s['score']:.2g}"],
                              titles=[f"training digit #{index}: labelled {given}, probably {suggested}"],
                              columns=1, split="train", key=f"lt_gallery_{index}")
                key = f"lt_mark_{index}"
                if key not in st.session_state:
                    st.session_state[key] = _mark_label(marks[index]) if index in marks else NOT_REVIEWED
                st.selectbox(f"mark #{index}", MARK_CHOICES, key=key, on_change=_on_mark, args=(data, index),
                             label_visibility="collapsed")
                st.button(f"wrong → {suggested}", key=f"lt_accept_{index}", on_click=_accept, args=(data, index, suggested),
                          width="stretch", help=f"Mark the label wrong: it is a {suggested}.")
    _marks_box(data, marks)
    _retrain_box(data)


def _marks_box(data: MnistData, marks: dict) -> None:
    store = workspace().store
    wrong = sum(1 for v in marks.values() if v is not None and v != DROP)
    dropped = sum(1 for v in marks.values() if v == DROP)
    st.markdown(f"**Your training marks:** {len(marks)} reviewed: {wrong} wrong, {dropped} ambiguous, "
                f"{len(marks) - wrong - dropped} right.")
    left, right = st.columns(2)
    left.download_button("Download all marks (CSV)", marks_csv(store).encode(), file_name=f"label-marks-{data.fingerprint}.csv",
                         mime="text/csv", key="lt_csv", on_click="ignore", icon=":material/download:")
    upload = right.file_uploader("Import marks (CSV)", type=["csv"], key="lt_import",
                                 help="A file exported here or by python -m core marks export; checked completely first.")
    if upload is not None and st.session_state.get("_lt_imported") != upload.file_id:
        st.session_state["_lt_imported"] = upload.file_id
        try:
            n_train, n_test = import_marks(store, upload.getvalue().decode("utf-8", errors="replace"))
        except DashboardError as exc:
            right.error(str(exc))
        else:
            for key in [k for k in st.session_state if str(k).startswith("lt_mark_")]:
                del st.session_state[key]  # the boxes show the imported marks
            st.session_state["_lt_import_note"] = f"Imported {n_train} training and {n_test} test marks."
            st.rerun()  # the tiles and counts above were drawn before the import
    if "_lt_import_note" in st.session_state:
        right.success(st.session_state.pop("_lt_import_note"))


def _retrain_box(data: MnistData) -> None:
    store = workspace().store
    st.markdown("**Retrain on the cleaned labels**")
    names = [n for n in MODEL_NAMES if is_available(n)]
    trained = [s.name for s in model_statuses(workspace()) if s.trained]
    st.session_state.setdefault("lt_retrain_model", trained[0] if trained else names[0])
    name = st.selectbox("Model", names, key="lt_retrain_model", format_func=lambda n: get_spec(n).label)
    try:
        fixes: LabelFixes | None = label_fixes_from(store, "marks")
    except DashboardError as exc:
        fixes = None
        st.caption(str(exc))
    original = store.record(name)
    variant = store.record(name, variant_options(fixes)) if fixes is not None else None
    if fixes is not None:
        st.caption(f"{get_spec(name).label} trained with {len(fixes.relabel)} labels corrected and {len(fixes.drop)} "
                   f"dropped (marks {fixes.digest}); the original (catalog options) is trained too if it is missing.")
    key = f"train:{models_path()}:{data.fingerprint}:{name}:fixes-{fixes.digest if fixes else '-'}"
    job = job_runner().get(key)
    busy = job is not None and not job.state.finished
    if job is not None and job.error:
        st.error(f"Training the cleaned variant failed: {job.error}")
    if st.button(f"Train the cleaned {get_spec(name).label}", key="lt_retrain", icon=":material/cleaning_services:",
                 disabled=fixes is None or busy or variant is not None):

        def work(name=name, fixes=fixes):
            train_model(store, name)
            return train_model(store, name, options=variant_options(fixes))

        job_runner().submit(key, work, label=f"Training the cleaned {get_spec(name).label}")
        st.rerun()
    if busy:
        st.progress(job.fraction or 0.0, text=f"{job.label}: {job.message}")
    if variant is not None and original is not None:
        st.page_link("pages/5_Compare_models.py", label=f"Compare: original {get_spec(name).label} (A) vs cleaned (B)",
                     icon=":material/compare_arrows:",
                     query_params={"a": f"{name}-{original.key}", "b": f"{name}-{variant.key}"})

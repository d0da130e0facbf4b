"""The label-cleaning verdict: a model trained on the given labels (A) against the same
model trained with the reviewer's training-label fixes (B), with McNemar's test, on the
original test labels and, when the reviewer marked test labels too, on the corrected ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.analysis.compare import Comparison, compare_predictions
from core.analysis.label_errors import apply_corrections
from core.data.label_fixes import LabelFixes
from core.errors import ArtifactError
from core.models.catalog import get_spec
from core.models.predict import TestPredictions
from core.store.artifacts import ArtifactStore
from core.store.records import ModelRecord, TrainOptions

__all__ = ["LoopVerdict", "loop_verdict", "variant_options", "variant_predictions"]


def variant_options(fixes: LabelFixes | dict[str, Any] | None, base: TrainOptions | None = None) -> TrainOptions:
    """``base`` (default: the catalog's options) with ``fixes`` as its label fixes."""
    base = base or TrainOptions()
    return TrainOptions(deskew=base.deskew, augment=base.augment, max_train=base.max_train, params=dict(base.params),
                        label_fixes=fixes)


def variant_predictions(
    store: ArtifactStore, name: str, fixes: LabelFixes | None, *, base: TrainOptions | None = None, random_state: int = 0
) -> tuple[ModelRecord, TestPredictions]:
    """The record and test predictions of catalog model ``name`` trained with ``fixes`` (None:
    the given labels). ArtifactError with the training command when it is not trained."""
    options = variant_options(fixes, base)
    record = store.record(name, options, random_state)
    if record is None:
        flag = f" --label-fixes FILE|marks (marks {fixes.digest})" if fixes is not None else ""
        raise ArtifactError(f"{get_spec(name).label} {'with these label fixes ' if fixes else ''}is not trained on "
                            f"{store.data.description}; train it first: python -m core train --models {name}{flag}")
    preds = store.cached_predictions(record)
    if preds is None:
        model = store.load(record)
        if model is None:
            raise ArtifactError(f"the saved {record.label} ({record.key}) could not be loaded; retrain it.")
        preds = store.predictions(model)
    return record, preds


@dataclass(frozen=True)
class LoopVerdict:
    """A against B on the original test labels (``original``) and, when there are test marks,
    on the corrected ones (``corrected``, with ``test_fixes`` corrected labels)."""

    record_a: ModelRecord
    record_b: ModelRecord
    original: Comparison
    corrected: Comparison | None
    test_fixes: int

    def sides(self) -> str:
        """Which labels were cleaned where, in words."""
        def side(record: ModelRecord) -> str:
            fixes = record.label_fixes
            return (f"trained on cleaned labels ({fixes['relabelled']} fixed, {fixes['dropped']} dropped, marks "
                    f"{fixes['marks_sha256']})" if fixes else "trained on the given labels")
        text = f"A {side(self.record_a)}; B {side(self.record_b)}"
        if self.corrected is not None:
            text += (f". Both are also scored on test labels cleaned by your {self.test_fixes} test mark"
                     f"{'s' if self.test_fixes != 1 else ''}: training AND test labels cleaned")
        return text


def loop_verdict(
    record_a: ModelRecord, preds_a: TestPredictions, record_b: ModelRecord, preds_b: TestPredictions,
    test_marks: dict[int, int | None] | None = None,
) -> LoopVerdict:
    """McNemar on the original test labels, and on the corrected ones when ``test_marks``
    correct any label."""
    name_a = f"A: {record_a.label}" + (" (cleaned)" if record_a.label_fixes else "")
    name_b = f"B: {record_b.label}" + (" (cleaned)" if record_b.label_fixes else "")
    original = compare_predictions(preds_a, preds_b, name_a=name_a, name_b=name_b)
    fixes = {i: d for i, d in (test_marks or {}).items() if d is not None}
    corrected = None
    if fixes:
        corrected = compare_predictions(apply_corrections(preds_a, fixes), apply_corrections(preds_b, fixes),
                                        name_a=name_a, name_b=name_b)
    return LoopVerdict(record_a, record_b, original, corrected, len(fixes))

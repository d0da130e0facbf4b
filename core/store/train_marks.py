"""The reviewer's marks on *training* labels, kept as a store side file per data set, and
the marks CSV (both splits) that exports and imports them.

``<folder>/label_marks/train-<data fingerprint>.json``: ``{"fingerprint": ..., "split": "train",
"marks": {"<training index>": <digit> | "drop" | null}}``: a digit means "wrong label, it is
this digit", ``"drop"`` "ambiguous, drop it from training", null "the label is right".
Written atomically under a file lock; validated on every read. Test marks stay in
core.store.marks.

The CSV has the columns :data:`CSV_COLUMNS`, one row per mark. :func:`parse_marks_csv`
checks every row before anything is saved, and names the line of the first problem.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from filelock import FileLock

from core.data.label_fixes import DROP, LabelFixes
from core.errors import OptionsError
from core.fileio import atomic_write_bytes
from core.store.artifacts import ArtifactStore
from core.store.marks import load_marks, marks_path

__all__ = [
    "CSV_COLUMNS",
    "MarksImportError",
    "TrainMarks",
    "clear_train_mark",
    "import_marks",
    "label_fixes_from",
    "load_train_marks",
    "marks_csv",
    "parse_marks_csv",
    "save_train_mark",
    "train_marks_path",
]

#: Training index -> corrected digit, DROP ("ambiguous") or None (the label is right).
TrainMarks = dict[int, int | str | None]
CSV_COLUMNS = ["split", "index", "given", "verdict", "corrected", "fingerprint"]
_VERDICTS = {"train": ("wrong", "ambiguous", "fine"), "test": ("wrong", "fine")}


class MarksImportError(OptionsError):
    """A marks file that cannot be imported; nothing was imported."""


def train_marks_path(store: ArtifactStore) -> Path:
    """Where the marks on the store's training labels live."""
    return store.side_path("label_marks", "train")


def _check_value(index: object, value: object, n: int) -> tuple[int, int | str | None]:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise OptionsError(f"training index {index!r} is outside the training set (0-{n - 1}).")
    if value is None or value == DROP:
        return index, value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise OptionsError(f"mark {value!r} on training digit {index} is not a digit 0-9, {DROP!r} or null.")
    return index, value


def _read(store: ArtifactStore, path: Path) -> TrainMarks:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OptionsError(f"the training marks file {path} is unreadable ({exc}); move it away to start afresh.") from exc
    try:
        if raw.get("fingerprint") != store.data.fingerprint:
            raise ValueError(f"it holds marks for data {raw.get('fingerprint')!r}, this data is {store.data.fingerprint}")
        n = store.data.n_train
        return dict(_check_value(int(k), v, n) for k, v in raw["marks"].items())
    except (AttributeError, KeyError, TypeError, ValueError, OptionsError) as exc:
        raise OptionsError(f"the training marks file {path} is unusable ({exc}); move it away to start afresh.") from exc


def load_train_marks(store: ArtifactStore) -> TrainMarks:
    """The marks on the store's training labels (empty when there are none)."""
    return _read(store, train_marks_path(store))


def _update(store: ArtifactStore, change: Callable[[TrainMarks], object]) -> TrainMarks:
    path = train_marks_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=30):
            marks = _read(store, path)
            change(marks)
            payload = {"fingerprint": store.data.fingerprint, "split": "train",
                       "marks": {str(k): marks[k] for k in sorted(marks)}}
            atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
    except OSError as exc:
        raise store.write_error(exc) from exc
    return marks


def save_train_mark(store: ArtifactStore, index: int, value: int | str | None) -> TrainMarks:
    """Mark training digit ``index``: its true digit, ``DROP`` (ambiguous) or None (the label
    is right). Returns all training marks."""
    i, v = _check_value(int(index), value, store.data.n_train)
    return _update(store, lambda m: m.__setitem__(i, v))


def clear_train_mark(store: ArtifactStore, index: int) -> TrainMarks:
    """Forget the mark on training digit ``index`` (no error if there is none)."""
    return _update(store, lambda m: m.pop(int(index), None))


# ------------------------------------------------------------------------- CSV


def marks_csv(store: ArtifactStore) -> str:
    """Both splits' marks as CSV text (:data:`CSV_COLUMNS`), training marks first."""
    data, out = store.data, io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for index, value in sorted(load_train_marks(store).items()):
        given = int(data.y_train[index])
        verdict = "fine" if value is None else "ambiguous" if value == DROP else "wrong"
        writer.writerow(["train", index, given, verdict, value if verdict == "wrong" else "", data.fingerprint])
    for index, value in sorted(load_marks(store).items()):
        writer.writerow(["test", index, int(data.y_test[index]), "fine" if value is None else "wrong",
                         "" if value is None else value, data.fingerprint])
    return out.getvalue()


def _int(text: str, what: str, line: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise MarksImportError(f"line {line}: {what} {text!r} is not a whole number; nothing was imported.") from None


def parse_marks_csv(text: str, store: ArtifactStore) -> tuple[TrainMarks, dict[int, int | None]]:
    """The training and test marks in a marks CSV, checked against the store's data.
    MarksImportError names the line of the first problem: unknown or missing columns, another
    data set's fingerprint, an index outside its split, a given label that is not the data's,
    a verdict or digit out of range, or one index marked twice in different ways."""
    data = store.data
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise MarksImportError("the marks file is empty; nothing was imported.")
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if unknown or missing:
        raise MarksImportError(
            f"line 1: unknown column(s) {', '.join(map(repr, unknown)) or 'none'}, missing {', '.join(missing) or 'none'}; "
            f"a marks file has the columns {', '.join(CSV_COLUMNS)}. Nothing was imported.")
    col = {c: header.index(c) for c in CSV_COLUMNS}
    found: dict[tuple[str, int], tuple[int | str | None, int]] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise MarksImportError(f"line {line}: {len(row)} values for {len(header)} columns; nothing was imported.")
        get = {c: row[col[c]].strip() for c in CSV_COLUMNS}
        if get["fingerprint"] != data.fingerprint:
            raise MarksImportError(
                f"line {line}: these marks are for data {get['fingerprint']!r}, this data is {data.fingerprint} "
                f"({data.description}); open that data to import them. Nothing was imported.")
        split = get["split"]
        if split not in _VERDICTS:
            raise MarksImportError(f"line {line}: split {split!r} is not 'train' or 'test'; nothing was imported.")
        labels = data.y_train if split == "train" else data.y_test
        index = _int(get["index"], f"{split} index", line)
        if not 0 <= index < len(labels):
            raise MarksImportError(f"line {line}: {split} index {index} is outside the {split} set (0-{len(labels) - 1}); "
                                   "nothing was imported.")
        given = _int(get["given"], "given label", line)
        if given != int(labels[index]):
            raise MarksImportError(f"line {line}: {split} digit {index} is labelled {int(labels[index])} here, the file says "
                                   f"{given}; the marks belong to other data. Nothing was imported.")
        verdict = get["verdict"]
        if verdict not in _VERDICTS[split]:
            raise MarksImportError(f"line {line}: verdict {verdict!r} is not one of {', '.join(_VERDICTS[split])} "
                                   f"for the {split} set; nothing was imported.")
        value: int | str | None = None if verdict == "fine" else DROP if verdict == "ambiguous" else None
        if verdict == "wrong":
            value = _int(get["corrected"], "corrected label", line)
            if not 0 <= value <= 9:
                raise MarksImportError(f"line {line}: corrected label {value} is not a digit 0-9; nothing was imported.")
        before = found.get((split, index))
        if before is not None and before[0] != value:
            raise MarksImportError(f"line {line}: {split} index {index} is marked {value!r} here and {before[0]!r} on "
                                   f"line {before[1]}; keep one of them. Nothing was imported.")
        found[(split, index)] = (value, line)
    train = {i: v for (s, i), (v, _) in found.items() if s == "train"}
    test = {i: v for (s, i), (v, _) in found.items() if s == "test"}
    return train, test  # type: ignore[return-value]


def import_marks(store: ArtifactStore, text: str) -> tuple[int, int]:
    """Check the marks CSV ``text`` completely, then merge it into the stored marks (a mark in
    the file replaces the stored one on the same digit). Returns (training, test) marks
    imported. MarksImportError (nothing imported) for a bad file."""
    train, test = parse_marks_csv(text, store)
    if train:
        _update(store, lambda m: m.update(train))
    if test:
        _merge_test(store, test)
    return len(train), len(test)


def _merge_test(store: ArtifactStore, test: Mapping[int, int | None]) -> None:
    path = marks_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=30):
            marks = {**load_marks(store), **test}
            payload = {"fingerprint": store.data.fingerprint, "marks": {str(k): marks[k] for k in sorted(marks)}}
            atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
    except OSError as exc:
        raise store.write_error(exc) from exc


def label_fixes_from(store: ArtifactStore, source: str) -> LabelFixes:
    """The training-label fixes named by ``source``: ``"marks"`` (the stored training marks)
    or the path of a marks CSV (its training rows, checked like an import). OptionsError when
    there is no fix at all: the variant would equal the original model."""
    if source == "marks":
        marks, where = load_train_marks(store), "the stored training marks"
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise OptionsError(f"cannot read the marks file {source!r} ({exc.strerror or exc}).") from exc
        marks, _ = parse_marks_csv(text, store)
        where = f"the marks file {source}"
    fixes = LabelFixes.from_marks(marks, store.data.y_train)
    if fixes.count == 0:
        raise OptionsError(f"{where} mark no training label wrong or ambiguous ({len(marks)} marked right): a model "
                           "trained with them would equal the original. Mark some training labels first.")
    return fixes

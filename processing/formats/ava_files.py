"""Readers (and writers) of the official AVA file formats, shared by the data set builder and the metric.

- label maps (`.pbtxt`) in both formats: `label { name: "..." label_id: N label_type: T }` (AVA v2.2 release) and
  `item { name: "..." id: N }` (ActivityNet evaluator, mmaction2 tests);
- keyframe lists such as the excluded-timestamp CSVs (`video_id,timestamp`);
- the box CSVs, one row per (box, action), as the AVA release and the ActivityNet evaluator define them:
  - ground truth: `video_id,timestamp,x1,y1,x2,y2,action_id,person_id` (AVA), 7 columns without the person id
    (AVA-Kinetics), and 2-column rows `video_id,timestamp` for an evaluated keyframe with nobody in it (2020 format);
  - detections: `video_id,timestamp,x1,y1,x2,y2,action_id,score`.
  Boxes are normalised to [0, 1] (x right, y down, top-left origin). Timestamps are seconds: integers written
  `%04d` in AVA (`0902`), floats in AVA-Kinetics; readers keep them as the text of the file, because the
  evaluators build their keyframe keys from that text.

Box CSVs are read with pyarrow in blocks (millions of rows in seconds, bounded memory); a file pyarrow cannot take
(2-column rows, spaces around numbers, a malformed row) is read by a slow exact pass with Python's `csv` and
`float`/`int`, the functions the official evaluator itself uses, which names the file and line of a bad row.

Every error names the file and the line.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_BLOCK_START = re.compile(r"^\s*(label|item)\s*\{\s*$")
_FIELD = re.compile(r'^\s*(name|id|label_id|label_type|display_name)\s*:\s*(.+?)\s*$')

# Rows per batch of the slow pass and of in-memory conversions; the pyarrow pass reads blocks of _ARROW_BLOCK_BYTES.
_BATCH_ROWS = 200_000
_ARROW_BLOCK_BYTES = 4 << 20
_COORDINATE_NAMES = ("x1", "y1", "x2", "y2")


def open_annotation_text(path: str | os.PathLike, errors: str = "strict"):
    """Open an annotation text file (CSV or label map) for reading, the one way every reader here does it.

    UTF-8, with a leading byte-order mark dropped (`utf-8-sig`: spreadsheet programs write one, and it would
    otherwise become part of the first video id); `newline=""` as the `csv` module needs.
    """
    return open(path, newline="", encoding="utf-8-sig", errors=errors)


def read_label_map(path: str | os.PathLike) -> dict[int, str]:
    """AVA label map -> {action id: name}, in file order.

    Accepts `label { name label_id label_type }` and `item { name id }` blocks (ids and names on their own lines, as
    every AVA label map writes them). Raises ValueError naming the file and line for anything else.
    """
    path = Path(path)
    labels: dict[int, str] = {}
    block = None
    with open_annotation_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if block is None:
                if _BLOCK_START.match(line):
                    block = {"line": line_number}
                    continue
                raise ValueError(f"{path}:{line_number}: expected 'label {{' or 'item {{', got {stripped!r}")
            if stripped == "}":
                if "name" not in block or "id" not in block:
                    raise ValueError(f"{path}:{block['line']}: label block without a name and an id")
                if block["id"] in labels:
                    raise ValueError(f"{path}:{block['line']}: action id {block['id']} appears twice")
                labels[block["id"]] = block["name"]
                block = None
                continue
            match = _FIELD.match(line)
            if not match:
                raise ValueError(f"{path}:{line_number}: unexpected line in a label block: {stripped!r}")
            key, value = match.groups()
            if key == "name":
                if not (len(value) >= 2 and value[0] == value[-1] == '"'):
                    raise ValueError(f"{path}:{line_number}: the name must be quoted, got {value}")
                block["name"] = value[1:-1]
            elif key in ("id", "label_id"):
                try:
                    block["id"] = int(value)
                except ValueError:
                    raise ValueError(f"{path}:{line_number}: the id must be an integer, got {value!r}") from None
    if block is not None:
        raise ValueError(f"{path}:{block['line']}: label block is not closed")
    if not labels:
        raise ValueError(f"{path}: no labels found")
    return labels


def read_keyframe_list(path: str | os.PathLike) -> list[tuple[str, str, int]]:
    """A `video_id,timestamp` CSV (e.g. excluded timestamps) -> [(video_id, timestamp text, line number)].

    Blank lines are skipped; any other row must have two columns and a numeric timestamp.
    """
    path = Path(path)
    keyframes = []
    with open_annotation_text(path) as handle:
        reader = csv.reader(handle)
        for row in reader:
            line_number = reader.line_num
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise ValueError(f"{path}:{line_number}: expected 'video_id,timestamp', got {len(row)} columns")
            try:
                float(row[1])
            except ValueError:
                raise ValueError(f"{path}:{line_number}: timestamp is not a number: {row[1]!r}") from None
            keyframes.append((row[0], row[1], line_number))
    return keyframes


def read_excluded_timestamps(path: str | os.PathLike | None) -> set[tuple[str, float]]:
    """Excluded keyframes `video_id,timestamp` -> {(video_id, timestamp)}; an empty set for None or an empty file."""
    if path is None:
        return set()
    return {(video_id, float(timestamp)) for video_id, timestamp, _ in read_keyframe_list(path)}


# ----------------------------------------------------------------------------------------------------------------
# Box CSVs


@dataclass
class AvaCsvRows:
    """The rows of an AVA box CSV (ground truth or detections), column-wise, in file order.

    N box rows (7 or 8 columns) and K keyframe-only rows (2 columns). Video ids and timestamps are stored once in
    the vocabularies `video_ids` / `timestamps` (timestamps as written, e.g. `"0902"` or `"12.5"`) and referenced
    by index.

    Attributes:
        video_ids: (V,) str, the distinct video ids.
        timestamps: (T,) str, the distinct timestamp texts.
        video_index, timestamp_index: (N,) int32 into the vocabularies.
        boxes: (N, 4) float64, `x1, y1, x2, y2` as written (normalised image coordinates).
        action_ids: (N,) int64, AVA action ids (1-based).
        last_column: (N,) float64, the 8th column (the score of a detection; the person id of a ground-truth box,
            which the official reader also parses as a float) and NaN for a 7-column row.
        line_numbers: (N,) int64, 1-based line of each box row in `source`.
        empty_video_index, empty_timestamp_index: (K,) int32, the 2-column rows.
        empty_line_numbers: (K,) int64.
        source: the file name, or a description of in-memory rows, for error messages.
    """

    video_ids: np.ndarray
    timestamps: np.ndarray
    video_index: np.ndarray
    timestamp_index: np.ndarray
    boxes: np.ndarray
    action_ids: np.ndarray
    last_column: np.ndarray
    line_numbers: np.ndarray
    empty_video_index: np.ndarray
    empty_timestamp_index: np.ndarray
    empty_line_numbers: np.ndarray
    source: str

    @property
    def num_rows(self) -> int:
        """Number of box rows (7 or 8 columns)."""
        return len(self.action_ids)

    @property
    def num_empty_keyframes(self) -> int:
        """Number of 2-column rows."""
        return len(self.empty_line_numbers)

    @property
    def scores(self) -> np.ndarray:
        """(N,) float64 detection scores: the 8th column, 1.0 for a 7-column row (as the official reader)."""
        return np.where(np.isnan(self.last_column), 1.0, self.last_column)

    @property
    def person_ids(self) -> np.ndarray:
        """(N,) int64 ground-truth person ids (8th column), -1 for a 7-column row (AVA-Kinetics)."""
        present = ~np.isnan(self.last_column)
        ids = np.full(self.num_rows, -1, dtype=np.int64)
        ids[present] = self.last_column[present].astype(np.int64)
        fractional = present & (ids != self.last_column)
        if fractional.any():
            first = int(np.flatnonzero(fractional)[0])
            raise ValueError(f"{self.where(first)}: person id must be an integer, got {self.last_column[first]!r}")
        return ids

    def where(self, row: int) -> str:
        """`file:line` of box row `row`, for error messages."""
        return f"{self.source}:{int(self.line_numbers[row])}"

    def keyframes(self) -> list[tuple[str, str]]:
        """(video_id, timestamp text) of every box row, in order (convenience for small files)."""
        return list(zip(self.video_ids[self.video_index].tolist(), self.timestamps[self.timestamp_index].tolist()))

    @classmethod
    def empty(cls, source: str) -> AvaCsvRows:
        """No rows at all (an empty file)."""
        return _rows_from_lists(source, [], [], [], [], [], [], [], [], [], [])

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence], source: str = "<in-memory rows>") -> AvaCsvRows:
        """Rows given as sequences of 2, 7 or 8 values (strings as in a CSV file, or numbers) -> AvaCsvRows.

        Numbers are taken as they are (no text round trip); strings are parsed like the official reader does
        (`float`, `int`). Row `i` is reported as line `i + 1` of `source` in errors.
        """
        parts = list(_parse_rows(((row, index) for index, row in enumerate(rows, start=1)), source))
        return concatenate_rows(parts, source) if parts else cls.empty(source)


def concatenate_rows(parts: Sequence[AvaCsvRows], source: str | None = None) -> AvaCsvRows:
    """Several AvaCsvRows (e.g. the batches of one file) -> one, merging the vocabularies."""
    if not parts:
        raise ValueError("nothing to concatenate")
    video_vocab: dict[str, int] = {}
    timestamp_vocab: dict[str, int] = {}

    def remap(vocab: dict[str, int], words: np.ndarray) -> np.ndarray:
        return np.array([vocab.setdefault(word, len(vocab)) for word in words.tolist()], dtype=np.int32)

    video_index, timestamp_index, empty_video_index, empty_timestamp_index = [], [], [], []
    for part in parts:
        video_map = remap(video_vocab, part.video_ids)
        timestamp_map = remap(timestamp_vocab, part.timestamps)
        video_index.append(video_map[part.video_index] if len(video_map) else part.video_index)
        timestamp_index.append(timestamp_map[part.timestamp_index] if len(timestamp_map) else part.timestamp_index)
        empty_video_index.append(video_map[part.empty_video_index] if len(video_map) else part.empty_video_index)
        empty_timestamp_index.append(
            timestamp_map[part.empty_timestamp_index] if len(timestamp_map) else part.empty_timestamp_index
        )
    return AvaCsvRows(
        video_ids=np.array(list(video_vocab), dtype=object),
        timestamps=np.array(list(timestamp_vocab), dtype=object),
        video_index=np.concatenate(video_index).astype(np.int32),
        timestamp_index=np.concatenate(timestamp_index).astype(np.int32),
        boxes=np.concatenate([part.boxes for part in parts]).reshape(-1, 4),
        action_ids=np.concatenate([part.action_ids for part in parts]).astype(np.int64),
        last_column=np.concatenate([part.last_column for part in parts]).astype(np.float64),
        line_numbers=np.concatenate([part.line_numbers for part in parts]).astype(np.int64),
        empty_video_index=np.concatenate(empty_video_index).astype(np.int32),
        empty_timestamp_index=np.concatenate(empty_timestamp_index).astype(np.int32),
        empty_line_numbers=np.concatenate([part.empty_line_numbers for part in parts]).astype(np.int64),
        source=source if source is not None else parts[0].source,
    )


def read_ava_csv(path: str | os.PathLike) -> AvaCsvRows:
    """An AVA box CSV (ground truth or detections; 2, 7 or 8 columns per row) -> AvaCsvRows, all rows in memory."""
    parts = list(iter_ava_csv(path))
    return concatenate_rows(parts, str(path)) if parts else AvaCsvRows.empty(str(path))


def iter_ava_csv(path: str | os.PathLike, batch_rows: int = _BATCH_ROWS) -> Iterator[AvaCsvRows]:
    """An AVA box CSV -> AvaCsvRows batches in file order (bounded memory for detection files of millions of rows).

    Blank lines are skipped. Raises ValueError naming the file and line of a row that is not 2, 7 or 8 columns,
    whose numbers do not parse (Python's `float` / `int`, as the official reader), or whose box or score is not
    finite.
    """
    path = Path(path)
    source = str(path)
    num_columns = _first_row_width(path)
    if num_columns is None:
        return
    rows_done = 0  # rows (= lines: the fast pass takes no blank line) already yielded
    if num_columns in (7, 8):
        try:
            for batch in _iter_arrow_batches(path, num_columns, first_line=1):
                rows_done += batch.num_rows
                yield batch
            return
        except _ArrowFallback:
            pass  # something pyarrow does not take: read the rest exactly (and find the bad line, if any)
    with open_annotation_text(path) as handle:
        reader = csv.reader(itertools.islice(handle, rows_done, None))
        rows = ((row, rows_done + reader.line_num) for row in reader)
        try:
            yield from _parse_rows(rows, source, batch_rows)
        except UnicodeDecodeError:
            raise ValueError(f"{source}:{rows_done + reader.line_num + 1}: not UTF-8 text") from None


class _ArrowFallback(Exception):
    """pyarrow could not read a block: the slow exact pass takes over from the first unread line."""


def _first_row_width(path: Path) -> int | None:
    """Number of comma-separated fields of the first non-blank line; None for a file without one."""
    with open_annotation_text(path, errors="replace") as handle:
        for line in handle:
            if line.strip():
                return line.count(",") + 1
    return None


def _iter_arrow_batches(path: Path, num_columns: int, first_line: int) -> Iterator[AvaCsvRows]:
    """Fast pass: pyarrow reads blocks with typed columns; raises _ArrowFallback on anything unusual."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = ["video_id", "timestamp", *_COORDINATE_NAMES, "action_id", "last"][:num_columns]
    text = pa.dictionary(pa.int32(), pa.string())
    types = {"video_id": text, "timestamp": text, "action_id": text}
    types.update({name: pa.float64() for name in (*_COORDINATE_NAMES, "last")[: num_columns - 3]})
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, block_size=_ARROW_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise _ArrowFallback() from None
    line = first_line
    source = str(path)
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError):
            raise _ArrowFallback() from None
        if any(column.null_count for column in batch.columns):
            raise _ArrowFallback()
        rows = _rows_from_arrow(batch, num_columns, source, first_line=line)
        if rows is None:
            raise _ArrowFallback()
        line += batch.num_rows
        yield rows


def _rows_from_arrow(batch, num_columns: int, source: str, first_line: int) -> AvaCsvRows | None:
    """One pyarrow RecordBatch -> AvaCsvRows; None when a value needs the exact slow pass (to be parsed or reported)."""
    count = batch.num_rows
    video = batch.column(0)
    timestamp = batch.column(1)
    action = batch.column(6)
    action_words = action.dictionary.to_pylist()
    if "" in video.dictionary.to_pylist():
        return None  # an empty video id: the slow pass reports its line
    try:
        action_values = np.array([int(word) for word in action_words], dtype=np.int64)
        for word in timestamp.dictionary.to_pylist():
            _check_timestamp(word)
    except (ValueError, OverflowError):
        return None
    boxes = np.empty((count, 4), dtype=np.float64)
    for column_number in range(4):
        boxes[:, column_number] = batch.column(2 + column_number).to_numpy(zero_copy_only=False)
    if num_columns == 8:
        last = batch.column(7).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    else:
        last = np.full(count, np.nan)
    if not (np.isfinite(boxes).all() and (num_columns == 7 or np.isfinite(last).all())):
        return None
    empty_int = np.zeros(0, dtype=np.int32)
    return AvaCsvRows(
        video_ids=np.array(video.dictionary.to_pylist(), dtype=object),
        timestamps=np.array(timestamp.dictionary.to_pylist(), dtype=object),
        video_index=video.indices.to_numpy(zero_copy_only=False).astype(np.int32),
        timestamp_index=timestamp.indices.to_numpy(zero_copy_only=False).astype(np.int32),
        boxes=boxes,
        action_ids=action_values[action.indices.to_numpy(zero_copy_only=False)] if count else np.zeros(0, np.int64),
        last_column=last,
        line_numbers=np.arange(first_line, first_line + count, dtype=np.int64),
        empty_video_index=empty_int,
        empty_timestamp_index=empty_int,
        empty_line_numbers=np.zeros(0, dtype=np.int64),
        source=source,
    )


def _check_timestamp(text) -> float:
    """A timestamp must be a finite number of seconds; returns it as float."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"timestamp is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"timestamp is not a finite number: {text!r}")
    return value


def _parse_number(value, kind, what: str):
    """`float`/`int` of a CSV field (as the official reader) or of a number given in memory."""
    if kind is int:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, (float, np.floating)):
            if float(value).is_integer():
                return int(value)
            raise ValueError(f"{what} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be an integer, got {value!r}") from None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} is not a finite number: {value!r}")
    return number


def timestamp_text(timestamp) -> str:
    """A timestamp as CSV text: strings unchanged, integers (and integral floats) `%04d` as in AVA, other floats
    their shortest exact repr (AVA-Kinetics)."""
    if isinstance(timestamp, str):
        return timestamp
    if isinstance(timestamp, (int, np.integer)) and not isinstance(timestamp, bool):
        return "%04d" % int(timestamp)
    if isinstance(timestamp, (float, np.floating)):
        value = float(timestamp)
        if not math.isfinite(value):
            raise ValueError(f"timestamp is not a finite number: {timestamp!r}")
        return "%04d" % int(value) if value.is_integer() else repr(value)
    raise ValueError(f"timestamp must be a string or a number, got {type(timestamp).__name__}")


def _parse_rows(rows: Iterable[tuple[Sequence, int]], source: str, batch_rows: int = _BATCH_ROWS):
    """Slow exact pass: (row, line number) pairs -> AvaCsvRows batches. Blank rows are skipped."""
    columns = [[] for _ in range(10)]
    (video, timestamp, x1, y1, x2, y2, action, last, lines, empties) = columns
    for row, line_number in rows:
        if isinstance(row, str):
            raise ValueError(f"{source}:{line_number}: a row must be a sequence of values, got the string {row!r}")
        if len(row) == 0 or (len(row) == 1 and str(row[0]).strip() == ""):
            continue
        if len(row) not in (2, 7, 8):
            raise ValueError(
                f"{source}:{line_number}: expected 2 (video_id,timestamp), 7 or 8 columns "
                f"(video_id,timestamp,x1,y1,x2,y2,action_id[,score or person_id]), got {len(row)}: {list(row)!r}"
            )
        where = f"{source}:{line_number}"
        video_id = row[0]
        if not isinstance(video_id, str) or not video_id:
            raise ValueError(f"{where}: video id must be a non-empty string, got {video_id!r}")
        try:
            time_text = timestamp_text(row[1])
            _check_timestamp(time_text)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        if len(row) == 2:
            empties.append((video_id, time_text, line_number))
            continue
        try:
            coordinates = [_parse_number(value, float, name) for value, name in zip(row[2:6], _COORDINATE_NAMES)]
            action_id = _parse_number(row[6], int, "action id")
            last_value = _parse_number(row[7], float, "column 8 (score / person id)") if len(row) == 8 else math.nan
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        video.append(video_id)
        timestamp.append(time_text)
        x1.append(coordinates[0])
        y1.append(coordinates[1])
        x2.append(coordinates[2])
        y2.append(coordinates[3])
        action.append(action_id)
        last.append(last_value)
        lines.append(line_number)
        if len(lines) + len(empties) >= batch_rows:
            yield _rows_from_lists(source, *columns)
            for column in columns:
                column.clear()
    if lines or empties:
        yield _rows_from_lists(source, *columns)


def _rows_from_lists(source, video, timestamp, x1, y1, x2, y2, action, last, lines, empties) -> AvaCsvRows:
    video_vocab: dict[str, int] = {}
    timestamp_vocab: dict[str, int] = {}
    video_index = np.array([video_vocab.setdefault(word, len(video_vocab)) for word in video], dtype=np.int32)
    timestamp_index = np.array(
        [timestamp_vocab.setdefault(word, len(timestamp_vocab)) for word in timestamp], dtype=np.int32
    )
    empty_video_index = np.array([video_vocab.setdefault(row[0], len(video_vocab)) for row in empties], np.int32)
    empty_timestamp_index = np.array(
        [timestamp_vocab.setdefault(row[1], len(timestamp_vocab)) for row in empties], dtype=np.int32
    )
    return AvaCsvRows(
        video_ids=np.array(list(video_vocab), dtype=object),
        timestamps=np.array(list(timestamp_vocab), dtype=object),
        video_index=video_index,
        timestamp_index=timestamp_index,
        boxes=np.array([x1, y1, x2, y2], dtype=np.float64).T.reshape(-1, 4).copy(),
        action_ids=np.array(action, dtype=np.int64),
        last_column=np.array(last, dtype=np.float64),
        line_numbers=np.array(lines, dtype=np.int64),
        empty_video_index=empty_video_index,
        empty_timestamp_index=empty_timestamp_index,
        empty_line_numbers=np.array([row[2] for row in empties], dtype=np.int64),
        source=source,
    )


# ----------------------------------------------------------------------------------------------------------------
# Fixed-decimal text, exactly as Python's "%.4f" (what mmaction2 and the official tools write)


def _scaled_round_half_even(values: np.ndarray, decimals: int) -> np.ndarray:
    """|values| * 10**decimals rounded half-to-even on the exact binary value -> int64 (what "%.*f" prints).

    `rint` of the rounded product is right unless the product lies within an ulp of a half; those few values are
    redone with the product formed without rounding error (Dekker's two-product), so the result equals Python's
    correctly rounded decimal formatting for every input.
    """
    magnitude = np.abs(values)
    scale = float(10**decimals)
    product = magnitude * scale
    nearest = np.rint(product)
    remainder = product - nearest  # exact: product and nearest are within 0.5 of each other
    near_half = np.flatnonzero(np.abs(np.abs(remainder) - 0.5) <= np.spacing(product))
    if len(near_half):
        exact_value = magnitude[near_half]
        splitter = 134217729.0  # 2**27 + 1

        def split(number):
            spread = splitter * number
            high = spread - (spread - number)
            return high, number - high

        value_high, value_low = split(exact_value)
        scale_high, scale_low = split(np.float64(scale))
        rounded_product = product[near_half]
        error = ((value_high * scale_high - rounded_product) + value_high * scale_low + value_low * scale_high) + (
            value_low * scale_low
        )
        near_remainder = remainder[near_half]
        nearest[near_half] += ((near_remainder == 0.5) & (error > 0)).astype(np.float64) - (
            (near_remainder == -0.5) & (error < 0)
        ).astype(np.float64)
    return nearest.astype(np.int64)


_MAX_FAST_FORMAT = 2.0**40


def round_decimals(values, decimals: int = 4) -> np.ndarray:
    """float64 values exactly as they read back after being written with "%.{decimals}f" (e.g. 0.12345 -> 0.1234).

    This is the rounding a detections CSV applies (mmaction2 writes `{:.4f}`); scoring rounded values in memory
    gives the number the CSV gives.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size and not (np.isfinite(values).all() and np.abs(values).max() < _MAX_FAST_FORMAT):
        return np.vectorize(lambda value: float("%.*f" % (decimals, value)), otypes=[np.float64])(values)
    rounded = _scaled_round_half_even(values, decimals) / float(10**decimals)
    return np.copysign(rounded, values)


def format_decimals(values, decimals: int = 4):
    """float values -> pyarrow string array, each exactly "%.{decimals}f" % value (vectorised; '-0.0000' included)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size and not (np.isfinite(values).all() and np.abs(values).max() < _MAX_FAST_FORMAT):
        return pa.array(["%.*f" % (decimals, value) for value in values.tolist()], type=pa.string())
    scaled = _scaled_round_half_even(values, decimals)
    unit = 10**decimals
    negative = np.signbit(values)
    if decimals > 0 and not negative.any() and (scaled < 10 * unit).all():
        # every value is "d.ddd...": write the characters directly (one digit before the point)
        width = decimals + 2
        characters = np.empty((len(values), width), dtype=np.uint8)
        characters[:, 0] = 48 + scaled // unit
        characters[:, 1] = 46  # "."
        fraction = scaled % unit
        for position in range(decimals - 1, -1, -1):
            characters[:, 2 + position] = 48 + fraction % 10
            fraction //= 10
        offsets = np.arange(0, width * len(values) + 1, width, dtype=np.int64)
        return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(characters)).cast(
            pa.string()
        )
    whole = pc.cast(pa.array(scaled // unit), pa.string())
    sign = pc.if_else(pa.array(negative), "-", "")
    if decimals == 0:
        return pc.binary_join_element_wise(sign, whole, "")
    fraction = pc.utf8_lpad(pc.cast(pa.array(scaled % unit), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(sign, whole, ".", fraction, "")


def write_detections_csv(path: str | os.PathLike, rows: AvaCsvRows, decimals: int = 4) -> None:
    """Write detection rows `video_id,timestamp,x1,y1,x2,y2,action_id,score` in row order.

    Coordinates and scores are written with `decimals` decimals (4: what mmaction2 writes and what the published
    AVA numbers were scored on); timestamps as their text. Vectorised (12M rows in seconds).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    if rows.num_empty_keyframes:
        raise ValueError(f"{rows.source}: detection rows cannot contain 2-column keyframe rows")
    _check_writable_text(rows)
    columns = {
        "video_id": pa.array(rows.video_ids.tolist(), pa.string()).take(pa.array(rows.video_index)),
        "timestamp": pa.array(rows.timestamps.tolist(), pa.string()).take(pa.array(rows.timestamp_index)),
    }
    for column_number, name in enumerate(_COORDINATE_NAMES):
        columns[name] = format_decimals(rows.boxes[:, column_number], decimals)
    columns["action_id"] = pc.cast(pa.array(rows.action_ids), pa.string())
    columns["score"] = format_decimals(rows.scores, decimals)
    table = pa.table(columns)
    from ..cli.conventions import atomic_output

    with atomic_output(path) as temporary:  # a failure leaves no half-written CSV
        pa_csv.write_csv(
            table, str(temporary), write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none")
        )


def write_groundtruth_csv(path: str | os.PathLike, rows: AvaCsvRows) -> None:
    """Write ground-truth rows: 8 columns (`...,action_id,person_id`), 7 where there is no person id, then the
    2-column keyframe rows. Coordinates are written with their shortest exact text, so they read back unchanged."""
    _check_writable_text(rows)
    person_ids = rows.person_ids
    from ..cli.conventions import atomic_output

    with atomic_output(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in range(rows.num_rows):
            values = [
                rows.video_ids[rows.video_index[row]],
                rows.timestamps[rows.timestamp_index[row]],
                *(repr(float(value)) for value in rows.boxes[row]),
                int(rows.action_ids[row]),
            ]
            if person_ids[row] >= 0:
                values.append(int(person_ids[row]))
            writer.writerow(values)
        for video, timestamp in zip(rows.empty_video_index, rows.empty_timestamp_index):
            writer.writerow([rows.video_ids[video], rows.timestamps[timestamp]])


def _check_writable_text(rows: AvaCsvRows) -> None:
    for word in itertools.chain(rows.video_ids.tolist(), rows.timestamps.tolist()):
        if any(character in word for character in ',"\n\r'):
            raise ValueError(f"{rows.source}: {word!r} cannot be written to an AVA CSV (comma, quote or newline)")

"""Readers (and writers) of the official AVA file formats, shared by the data set builder and the metric.

- label maps (`.pbtxt`) in both formats: `label { name: "..." label_id: N label_type: T }` (AVA v2.2 release) and
  `item { name: "..." id: N }` (ActivityNet evaluator, mmaction2 tests);
- excluded-timestamp CSVs (`video_id,timestamp`).

Every error names the file and the line.
"""

import csv
import os
import re
from pathlib import Path

_BLOCK_START = re.compile(r"^\s*(label|item)\s*\{\s*$")
_FIELD = re.compile(r'^\s*(name|id|label_id|label_type|display_name)\s*:\s*(.+?)\s*$')


def read_label_map(path: str | os.PathLike) -> dict[int, str]:
    """AVA label map -> {action id: name}, in file order.

    Accepts `label { name label_id label_type }` and `item { name id }` blocks (ids and names on their own lines, as
    every AVA label map writes them). Raises ValueError naming the file and line for anything else.
    """
    path = Path(path)
    labels: dict[int, str] = {}
    block = None
    with open(path, encoding="utf-8") as handle:
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


def read_excluded_timestamps(path: str | os.PathLike | None) -> set[tuple[str, float]]:
    """Excluded keyframes `video_id,timestamp` -> {(video_id, timestamp)}; an empty set for None or an empty file."""
    if path is None:
        return set()
    path = Path(path)
    excluded = set()
    with open(path, newline="", encoding="utf-8") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise ValueError(f"{path}:{line_number}: expected 'video_id,timestamp', got {len(row)} columns")
            try:
                excluded.add((row[0], float(row[1])))
            except ValueError:
                raise ValueError(f"{path}:{line_number}: timestamp is not a number: {row[1]!r}") from None
    return excluded

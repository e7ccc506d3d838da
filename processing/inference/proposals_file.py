"""Person boxes from a file: an AVA proposals pickle or an AVA-format CSV (`ProposalsFile`).

- pickle: a dict `"video_id,%04d"` -> `(N, 5)` normalised x1 y1 x2 y2 score (or `(N, 4)`, score 1), read with the
  restricted unpickler (`formats.untrusted_pickle`);
- CSV: `video_id, timestamp, x1, y1, x2, y2[, action_id[, score]]`, normalised; boxes repeated for several actions
  count once, with their highest score; 6 and 7 column rows score 1.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ..formats.ava_files import open_annotation_text
from ..formats.detections import split_keyframe_key
from ..formats.proposals import load_proposals
from ..person_boxes import PersonBoxes, checked_normalised_boxes, person_boxes_from_array
from ..video_keyframes import as_seconds


class ProposalsFile:
    """Person boxes from an AVA proposals pickle or an AVA-format CSV (see the module docstring): a person-box
    source (`processing.person_boxes`).

    `self(video_id, timestamps)` -> `[PersonBoxes]` (empty where the file has none at that keyframe). Keyframes are
    matched on their numeric value (`"0902"` and `902.0` are the same second).
    """

    needs_frames = False

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"proposals file not found: {self.path}")
        if self.path.endswith((".pkl", ".pickle")):
            entries = self._read_pickle()
        else:
            entries = self._read_csv()
        self._entries = entries
        self.video_ids = sorted({video_id for video_id, _ in entries})

    def _read_pickle(self) -> dict:
        data = load_proposals(self.path)
        entries = {}
        for key, value in data.items():
            try:
                video_id, stamp = split_keyframe_key(str(key))
            except ValueError as error:
                raise ValueError(f"{self.path}: key {key!r} is not 'video_id,timestamp'") from error
            second = as_seconds(stamp, f"timestamp of key {key!r}")
            entries[(video_id, second)] = person_boxes_from_array(value, f"{self.path}: entry {key!r}")
        return entries

    def _read_csv(self) -> dict:
        grouped: dict = {}
        with open_annotation_text(self.path) as handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                if not row:
                    continue
                if len(row) not in (6, 7, 8):
                    raise ValueError(
                        f"{self.path}:{line}: expected video_id,timestamp,x1,y1,x2,y2[,action_id[,score]], got {len(row)} columns"
                    )
                try:
                    stamp = Fraction(row[1].strip())
                    box = tuple(float(value) for value in row[2:6])
                    score = float(row[7]) if len(row) == 8 else 1.0
                except ValueError as error:
                    raise ValueError(f"{self.path}:{line}: {error}") from error
                boxes = grouped.setdefault((row[0].strip(), stamp), {})
                boxes[box] = max(score, boxes.get(box, -math.inf))
        entries = {}
        for key, boxes in grouped.items():
            array = np.array(list(boxes), dtype=np.float64).reshape(-1, 4)
            where = f"{self.path}: keyframe {key[0]},{float(key[1])}"
            entries[key] = PersonBoxes(checked_normalised_boxes(array, where), np.array(list(boxes.values())))
        return entries

    def check_video_id(self, video_id: str) -> None:
        if video_id not in self.video_ids:
            shown = ", ".join(self.video_ids[:5]) + (" ..." if len(self.video_ids) > 5 else "")
            raise ValueError(f"{self.path} has no boxes for video id {video_id!r} (it has: {shown}); pass video_id=")

    def __call__(self, video_id: str, timestamps: Sequence[Fraction], frames=None) -> list[PersonBoxes]:
        return [self._entries.get((video_id, Fraction(timestamp)), PersonBoxes.empty()) for timestamp in timestamps]


__all__ = ["ProposalsFile"]

"""AVA v2.2 / AVA-Kinetics annotation files -> one record per annotated keyframe, as mmaction2 builds them.

This is what `mmaction2`'s `AVAKineticsDataset` (1.2.0, `mmaction/datasets/ava_dataset.py`) makes of its files, in
train and test mode alike (its records are the same in both):

- the box CSV rows are grouped by keyframe, in order of first appearance; a keyframe is `(video id, timestamp)`
  and its mmaction2 key `img_key` is `"{video id},{int(timestamp):04d}"`;
- inside a keyframe, rows whose four box numbers are exactly equal are one box, in order of first appearance,
  whose label set is the sorted set of their action ids (all 80 ids are kept) and whose person id is the first row's;
- keyframes listed in the excluded-timestamps CSV are dropped;
- proposals come from a pickle `{"video_id,%04d": (N, 5) [x1, y1, x2, y2, score]}` (normalised): those with
  `score >= min(0.9, best score)`, in file order, at most 1000; a 4-column array is taken as is (first 1000, every
  score 1.0 here; mmaction2 gives no scores); a keyframe without an entry gets the whole frame `[0, 0, 1, 1]`, score 1.

Two kinds of video id appear in the CSVs:

- AVA movies: the 11-character YouTube-style id; the keyframes lie on the movie's timeline, 902..1798 s, and
  mmaction2's frames start at `AVA_TIMESTAMP_START` = 900 s (`timestamp_start`, `timestamp_end` = 900, 1800);
- Kinetics clips: in mmaction2's merged CSV the clip name `{youtube_id}_{start:06d}_{end:06d}` (seconds of the
  YouTube video; `timestamp_start, timestamp_end = start, end`); in the official `kinetics_{train,val}_v1.0.csv` the
  bare YouTube id with a float timestamp, the clip then being the one on disk whose span holds the keyframe
  (`start < timestamp < end`, as mmaction2's `prepare_annotation.py`). Their proposals are keyed by the YouTube id:
  `"{youtube_id},{int(timestamp):04d}"`.

Every error names the file and the line (or the proposal key).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...modeling.ava_labels import NUM_AVA_ACTIONS
from ...processing.formats.ava_files import AvaCsvRows, read_ava_csv, read_excluded_timestamps
from ...processing.clip_reader import AVA_FPS, AVA_TIMESTAMP_END, AVA_TIMESTAMP_START
from ...processing.formats.detections import keyframe_key
from ...processing.formats.proposals import NUM_MAX_PROPOSALS, PERSON_DET_SCORE_THR, select_proposals


_CLIP_NAME = re.compile(r"^(?P<youtube_id>.+)_(?P<start>\d+)_(?P<end>\d+)$")


@dataclass(frozen=True)
class KineticsClip:
    """A Kinetics clip `{youtube_id}_{start:06d}_{end:06d}`: seconds `start`..`end` of the YouTube video."""

    youtube_id: str
    start: int
    end: int

    @property
    def name(self) -> str:
        return f"{self.youtube_id}_{self.start:06d}_{self.end:06d}"

    def holds(self, timestamp: float) -> bool:
        """Whether a keyframe at `timestamp` (seconds of the YouTube video) lies strictly inside the clip."""
        return self.start < timestamp < self.end


def parse_clip_name(name: str) -> KineticsClip | None:
    """`{youtube_id}_{start}_{end}` -> KineticsClip; None for an AVA movie id (11 characters, mmaction2's rule) or a
    name without two trailing integers."""
    if len(name) == 11:
        return None
    match = _CLIP_NAME.match(name)
    if match is None:
        return None
    return KineticsClip(match["youtube_id"], int(match["start"]), int(match["end"]))


def img_key(video_id: str, timestamp: float) -> str:
    """mmaction2's keyframe key `"{video_id},{int(timestamp):04d}"`: the keyframe key of the whole second."""
    return keyframe_key(video_id, int(timestamp))


@dataclass
class KeyframeRecord:
    """One annotated keyframe.

    Attributes:
        video_id: AVA movie id or Kinetics YouTube id.
        clip_name: the video file stem / frame folder name (the movie id, or `{ytid}_{start:06d}_{end:06d}`); ""
            while a keyframe of the official Kinetics CSV has not been matched to a clip on disk.
        timestamp: keyframe second on the annotation timeline (the movie's, or the YouTube video's).
        timestamp_start, timestamp_end: timeline seconds of the first frame / end of the shot (mmaction2's).
        boxes: (G, 4) float64 normalised x1, y1, x2, y2 of the ground-truth people.
        action_ids: G sorted lists of AVA action ids (1..80).
        person_ids: G person ids (-1 for Kinetics).
        proposals: (P, 4) float64 normalised person proposals; proposal_scores: (P,) float64.
        where: `file:line` of the keyframe's first row, for messages.
    """

    video_id: str
    clip_name: str
    timestamp: float
    timestamp_start: float
    timestamp_end: float
    boxes: np.ndarray
    action_ids: list[list[int]]
    person_ids: list[int]
    where: str
    proposals: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    proposal_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def img_key(self) -> str:
        """mmaction2's `img_key` (built from the clip name for Kinetics, as mmaction2's merged CSV does)."""
        return img_key(self.clip_name or self.video_id, self.timestamp)

    @property
    def proposal_key(self) -> str:
        """The key of this keyframe in a proposal pickle (YouTube id for Kinetics)."""
        return img_key(self.video_id, self.timestamp)

    @property
    def is_kinetics(self) -> bool:
        return self.clip_name != self.video_id

    def shot_frames(self, fps: int = AVA_FPS) -> int:
        """Frames of the shot, `(end - start) * fps`: the highest frame number mmaction2's SampleAVAFrames uses (it
        clips to `shot_info[1] - 1` with `shot_info = (1, (end - start) * fps + 1)`), i.e. `read_clip`'s
        `num_frames`."""
        return int(round((self.timestamp_end - self.timestamp_start) * fps))


# ----------------------------------------------------------------------------------------------------------------
# Box CSV -> keyframe records


def read_keyframe_records(
    csv_path: str | os.PathLike,
    *,
    kinetics_clip_ids: bool = False,
    keep_empty_keyframes: bool = False,
) -> list[KeyframeRecord]:
    """An AVA / AVA-Kinetics box CSV -> one KeyframeRecord per keyframe (no proposals yet), in first-appearance order.

    Args:
        csv_path: 8-column AVA rows (`video_id,timestamp,x1,y1,x2,y2,action_id,person_id`), mmaction2's merged rows
            (Kinetics clip names with person id -1), or the official Kinetics CSV (7 columns, float timestamps, and
            2-column rows for keyframes with nobody).
        kinetics_clip_ids: the video ids are bare YouTube ids of Kinetics videos (the official Kinetics CSV): their
            clips are found later (`assign_kinetics_clips`); otherwise AVA movie ids and clip names are told apart
            by `parse_clip_name`.
        keep_empty_keyframes: make records (without boxes) of the 2-column rows; mmaction2 has no such records.

    Raises:
        ValueError naming the file and line of a malformed row, an action id outside 1..80, or a box outside [0, 1]
        or with x2 < x1 / y2 < y1.
    """
    rows = read_ava_csv(csv_path)
    return records_from_rows(rows, kinetics_clip_ids=kinetics_clip_ids, keep_empty_keyframes=keep_empty_keyframes)


def records_from_rows(
    rows: AvaCsvRows, *, kinetics_clip_ids: bool = False, keep_empty_keyframes: bool = False
) -> list[KeyframeRecord]:
    """AvaCsvRows -> KeyframeRecords (see `read_keyframe_records`)."""
    _check_rows(rows)
    timestamp_values = np.array([float(text) for text in rows.timestamps.tolist()], dtype=np.float64)
    # Keyframe = (video, timestamp value): rank the timestamp values so that one int64 identifies a keyframe.
    distinct_times, time_rank = np.unique(timestamp_values, return_inverse=True)
    num_times = max(1, len(distinct_times))
    time_rank = time_rank.astype(np.int64)

    box_keys = rows.video_index.astype(np.int64) * num_times + time_rank[rows.timestamp_index]
    _, first_rows, group_of_row = np.unique(box_keys, return_index=True, return_inverse=True)
    rows_by_group = np.argsort(group_of_row, kind="stable")
    group_bounds = np.concatenate([[0], np.cumsum(np.bincount(group_of_row, minlength=len(first_rows)))])
    person_ids = rows.person_ids
    boxes = rows.boxes
    action_ids = rows.action_ids

    # (first line, record) for every keyframe, sorted by line at the end.
    made: list[tuple[int, KeyframeRecord]] = []
    video_ids = rows.video_ids.tolist()
    timestamps = timestamp_values
    clip_cache: dict[str, KineticsClip | None] = {}
    for group in range(len(first_rows)):
        members = rows_by_group[group_bounds[group] : group_bounds[group + 1]].tolist()
        first = members[0]
        video_id = video_ids[rows.video_index[first]]
        timestamp = float(timestamps[rows.timestamp_index[first]])
        merged: dict[tuple[float, float, float, float], int] = {}
        group_boxes, group_labels, group_persons = [], [], []
        for row in members:
            box = tuple(boxes[row].tolist())
            slot = merged.get(box)
            if slot is None:
                merged[box] = len(group_boxes)
                group_boxes.append(box)
                group_labels.append({int(action_ids[row])})
                group_persons.append(int(person_ids[row]))
            else:
                group_labels[slot].add(int(action_ids[row]))
        record = _new_record(video_id, timestamp, rows.where(first), kinetics_clip_ids, clip_cache)
        record.boxes = np.array(group_boxes, dtype=np.float64).reshape(-1, 4)
        record.action_ids = [sorted(labels) for labels in group_labels]
        record.person_ids = group_persons
        made.append((int(rows.line_numbers[first]), record))

    if keep_empty_keyframes and rows.num_empty_keyframes:
        seen = {(video_ids[rows.video_index[row]], float(timestamps[rows.timestamp_index[row]])) for row in first_rows}
        for index in range(rows.num_empty_keyframes):
            video_id = video_ids[rows.empty_video_index[index]]
            timestamp = float(timestamps[rows.empty_timestamp_index[index]])
            if (video_id, timestamp) in seen:
                continue
            seen.add((video_id, timestamp))
            line = int(rows.empty_line_numbers[index])
            record = _new_record(video_id, timestamp, f"{rows.source}:{line}", kinetics_clip_ids, clip_cache)
            made.append((line, record))
    made.sort(key=lambda item: item[0])
    return [record for _, record in made]


def _new_record(video_id, timestamp, where, kinetics_clip_ids, clip_cache) -> KeyframeRecord:
    if kinetics_clip_ids:
        clip_name, start, end = "", math.nan, math.nan  # matched to a clip on disk later
    else:
        if video_id not in clip_cache:
            clip_cache[video_id] = parse_clip_name(video_id)
        clip = clip_cache[video_id]
        if clip is None:
            clip_name, start, end = video_id, AVA_TIMESTAMP_START, AVA_TIMESTAMP_END
        else:
            clip_name, start, end = video_id, clip.start, clip.end
            video_id = clip.youtube_id
    return KeyframeRecord(
        video_id=video_id,
        clip_name=clip_name,
        timestamp=timestamp,
        timestamp_start=float(start),
        timestamp_end=float(end),
        boxes=np.zeros((0, 4), dtype=np.float64),
        action_ids=[],
        person_ids=[],
        where=where,
    )


def _check_rows(rows: AvaCsvRows) -> None:
    if not rows.num_rows:
        return
    bad = np.flatnonzero((rows.action_ids < 1) | (rows.action_ids > NUM_AVA_ACTIONS))
    if len(bad):
        row = int(bad[0])
        raise ValueError(f"{rows.where(row)}: action id must be 1..{NUM_AVA_ACTIONS}, got {int(rows.action_ids[row])}")
    boxes = rows.boxes
    outside = np.flatnonzero(((boxes < 0) | (boxes > 1)).any(axis=1))
    if len(outside):
        row = int(outside[0])
        raise ValueError(f"{rows.where(row)}: box coordinates must be normalised to [0, 1], got {boxes[row].tolist()}")
    inverted = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if len(inverted):
        row = int(inverted[0])
        raise ValueError(f"{rows.where(row)}: box must be x1, y1, x2, y2 with x1 <= x2 and y1 <= y2, got {boxes[row].tolist()}")
    rows.person_ids  # raises (with file:line) on a fractional person id


# ----------------------------------------------------------------------------------------------------------------
# Excluded keyframes


def read_excluded_keyframes(path: str | os.PathLike | None) -> set[tuple[str, int]]:
    """An excluded-timestamps CSV (`read_excluded_timestamps`) -> {(video id, int timestamp)} (mmaction2 compares
    `int(timestamp)`); empty for None."""
    return {(video_id, int(timestamp)) for video_id, timestamp in read_excluded_timestamps(path)}


def drop_excluded(records: Iterable[KeyframeRecord], excluded: set[tuple[str, int]]) -> list[KeyframeRecord]:
    """Records whose keyframe is not excluded; a keyframe is matched by mmaction2's video id (movie id or clip name)
    or by the YouTube id, and the whole-second timestamp."""
    if not excluded:
        return list(records)
    kept = []
    for record in records:
        second = int(record.timestamp)
        if (record.video_id, second) in excluded or (record.clip_name, second) in excluded:
            continue
        kept.append(record)
    return kept


# ----------------------------------------------------------------------------------------------------------------
# Proposals


def attach_proposals(
    records: Sequence[KeyframeRecord],
    proposals: Mapping | None,
    *,
    source: str = "proposals",
    person_det_score_thr: float = PERSON_DET_SCORE_THR,
    num_max_proposals: int = NUM_MAX_PROPOSALS,
) -> int:
    """Set each record's proposals (`select_proposals`); returns how many keyframes had no entry (whole frame)."""
    without = 0
    for record in records:
        key = record.proposal_key
        if proposals is None or key not in proposals:
            without += 1
        record.proposals, record.proposal_scores = select_proposals(
            proposals, key, source=source, person_det_score_thr=person_det_score_thr,
            num_max_proposals=num_max_proposals,
        )
    return without


def label_map_ids(label_map: Mapping[int, str], source: str | Path) -> list[int]:
    """The action ids of a label map, checked to be AVA ids (1..80)."""
    ids = sorted(label_map)
    bad = [action_id for action_id in ids if not 1 <= action_id <= NUM_AVA_ACTIONS]
    if bad:
        raise ValueError(f"{source}: AVA action ids run from 1 to {NUM_AVA_ACTIONS}, the label map has {bad}")
    return ids

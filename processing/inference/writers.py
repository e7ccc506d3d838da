"""The files of a run: `actions.csv` (official AVA detections), `actions.json` and the annotated video.

- `actions.csv`: `video_id, timestamp, x1, y1, x2, y2, action_id, score` (boxes normalised, the model's action ids,
  4 decimals), one row per (box, action scoring > `action_threshold`) per keyframe, written with
  `formats.detections.write_detections` (mmaction2's row order);
- `actions.json`: per keyframe, per person: box, person score and the `top_k` actions scoring > `label_threshold`
  (`keyframe_actions.results_to_records`);
- optionally an annotated video (`inference.annotated_video`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...modeling import NUM_AVA_ACTIONS, ava_id2label, index_to_action_id
from ..cli.conventions import atomic_output, check_output_dir, check_output_file
from ..formats.detections import MMACTION2_ACTION_THRESHOLD, write_detections
from ..keyframe_actions import KeyframeResult, Timings, results_to_records
from ..video_keyframes import timestamp_value
from .annotated_video import write_annotated_video


def write_actions_csv(path: str | os.PathLike, results: Sequence[KeyframeResult], video_id: str,
                      action_threshold: float | None = MMACTION2_ACTION_THRESHOLD,
                      action_ids: Sequence[int] | None = None) -> int:
    """The official AVA detections CSV (see the module docstring); returns the number of rows. `action_ids[j]` is the
    action id of score column `j` (a model's `config.label_action_ids`; None: `j + 1`)."""
    keyframes = [(video_id, timestamp_value(result.timestamp)) for result in results]
    return write_detections(
        path, keyframes, [result.boxes for result in results], [result.action_scores for result in results],
        action_thr=action_threshold, column_action_ids=action_ids,
    )


def column_labels(id2label: dict | None, action_ids: Sequence[int] | None) -> tuple[dict[int, str], list[int]]:
    """The name and the action id of each score column, from what was given: `(id2label, action_ids)` with
    `id2label` keyed by column index 0..K-1 and `action_ids` of length K.

    Both None: the 80 AVA actions (`ava_id2label()`, ids 1..80). Only `id2label`: it must be AVA's (another label set
    has its own ids: pass `config.label_action_ids`). Only `action_ids`: they must be 1..80 (pass `config.id2label`).
    Otherwise a ValueError naming the argument, as when the two differ in length.
    """
    ava_ids = [index_to_action_id(index) for index in range(NUM_AVA_ACTIONS)]
    if id2label is not None:
        id2label = {int(index): name for index, name in id2label.items()}
    if action_ids is not None:
        action_ids = [int(action_id) for action_id in action_ids]
    if action_ids is None:
        if id2label is not None and id2label != ava_id2label():
            raise ValueError(
                f"action_ids is None, which means the 80 AVA actions, but id2label names {len(id2label)} other "
                "labels: pass action_ids (the model's config.label_action_ids), one per label"
            )
        action_ids = ava_ids
    if id2label is None:
        if action_ids != ava_ids:
            raise ValueError(
                f"id2label is None, which means the 80 AVA actions, but action_ids gives {len(action_ids)} other ids: "
                "pass id2label (the model's config.id2label), one name per action id"
            )
        id2label = ava_id2label()
    if sorted(id2label) != list(range(len(action_ids))):
        raise ValueError(
            f"id2label and action_ids must describe the same score columns: id2label has {len(id2label)} labels "
            f"(indices {sorted(id2label)[:5]}{'...' if len(id2label) > 5 else ''}), action_ids {len(action_ids)} ids"
        )
    return id2label, action_ids


def check_score_columns(results: Sequence[KeyframeResult], num_actions: int) -> None:
    """ValueError unless every result's action scores have `num_actions` columns (the labels given for them)."""
    for result in results:
        if len(result.boxes) and np.shape(result.action_scores)[-1] != num_actions:
            raise ValueError(
                f"keyframe {result.timestamp}: {np.shape(result.action_scores)[-1]} action scores per person, but "
                f"id2label / action_ids describe {num_actions} actions: pass the model's config.id2label and "
                "config.label_action_ids"
            )


@dataclass
class OutputPaths:
    csv: Path
    json: Path
    video: Path | None = None


def write_outputs(results: Sequence[KeyframeResult], output_dir: str | os.PathLike, video: str | os.PathLike, *,
                  video_id: str | None = None, action_threshold: float | None = MMACTION2_ACTION_THRESHOLD,
                  top_k: int | None = 3, label_threshold: float = 0.0, id2label: dict | None = None,
                  action_ids: Sequence[int] | None = None, output_video: str | os.PathLike | None = None,
                  stride=1, lossless: bool = False, timings: Timings | None = None,
                  progress: bool = True) -> OutputPaths:
    """Write `actions.csv`, `actions.json` (and the annotated video when `output_video` is given) into `output_dir`.

    `id2label` / `action_ids`: the name and the data set's action id of each score column, the model's
    `config.id2label` and `config.label_action_ids`. Both None: the 80 AVA actions. One of them may be left out only
    when the other is AVA's (`ava_id2label()`, or the ids 1..80); see `column_labels`.

    Raises:
        ValueError: `id2label` and `action_ids` do not describe the same columns, or the results' score columns are
            not that many.
    """
    id2label, action_ids = column_labels(id2label, action_ids)
    check_score_columns(results, len(action_ids))
    output_dir = check_output_dir(output_dir, "output_dir")
    if output_video is not None:
        check_output_file(output_video, "output_video")
    video_id = video_id if video_id is not None else Path(os.fspath(video)).stem
    paths = OutputPaths(csv=output_dir / "actions.csv", json=output_dir / "actions.json")
    write_actions_csv(paths.csv, results, video_id, action_threshold=action_threshold, action_ids=action_ids)
    records = results_to_records(results, id2label, action_ids, top_k, label_threshold)
    with atomic_output(paths.json) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"video": os.fspath(video), "video_id": video_id, "keyframes": records}, handle, indent=1)
    if output_video is not None:
        began = time.perf_counter()
        with atomic_output(output_video) as temporary:
            write_annotated_video(video, temporary, results, stride=stride, top_k=top_k, threshold=label_threshold,
                                  id2label=id2label, lossless=lossless, output_name=output_video, progress=progress)
        if timings is not None:
            timings.drawing += time.perf_counter() - began
        paths.video = Path(output_video)
    return paths


__all__ = ["OutputPaths", "check_score_columns", "column_labels", "write_actions_csv", "write_outputs"]

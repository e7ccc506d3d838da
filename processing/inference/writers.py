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

    `id2label` / `action_ids`: the model's `config.id2label` and `config.label_action_ids` (None: the 80 AVA actions).
    """
    output_dir = check_output_dir(output_dir, "output_dir")
    if output_video is not None:
        check_output_file(output_video, "output_video")
    id2label = id2label or ava_id2label()
    action_ids = list(action_ids) if action_ids is not None else [index_to_action_id(index) for index in range(NUM_AVA_ACTIONS)]
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


__all__ = ["OutputPaths", "write_actions_csv", "write_outputs"]

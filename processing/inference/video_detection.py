"""`detect_actions`: the keyframe loop of `processing.keyframe_actions` over a video file, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..cli.progress import progress_bar
from ..keyframe_actions import KeyframeResult, detect_keyframe_actions
from ..video_keyframes import probe_video


def detect_actions(video: str | os.PathLike, model, processor=None, person_boxes: Callable | None = None, *,
                   video_id: str | None = None, progress: bool = True, **settings) -> Iterator[KeyframeResult]:
    """Run the action detector over a video file, one keyframe result at a time (a generator).

    Args:
        video: the video file (read with PyAV seeking; never decoded whole).
        video_id: id for the proposals lookup and the CSV (default: the file stem).
        progress: show a progress bar over keyframes (`processing.cli.progress`: only on a terminal, off after
            `set_quiet()`).
        model, processor, person_boxes, settings (`stride`, `start`, `end`, `batch_size`, `frame_interval`,
        `person_threshold`, `short_side`, `timings`): as `processing.keyframe_actions.detect_keyframe_actions`
        (`person_boxes`: a `ProposalsFile`, an `ObjectDetectorBoxes`, a `GivenPersonBoxes` or any person-box source).

    Raises:
        FileNotFoundError: no such video. ValueError: not a readable video, a video id the proposals do not have.
    """
    info = probe_video(video)
    video_id = video_id if video_id is not None else Path(info.path).stem

    def bar(total: int):
        return progress_bar(total=total, unit="keyframe", desc=f"actions in {Path(info.path).name}", enabled=progress)

    return detect_keyframe_actions(info.path, info, model, processor, person_boxes, video_id=video_id, progress=bar,
                                   **settings)


__all__ = ["detect_actions"]

"""A strip chart of who does what over time (`videomae-action-detection ... --timeline timeline.png`).

Linking (`link_tracks`): keyframes are taken in time order; each person box is matched to a track that was last
seen at most `max_gap` keyframes before, greedily by the highest IoU with the track's last box (at least
`iou_threshold`, one box per track per keyframe); an unmatched box starts a new track. So a person keeps one row while
their box moves less than about the box's size between keyframes. It does not re-identify anyone: a person who
leaves for more than `max_gap` keyframes, is not found at a keyframe for longer, or crosses another person's box
closely may come back as a new track or swap tracks; it uses no appearance and no motion model. Without linking
(`link=False`) each box position of a keyframe (first box, second box, ...) is a row, as the detector listed them.

Chart (`plot_timeline`): one lane per track, top to bottom in order of first appearance, marked on the left with the
track's colour; in a lane one row per action among the track's `top_actions` best (by highest score), one cell per
keyframe where the track has a box, its darkness the action's score (0 white, 1 black).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .annotated_video import PALETTE
from ..cli.plotting import new_figure, save_png
from ..video_processing_videomae_action_detection import top_action_order


@dataclass(frozen=True)
class Track:
    """One linked person: per keyframe where they were found, `(keyframe index, box index)`, in time order."""

    track_id: int
    boxes: tuple[tuple[int, int], ...]


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """`(N, M)` IoU of normalised x1 y1 x2 y2 boxes `first (N, 4)` and `second (M, 4)` (0 for empty boxes)."""
    first, second = np.asarray(first, np.float64).reshape(-1, 4), np.asarray(second, np.float64).reshape(-1, 4)
    left = np.maximum(first[:, None, 0], second[None, :, 0])
    top = np.maximum(first[:, None, 1], second[None, :, 1])
    right = np.minimum(first[:, None, 2], second[None, :, 2])
    bottom = np.minimum(first[:, None, 3], second[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    union = area_first[:, None] + area_second[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def link_tracks(results: Sequence, iou_threshold: float = 0.3, max_gap: int = 1, link: bool = True) -> list[Track]:
    """Tracks over `results` (`KeyframeResult`s in time order; see the module docstring for the rule).

    Args:
        iou_threshold: the least IoU between a box and a track's last box to continue the track.
        max_gap: keyframes a track may miss and still continue (1: it must be found at the next keyframe).
        link: False: one track per box position (box i of every keyframe).
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if int(max_gap) != max_gap or max_gap < 1:
        raise ValueError(f"max_gap must be a positive integer, got {max_gap}")
    members: list[list[tuple[int, int]]] = []
    if not link:
        for keyframe, result in enumerate(results):
            for box in range(len(result.boxes)):
                while len(members) <= box:
                    members.append([])
                members[box].append((keyframe, box))
        return [Track(index, tuple(boxes)) for index, boxes in enumerate(members)]
    for keyframe, result in enumerate(results):
        boxes = np.asarray(result.boxes, np.float64).reshape(-1, 4)
        active = [index for index, track in enumerate(members) if keyframe - track[-1][0] <= max_gap]
        taken_tracks, taken_boxes = set(), set()
        if active and len(boxes):
            last = np.stack([np.asarray(results[members[i][-1][0]].boxes, np.float64)[members[i][-1][1]]
                             for i in active])
            overlap = box_iou(last, boxes)
            pairs = sorted(((overlap[a, b], a, b) for a in range(len(active)) for b in range(len(boxes))),
                           key=lambda item: (-item[0], item[1], item[2]))
            for value, a, b in pairs:
                if value < iou_threshold:
                    break
                if a in taken_tracks or b in taken_boxes:
                    continue
                members[active[a]].append((keyframe, b))
                taken_tracks.add(a)
                taken_boxes.add(b)
        for b in range(len(boxes)):
            if b not in taken_boxes:
                members.append([(keyframe, b)])
    return [Track(index, tuple(boxes)) for index, boxes in enumerate(members)]


def plot_timeline(results: Sequence, path: str | os.PathLike, id2label: dict[int, str], top_actions: int = 3,
                  iou_threshold: float = 0.3, max_gap: int = 1, link: bool = True, title: str = "") -> list[Track]:
    """Draw the per-track action strip chart (module docstring) of `results` into the PNG `path`; returns the tracks.

    `id2label`: classifier index -> action name; `top_actions`: rows per track.
    """
    if int(top_actions) != top_actions or top_actions < 1:
        raise ValueError(f"top_actions must be a positive integer, got {top_actions}")
    results = sorted(results, key=lambda result: result.timestamp)
    tracks = link_tracks(results, iou_threshold, max_gap, link)
    times = [float(result.timestamp) for result in results]
    step = float(np.min(np.diff(times))) if len(times) > 1 else 1.0
    lanes = []  # (track, [(class index, scores per member)])
    for track in tracks:
        scores = np.stack([results[k].action_scores[b] for k, b in track.boxes])  # (members, classes)
        best = top_action_order(scores.max(axis=0), int(top_actions), threshold=-np.inf)
        lanes.append((track, [(int(c), scores[:, c]) for c in best]))
    rows = sum(len(actions) for _, actions in lanes) + max(0, len(lanes) - 1)  # a blank row between lanes
    height = max(2.0, 0.22 * rows + 1.3)
    figure = new_figure(10.0, height)
    axes = figure.add_axes((0.33, 0.7 / height, 0.64, 1 - 1.2 / height))
    marker = figure.add_axes((0.005, 0.7 / height, 0.012, 1 - 1.2 / height))
    labels, ticks, row = [], [], rows
    for lane_index, (track, actions) in enumerate(lanes):
        colour = tuple(channel / 255 for channel in PALETTE[lane_index % len(PALETTE)])
        marker.barh(row - (len(actions) - 1) / 2 - 0.5, 1, height=len(actions), color=colour, linewidth=0)
        for class_index, scores in actions:
            row -= 1
            for (keyframe, _), score in zip(track.boxes, scores):
                grey = 1.0 - float(score)
                axes.barh(row, step, left=times[keyframe] - step / 2, height=0.8, color=(grey, grey, grey),
                          linewidth=0)
            ticks.append(row)
            labels.append(f"person {track.track_id + 1}: {id2label.get(class_index, str(class_index + 1))}")
        row -= 1
    marker.set_xlim(0, 1)
    marker.set_ylim(-0.5, rows - 0.5)
    marker.axis("off")
    axes.set_yticks(ticks, labels, fontsize=7)
    axes.set_ylim(-0.5, rows - 0.5)
    if times:
        axes.set_xlim(times[0] - step / 2, times[-1] + step / 2)
    axes.set_xlabel("keyframe (s)")
    heading = title or (f"top {top_actions} actions per person over time ("
                        + (f"IoU-linked tracks, IoU >= {iou_threshold}" if link else "no tracking: box rows") + ")")
    figure.suptitle(heading, fontsize=9)
    save_png(figure, path, heading, f"{len(tracks)} tracks; " + "; ".join(
        f"track {t.track_id + 1}: " + " ".join(f"{times[k]:g}:{b}" for k, b in t.boxes) for t in tracks))
    return tracks


__all__ = ["Track", "box_iou", "link_tracks", "plot_timeline"]

"""The per-class AP bar chart of an AVA frame-mAP evaluation (`videomae-ava-eval --plot`, the training script's
final evaluation).

One horizontal bar per class that has an AP under the protocol (its length: AP in %, on a light-grey track from 0
to 100 so that an AP of 0 still shows its row), grouped by AVA action group (person movement, object manipulation, person
interaction; classes whose id and name are not AVA's go to "other"), sorted by AP within a group, best first. The
title names the mAP, the protocol and the number of classes; classes without an AP (no ground truth) are counted
in a note under the chart, not drawn.

    from videomae_action_detection.training.evaluation.ap_chart import plot_class_ap
    plot_class_ap(outcome, "ap.png")      # outcome: evaluate_ava_frame_map(...)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...processing.cli.plotting import new_figure, save_png
from .action_groups import AVA_ACTION_GROUPS, ava_action_group, group_name
from .ava_frame_map_engine import IOU_THRESHOLD, FrameMapOutcome

# Drawing order, legend name and bar colour (RGB) of each AVA action group (`action_groups.py`), then of the classes
# that are not AVA's.
OTHER = "OTHER"
GROUP_STYLES: dict[str, tuple[str, tuple[int, int, int]]] = {
    **{label_type: (group_name(label_type).replace("_", " "), colour)
       for label_type, colour in zip(AVA_ACTION_GROUPS, ((31, 119, 180), (255, 127, 14), (44, 160, 44)), strict=True)},
    OTHER: ("other", (148, 103, 189)),
}
TRACK_COLOUR = (225, 225, 225)  # the 0-100 track behind every bar
ROW_INCHES = 0.22  # height of one class row
FIGURE_WIDTH_INCHES = 8.0


@dataclass(frozen=True)
class ChartRow:
    """One bar: action id, name, AVA action type (a `GROUP_STYLES` key) and AP in [0, 1]."""

    action_id: int
    name: str
    group: str
    average_precision: float


@dataclass(frozen=True)
class ApChart:
    """What `plot_class_ap` drew: the PNG path, its title, and the bars from top to bottom."""

    path: Path
    title: str
    rows: tuple[ChartRow, ...]
    classes_without_ap: tuple[int, ...]


def action_group(action_id: int, name: str) -> str:
    """The AVA action group of a class (`PERSON_MOVEMENT`, ...), or `OTHER` when id and name are not AVA's."""
    return ava_action_group(action_id, name) or OTHER


def chart_rows(average_precision: Mapping[int, float], class_names: Mapping[int, str]) -> list[ChartRow]:
    """Bars from top to bottom: per group (in `GROUP_STYLES` order) the classes with a finite AP, best first (ties
    by action id)."""
    rows = [
        ChartRow(int(action_id), class_names[action_id], action_group(int(action_id), class_names[action_id]), float(ap))
        for action_id, ap in average_precision.items()
        if not math.isnan(ap)
    ]
    order = list(GROUP_STYLES)
    return sorted(rows, key=lambda row: (order.index(row.group), -row.average_precision, row.action_id))


def chart_title(mean_average_precision: float, protocol: str, num_classes: int,
                iou_threshold: float = IOU_THRESHOLD) -> str:
    shown = "nan" if math.isnan(mean_average_precision) else f"{100 * mean_average_precision:.2f}"
    return f"frame-mAP@{iou_threshold}IoU {shown} ({protocol} protocol, {num_classes} classes)"


def plot_average_precision(average_precision: Mapping[int, float], class_names: Mapping[int, str],
                           mean_average_precision: float, protocol: str, path: str | os.PathLike,
                           iou_threshold: float = IOU_THRESHOLD, subtitle: str = "") -> ApChart:
    """Draw the per-class AP chart (see the module docstring) into the PNG `path`.

    Args:
        average_precision: {action id: AP in [0, 1] or NaN}; class_names: {action id: name}.
        mean_average_precision: the protocol's mean, in [0, 1]; protocol: its name (shown in the title).
        subtitle: an optional second title line (e.g. the data set).

    Returns:
        ApChart (the rows drawn, top to bottom).
    """
    rows = chart_rows(average_precision, class_names)
    without_ap = tuple(sorted(int(a) for a, ap in average_precision.items() if math.isnan(ap)))
    title = chart_title(mean_average_precision, protocol, len(rows), iou_threshold)
    group_breaks = sum(1 for before, after in zip(rows, rows[1:]) if before.group != after.group)
    slots = len(rows) + group_breaks  # one empty slot between groups
    height = max(2.5, slots * ROW_INCHES + 1.6)
    figure = new_figure(FIGURE_WIDTH_INCHES, height)
    axes = figure.add_axes((0.4, 0.9 / height, 0.56, 1 - 1.6 / height))  # 0.9 in below (x axis), 0.7 in above
    positions, slot = [], 0
    for index, row in enumerate(rows):
        if index and row.group != rows[index - 1].group:
            slot += 1
        positions.append(slot)
        slot += 1
    y = [slots - 1 - position for position in positions]  # top to bottom
    colours = [tuple(channel / 255 for channel in GROUP_STYLES[row.group][1]) for row in rows]
    track = tuple(channel / 255 for channel in TRACK_COLOUR)
    axes.barh(y, [100.0] * len(rows), height=0.7, color=track, linewidth=0, zorder=1)
    axes.barh(y, [100 * row.average_precision for row in rows], height=0.7, color=colours, linewidth=0, zorder=2)
    for row_y, row in zip(y, rows):
        axes.text(99, row_y, f"{100 * row.average_precision:.1f}", ha="right", va="center", fontsize=7, zorder=3)
    axes.set_yticks(y, [f"{row.name} ({row.action_id})" for row in rows], fontsize=8)
    axes.set_xlim(0, 100)
    axes.set_ylim(-0.6, slots - 0.4)
    axes.set_xlabel("AP (%)")
    axes.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    from matplotlib.patches import Patch

    present = [group for group in GROUP_STYLES if any(row.group == group for row in rows)]
    handles = [Patch(color=tuple(c / 255 for c in GROUP_STYLES[group][1]),
                     label=f"{GROUP_STYLES[group][0]} ({sum(row.group == group for row in rows)})") for group in present]
    if handles:
        # bottom left, under the class names: clear of the bars and of the x axis
        figure.legend(handles=handles, loc="lower left", ncol=1, fontsize=7, frameon=False, borderaxespad=0.2,
                      handlelength=1.2, labelspacing=0.2, bbox_to_anchor=(0.0, 0.0))
    figure.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    if without_ap:
        figure.text(0.99, 0.05 / height, f"no AP (no ground truth): {len(without_ap)} classes", fontsize=7,
                    ha="right", va="bottom")
    description = "; ".join(f"{row.action_id} {row.name}: {row.average_precision:.6f}" for row in rows)
    saved = save_png(figure, path, title, description)
    return ApChart(saved, title, tuple(rows), without_ap)


def plot_class_ap(outcome: FrameMapOutcome, path: str | os.PathLike, iou_threshold: float = IOU_THRESHOLD,
                  subtitle: str = "") -> ApChart:
    """The per-class AP chart of an evaluation outcome (`evaluate_ava_frame_map`) into the PNG `path`."""
    return plot_average_precision(outcome.average_precision, outcome.class_names, outcome.mean_average_precision,
                                  outcome.protocol.name, path, iou_threshold, subtitle)


__all__ = ["ApChart", "ChartRow", "GROUP_STYLES", "action_group", "chart_rows", "plot_average_precision",
           "plot_class_ap"]

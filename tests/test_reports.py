"""Per-group means are one number under one name wherever they are reported: the Trainer's metrics, the training
summary, `videomae-ava-eval`'s report and the AP chart's groups."""

import json
import math
import re
import warnings

import pytest

from conftest import fixture_path
from videomae_action_detection.modeling import AVA_ACTION_TYPES
from videomae_action_detection.training.evaluation.action_groups import group_means
from videomae_action_detection.training.evaluation.ap_chart import GROUP_STYLES, chart_rows
from videomae_action_detection.training.evaluation.ava_evaluation import evaluate_ava_frame_map
from videomae_action_detection.training.evaluation.ava_protocols import MMACTION2_GROUPS
from videomae_action_detection.training.evaluation.evaluation_command import format_report
from videomae_action_detection.training.report import summary_table

FOLDER = fixture_path("ava_eval", "synthetic_small")
GROUPS = ["person_movement", "object_manipulation", "person_interaction"]


def _outcome(protocol):
    groundtruth = FOLDER / ("groundtruth.csv" if protocol == "activitynet-2020" else "groundtruth_2019.csv")
    excluded = None if protocol == "activitynet-2020" else FOLDER / "excluded_timestamps.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_ava_frame_map(groundtruth, FOLDER / "detections.csv", FOLDER / "label_map.pbtxt", excluded,
                                      protocol)


def _reported(text: str) -> dict[str, str]:
    """{group name: the number printed beside it} of a report's group lines."""
    return {name: match.group(1) for name in GROUPS
            if (match := re.search(rf"^\s+{name}\s+(\S+)", text, flags=re.MULTILINE))}


@pytest.mark.parametrize("protocol", ["activitynet-2020", "mmaction2"])
def test_group_means_have_one_name_and_one_value_in_every_report(protocol):
    outcome = _outcome(protocol)
    means = group_means(outcome)
    assert list(means) == GROUPS
    shown = {name: f"{100 * value:.2f}" for name, value in means.items()}
    assert _reported(summary_table(outcome, protocol)) == shown  # the training run's summary
    assert _reported(format_report(outcome)) == shown  # videomae-ava-eval
    if protocol == "mmaction2":  # mmaction2's own sub-means, as the reference computed them
        expected = json.loads((FOLDER / "expected.json").read_text())["results"]["mmaction2"]
        assert means == pytest.approx({name: expected[name] for name in GROUPS})
    else:  # the mean of the class APs of each group, the groups being mmaction2's id ranges for AVA's classes
        for name, (low, high) in MMACTION2_GROUPS.items():
            values = [ap for action_id, ap in outcome.average_precision.items()
                      if low <= action_id <= high and not math.isnan(ap)]
            assert means[name] == pytest.approx(sum(values) / len(values))


def test_ap_chart_groups_are_the_reported_groups():
    outcome = _outcome("activitynet-2020")
    rows = chart_rows(outcome.average_precision, outcome.class_names)
    assert {row.group for row in rows} == {AVA_ACTION_TYPES[row.action_id] for row in rows}
    assert [GROUP_STYLES[group][0] for group in dict.fromkeys(row.group for row in rows)] == [
        name.replace("_", " ") for name in GROUPS]

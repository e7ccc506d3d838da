"""AVA frame-mAP: the reference fixtures, each protocol's semantics, bad input, CSV round trips, evaluate, CLI."""

import contextlib
import json
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from conftest import REPO_ROOT, fixture_path
from videomae_action_detection.processing.formats.detections import (
    MMACTION2_ACTION_THRESHOLD,
    detections_from_outputs,
    write_detections,
)
from videomae_action_detection.training.evaluation.ava_evaluation import (
    ava_frame_map,
    build_metric_inputs,
    class_ap_key,
    evaluate_ava_frame_map,
    groundtruth_from_references,
    mean_ap_key,
)
from videomae_action_detection.training.evaluation.evaluation_command import main
from videomae_action_detection.processing.formats.ava_files import (
    format_decimals,
    read_ava_csv,
    read_excluded_timestamps,
    read_label_map,
    round_decimals,
    write_detections_csv,
    write_groundtruth_csv,
)
from videomae_action_detection.training.evaluation.ava_frame_map_engine import AvaEvaluationWarning

CASES = ("mmaction2_test_sample", "synthetic_small", "synthetic_val_like")
# protocol -> (expected.json key, ground-truth file, excluded-timestamps file)
PROTOCOL_FILES = {
    "activitynet-2020": ("official_2020", "groundtruth.csv", None),
    "activitynet-2019": ("official_2019", "groundtruth_2019.csv", "excluded_timestamps.csv"),
    "mmaction2": ("mmaction2", "groundtruth_2019.csv", "excluded_timestamps.csv"),
}
MAP = mean_ap_key()
LABELS = {1: "bend", 17: "carry", 80: "watch"}  # one class of each mmaction2 group
BOX = [0.1, 0.1, 0.5, 0.5]


@contextlib.contextmanager
def _no_check():
    """Ignore the evaluator's counted warnings (tests that check them use pytest.warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AvaEvaluationWarning)
        yield


def score(groundtruth, detections, protocol, excluded=None, label_map=LABELS):
    with _no_check():
        return ava_frame_map(groundtruth, detections, label_map, excluded, protocol)


def gt(video, time, box, action, person=0):
    return (video, time, *box, action, person)


def det(video, time, box, action, value):
    return (video, time, *box, action, value)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


# --------------------------------------------------------------------------------------------------------------------
# the reference fixtures


# The references sort tied scores with `np.argsort` (numpy's unstable default), whose order among ties depends on the
# SIMD kernels numpy dispatches to. The fixtures were made where numpy used its AVX2 (X86_V3) sort: on a machine with
# AVX-512, both the reference and this evaluator order some ties differently (synthetic_val_like's mmaction2 classes
# move by ~5e-5). The fixture comparison therefore runs in a process with numpy's AVX-512 kernels switched off.
_AVX512_TARGETS = ("X86_V4", "AVX512_ICL", "AVX512_SPR")

_FIXTURE_SCRIPT = """
import json, sys, warnings
from videomae_action_detection.training.evaluation.ava_evaluation import ava_frame_map
from videomae_action_detection.training.evaluation.ava_frame_map_engine import AvaEvaluationWarning
warnings.simplefilter("ignore", AvaEvaluationWarning)
results = {}
for name, (folder, groundtruth, excluded, protocol) in json.loads(sys.stdin.read()).items():
    results[name] = ava_frame_map(f"{folder}/{groundtruth}", f"{folder}/detections.csv", f"{folder}/label_map.pbtxt",
                                  f"{folder}/{excluded}" if excluded else None, protocol=protocol)
print(json.dumps(results))
"""


def _numpy_avx512_targets() -> list[str]:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [name for name in _AVX512_TARGETS if name in __cpu_dispatch__ and __cpu_features__.get(name)]


@pytest.fixture(scope="module")
def fixture_results():
    """{(case, protocol): our result} computed with numpy's AVX2 sort, as the fixtures were made."""
    jobs = {}
    for case in CASES:
        for protocol, (_, groundtruth, excluded) in PROTOCOL_FILES.items():
            jobs[f"{case}|{protocol}"] = (str(fixture_path("ava_eval", case)), groundtruth, excluded, protocol)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(_numpy_avx512_targets())}
    process = subprocess.run([sys.executable, "-c", textwrap.dedent(_FIXTURE_SCRIPT)], input=json.dumps(jobs),
                             capture_output=True, text=True, timeout=300, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads(process.stdout.strip().splitlines()[-1], parse_constant=lambda name: float(name))
    return {tuple(name.split("|")): value for name, value in results.items()}


@pytest.mark.parametrize("protocol", list(PROTOCOL_FILES))
@pytest.mark.parametrize("case", CASES)
def test_fixture_matches_reference_evaluator(case, protocol, fixture_results):
    folder = fixture_path("ava_eval", case)
    key = PROTOCOL_FILES[protocol][0]
    expected = json.loads((folder / "expected.json").read_text())["results"][key]
    result = fixture_results[case, protocol]
    assert result["protocol"] == protocol
    differences = []
    for name, value in expected.items():
        assert name in result, name
        if value is None or math.isnan(value):
            assert math.isnan(result[name]), name
        else:
            differences.append(abs(result[name] - value))
    assert max(differences) <= 1e-9
    if protocol != "mmaction2":  # official: every label-map class, nothing else
        assert set(result) - {"protocol"} == set(expected)
    else:
        assert MAP not in result


def test_fixture_results_without_avx512_equal_in_process_results_up_to_tie_order(fixture_results):
    """In this process (whatever numpy dispatches) the results equal the fixture process's, except where numpy's
    tie order differs: then only mmaction2's float32 scores on synthetic_val_like may move, and by < 1e-3."""
    for (case, protocol), expected in fixture_results.items():
        folder = fixture_path("ava_eval", case)
        _, groundtruth, excluded = PROTOCOL_FILES[protocol]
        with _no_check():
            result = ava_frame_map(folder / groundtruth, folder / "detections.csv", folder / "label_map.pbtxt",
                                   folder / excluded if excluded else None, protocol=protocol)
        assert result.keys() == expected.keys()
        for name, value in expected.items():
            if name == "protocol":
                continue
            if _numpy_avx512_targets() and (case, protocol) == ("synthetic_val_like", "mmaction2"):
                assert same(result[name], value) or abs(result[name] - value) < 1e-3, (case, protocol, name)
            else:
                assert same(result[name], value), (case, protocol, name)


def test_fixture_val_like_exercises_the_exact_replay():
    """synthetic_val_like has ties at the 50th detection and 4-decimal score ties: some keyframes need the heap."""
    folder = fixture_path("ava_eval", "synthetic_val_like")
    with _no_check():
        outcome = evaluate_ava_frame_map(folder / "groundtruth.csv", folder / "detections.csv",
                                         folder / "label_map.pbtxt", protocol="activitynet-2020")
    assert outcome.counts["keyframes_replayed_exactly"] > 0
    assert outcome.counts["detection_rows_beyond_top_k"] > 0
    assert outcome.counts["detection_rows_on_keyframes_not_evaluated"] > 0


# --------------------------------------------------------------------------------------------------------------------
# protocol semantics, on hand-made keyframes


def test_top50_cap_only_in_official_protocols():
    groundtruth = [gt("v", "0902", BOX, 1)]
    detections = [det("v", "0902", [0.6, 0.6, 0.9, 0.9], 17, 0.9)] * 50 + [det("v", "0902", BOX, 1, 0.8)]
    assert score(groundtruth, detections, "activitynet-2020")[MAP] == 0.0  # the true positive is 51st: cut
    assert score(groundtruth, detections, "activitynet-2019")[MAP] == 0.0
    mmaction2 = score(groundtruth, detections, "mmaction2")
    assert mmaction2["overall"] == 1.0 and math.isnan(mmaction2[class_ap_key("carry")])


def test_tie_at_the_cap_keeps_the_earlier_rows():
    """The official heap keeps the first 50 of 51 equal scores (a later equal score does not replace the minimum)."""
    groundtruth = [gt("v", "0902", BOX, 1)]
    others = [det("v", "0902", [0.6, 0.6, 0.9, 0.9], 17, 0.5)] * 50
    last = others + [det("v", "0902", BOX, 1, 0.5)]
    first = [det("v", "0902", BOX, 1, 0.5)] + others
    assert score(groundtruth, last, "activitynet-2020")[MAP] == 0.0
    assert score(groundtruth, first, "activitynet-2020")[MAP] == 1.0
    assert score(groundtruth, last, "mmaction2")["overall"] == 1.0


def test_class_without_detections_is_zero_officially_and_left_out_by_mmaction2():
    groundtruth = [gt("v", "0902", BOX, 1), gt("v", "0903", BOX, 80)]
    detections = [det("v", "0902", BOX, 1, 0.9)]
    official = score(groundtruth, detections, "activitynet-2020")
    assert official[MAP] == 0.5 and official[class_ap_key("watch")] == 0.0
    assert math.isnan(official[class_ap_key("carry")])  # no ground truth
    mmaction2 = score(groundtruth, detections, "mmaction2")
    assert mmaction2["overall"] == 1.0 and mmaction2["person_movement"] == 1.0
    assert math.isnan(mmaction2["person_interaction"]) and class_ap_key("watch") not in mmaction2


def test_which_keyframes_count():
    groundtruth_2020 = [gt("v", "0902", BOX, 1), ("v", "0903")]  # 0903: evaluated, nobody in it
    groundtruth_2019 = [gt("v", "0902", BOX, 1)]
    detections = [det("v", "0902", BOX, 1, 0.9), det("v", "0903", BOX, 1, 0.95), det("v", "0904", BOX, 1, 0.99)]
    assert score(groundtruth_2020, detections, "activitynet-2020")[MAP] == 0.5  # 0904 is not in the ground truth
    assert score(groundtruth_2019, detections, "activitynet-2019")[MAP] == pytest.approx(1 / 3, abs=0)
    assert score(groundtruth_2019, detections, "activitynet-2019", excluded=[("v", 904)])[MAP] == 0.5
    assert score(groundtruth_2019, detections, "mmaction2")["overall"] == 1.0  # keyframes with ground truth only


def test_excluded_keyframes_ground_truth():
    groundtruth = [gt("v", "0902", BOX, 1), gt("v", "0905", BOX, 1)]
    detections = [det("v", "0902", BOX, 1, 0.9), det("v", "0905", BOX, 1, 0.8)]
    excluded = [("v", "0905")]
    assert score(groundtruth, detections, "activitynet-2019", excluded)[MAP] == 1.0  # dropped with its detections
    assert score(groundtruth, detections, "mmaction2", excluded)["overall"] == 0.5  # still counted as a positive
    with pytest.raises(ValueError, match="takes no excluded timestamps"):
        ava_frame_map(groundtruth, detections, LABELS, excluded, "activitynet-2020")


def test_float_timestamps_of_ava_kinetics():
    groundtruth = [("k1", "12.5", *BOX, 1), ("k2", "3.25")]  # a 7-column row; a 2-column row
    # 12.500000 is keyframe 12.5 (TP); 12.50001 is another keyframe, not in the ground truth (ignored); 3.250 is the
    # empty keyframe 3.25 (FP). AP 0.5 needs all three keys right (1.0 otherwise).
    detections = [det("k1", "12.500000", BOX, 1, 0.9), det("k1", "12.50001", BOX, 1, 0.99),
                  det("k2", "3.250", BOX, 1, 0.95)]
    assert score(groundtruth, detections, "activitynet-2020")[MAP] == 0.5
    with pytest.raises(ValueError, match=r"<in-memory ground truth>:1: .*whole number of seconds"):
        ava_frame_map(groundtruth, detections, LABELS, None, "activitynet-2019")


def test_invalid_detection_boxes():
    groundtruth = [gt("v", "0902", BOX, 1)]
    zero_width = [det("v", "0902", [0.5, 0.1, 0.5, 0.5], 1, 0.95), det("v", "0902", BOX, 1, 0.9)]
    with pytest.warns(AvaEvaluationWarning, match=r"1 detections have x2 <= x1 or y2 <= y1"):
        assert ava_frame_map(groundtruth, zero_width, LABELS, protocol="activitynet-2020")[MAP] == 1.0
    assert score(groundtruth, zero_width, "mmaction2")["overall"] == 0.5  # kept there: a false positive first
    inverted = [det("v", "0902", BOX, 1, 0.9), det("v", "0902", [0.6, 0.1, 0.5, 0.5], 1, 0.95)]
    assert score(groundtruth, inverted, "activitynet-2019")[MAP] == 1.0
    with pytest.raises(ValueError, match=r"<in-memory detections>:2: detection box has x2 < x1"):
        score(groundtruth, inverted, "mmaction2")
    with pytest.raises(ValueError, match=r"<in-memory ground truth>:1: ground-truth box has x2 < x1"):
        score([gt("v", "0902", [0.6, 0.1, 0.5, 0.5], 1)], inverted, "activitynet-2020")


def test_boxes_outside_the_unit_square_are_scored_unclipped():
    groundtruth = [gt("v", "0902", [0.0, 0.0, 0.2, 1.0], 1)]
    detections = [det("v", "0902", [-0.3, 0.0, 0.2, 1.0], 1, 0.9)]  # IoU 0.4 as is; 1.0 if it were clipped
    for protocol in ("activitynet-2020", "mmaction2"):
        with pytest.warns(AvaEvaluationWarning, match=r"1 evaluated detection boxes reach outside \[0, 1\]"):
            result = ava_frame_map(groundtruth, detections, LABELS, protocol=protocol)
        assert result.get(MAP, result.get("overall")) == 0.0


def test_unknown_class_ids_are_counted_and_ignored():
    groundtruth = [gt("v", "0902", BOX, 1), gt("v", "0902", BOX, 2)]
    detections = [det("v", "0902", BOX, 1, 0.9), det("v", "0902", BOX, 2, 0.99), det("v", "0902", BOX, 999, 0.99),
                  det("v", "0902", BOX, 999, 0.5)]
    with pytest.warns(AvaEvaluationWarning) as caught:
        result = ava_frame_map(groundtruth, detections, LABELS, protocol="activitynet-2020")
    messages = [str(warning.message) for warning in caught]
    assert any("3 detections rows have action ids outside the label map (2 distinct: 2, 999)" in m for m in messages)
    assert any("1 ground truth rows have action ids outside the label map (1 distinct: 2)" in m for m in messages)
    assert result[MAP] == 1.0


def test_empty_detections(tmp_path):
    (tmp_path / "detections.csv").write_text("")
    groundtruth = [gt("v", "0902", BOX, 1), gt("v", "0903", BOX, 80)]
    official = score(groundtruth, tmp_path / "detections.csv", "activitynet-2020")
    assert official[MAP] == 0.0 and official[class_ap_key("bend")] == 0.0
    with pytest.warns(AvaEvaluationWarning, match="every mean is NaN"):
        mmaction2 = ava_frame_map(groundtruth, tmp_path / "detections.csv", LABELS, protocol="mmaction2")
    assert math.isnan(mmaction2["overall"])


@pytest.mark.parametrize("protocol", ["activitynet-2020", "mmaction2"])
def test_ground_truth_order_decides_a_shared_best_iou(protocol):
    """A detection with the same IoU (0.6) to two ground-truth boxes takes the one the reference lists first:
    descending person id (the official reader parses it as a score and sorts by it), not file order."""
    first, second = [0.0, 0.0, 0.5, 1.0], [0.25, 0.0, 0.75, 1.0]
    detections = [det("v", "0902", [0.125, 0.0, 0.625, 1.0], 1, 0.9), det("v", "0902", first, 1, 0.8)]
    first_listed = [gt("v", "0902", first, 1, person=1), gt("v", "0902", second, 1, person=0)]
    second_listed = [gt("v", "0902", first, 1, person=0), gt("v", "0902", second, 1, person=1)]
    key = MAP if protocol != "mmaction2" else "overall"
    assert score(first_listed, detections, protocol)[key] == 0.5  # the 0.8 detection finds `first` taken
    assert score(second_listed, detections, protocol)[key] == 1.0


# --------------------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "row, message",
    [
        ("v,0902,0.1,0.1,0.5,0.5,1", None),  # 7 columns: a valid detection row scored 1.0
        ("v,0902,0.1,0.1,0.5", r"det\.csv:2: expected 2 \(video_id,timestamp\), 7 or 8 columns"),
        ("v,0902,0.1,0.1x,0.5,0.5,1,0.9", r"det\.csv:2: y1 is not a number: '0\.1x'"),
        ("v,0902,0.1,0.1,0.5,0.5,1.5,0.9", r"det\.csv:2: action id must be an integer"),
        ("v,0902,0.1,0.1,0.5,0.5,1,nan", r"det\.csv:2: column 8 \(score / person id\) is not a finite number"),
        ("v,09x2,0.1,0.1,0.5,0.5,1,0.9", r"det\.csv:2: timestamp is not a number"),
    ],
)
def test_malformed_detection_row_names_file_and_line(tmp_path, row, message):
    path = tmp_path / "det.csv"
    path.write_text(f"v,0902,0.1,0.1,0.5,0.5,1,0.9\n{row}\nv,0902,0.1,0.1,0.5,0.5,1,0.8\n")
    if message is None:
        assert read_ava_csv(path).scores.tolist() == [0.9, 1.0, 0.8]
        return
    with pytest.raises(ValueError, match=message):
        ava_frame_map([gt("v", "0902", BOX, 1)], path, LABELS)


def test_malformed_row_deep_in_a_large_file(tmp_path):
    """The fast reader's blocks (4 MB) are passed; its fallback resumes at the right line (a blank line included)."""
    good = "abcdefghijk,0902,0.1000,0.1000,0.5000,0.5000,1,0.9000\n"
    path = tmp_path / "det.csv"
    path.write_text(good * 89_999 + "\n" + good * 10_000 + "abcdefghijk,0902,0.1,0.1,0.5,0.5\n" + good)
    with pytest.raises(ValueError, match=r"det\.csv:100001: expected 2"):
        ava_frame_map([gt("abcdefghijk", "0902", BOX, 1)], path, LABELS)
    rows = read_ava_csv(_write(tmp_path / "ok.csv", good * 89_999 + "\n" + good))
    assert rows.num_rows == 90_000 and rows.line_numbers[-1] == 90_001


def _write(path, text):
    path.write_text(text)
    return path


def test_label_map_and_excluded_readers(tmp_path):
    assert read_label_map(fixture_path("ava_eval", "mmaction2_test_sample", "label_map.pbtxt")) == {
        1: "action1", 2: "action2", 3: "action3"}
    assert read_excluded_timestamps(fixture_path("ava_eval", "synthetic_small", "excluded_timestamps.csv")) == {
        ("8OR5LX1odts", 904.0), ("8OR5LX1odts", 918.0), ("J2khX4g_MHE", 933.0)}
    path = _write(tmp_path / "excluded.csv", "v,0902\nv,0903,1\n")
    with pytest.raises(ValueError, match=r"excluded\.csv:2: expected 'video_id,timestamp', got 3 columns"):
        ava_frame_map([gt("v", "0902", BOX, 1)], [det("v", "0902", BOX, 1, 0.9)], LABELS, path, "mmaction2")
    with pytest.raises(ValueError, match="unknown AVA protocol 'official'"):
        ava_frame_map([gt("v", "0902", BOX, 1)], [det("v", "0902", BOX, 1, 0.9)], LABELS, protocol="official")


# --------------------------------------------------------------------------------------------------------------------
# CSV text, round trips, model outputs


def test_round_and_format_like_python_percent_format():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.random(200_000), rng.random(20_000) * 1e-3, (rng.random(20_000) - 0.5) * 4,
        np.round(rng.random(20_000), 4) + 0.00005,  # near the half-way points
        [0.00005, 0.00015, 0.03125, 0.96875, 1e-5, -0.00004, -0.0, 0.0, 0.99995, 0.123456789, 2.5e-5, 1.0, 12.34565],
    ])
    expected_text = ["%.4f" % value for value in values.tolist()]
    assert format_decimals(values, 4).to_pylist() == expected_text  # general path (signs, several digits)
    unit_interval = (values >= 0) & (values < 1)
    assert format_decimals(values[unit_interval], 4).to_pylist() == np.array(expected_text)[unit_interval].tolist()
    assert format_decimals([0.5, 2.25, 1e-9], 2).to_pylist() == ["0.50", "2.25", "0.00"]
    rounded = round_decimals(values, 4)
    assert rounded.view(np.int64).tolist() == np.array([float(text) for text in expected_text]).view(np.int64).tolist()


def _random_outputs(seed, num_keyframes=30, decimals=2):
    rng = np.random.default_rng(seed)
    keys, boxes, scores, gt_boxes, gt_labels = [], [], [], [], []
    for index in range(num_keyframes):
        num_people = int(rng.integers(0, 4))
        corner = rng.random((num_people, 2)) * 0.5
        people = np.concatenate([corner, corner + 0.2 + rng.random((num_people, 2)) * 0.3], axis=1)
        keys.append(f"vid{index % 3},{902 + index:04d}")
        gt_boxes.append(people)
        gt_labels.append([list(rng.choice([1, 17, 80, 2], size=int(rng.integers(1, 3)), replace=False))
                          for _ in range(num_people)])
        detected = np.clip(people + rng.normal(0, 0.03, people.shape), 0, 1) if num_people else np.zeros((0, 4))
        boxes.append(np.concatenate([detected, rng.random((1, 2)).repeat(2, 0).reshape(1, 4) * [1, 1, 1.2, 1.2]]))
        scores.append(np.round(rng.random((len(boxes[-1]), 80)), decimals).astype(np.float32))
    return keys, boxes, scores, gt_boxes, gt_labels


def test_detection_rows_from_outputs_follow_mmaction2_order_and_threshold(tmp_path):
    boxes = [np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9]])]
    scores = [np.array([[0.5, 0.002, 0.0021], [np.float32(0.002), 0.7, 0.1]], dtype=np.float32)]
    rows = detections_from_outputs(["v,0902"], boxes, scores, action_thr=MMACTION2_ACTION_THRESHOLD)
    # per class, per box; scores compared as float32 (strictly greater than 0.002)
    assert rows.action_ids.tolist() == [1, 2, 3, 3]
    assert rows.boxes[:, 0].tolist() == [0.1, 0.5, 0.1, 0.5]
    assert rows.scores.tolist() == [0.5, 0.7, 0.0021, 0.1]
    count = write_detections(tmp_path / "d.csv", ["v,0902"], boxes, scores, action_thr=MMACTION2_ACTION_THRESHOLD)
    assert count == 4
    assert (tmp_path / "d.csv").read_text().splitlines()[:2] == [
        "v,0902,0.1000,0.1000,0.3000,0.3000,1,0.5000", "v,0902,0.5000,0.5000,0.9000,0.9000,2,0.7000"]


def test_csv_round_trip_and_in_memory_scores_equal_csv_scores(tmp_path):
    keys, boxes, scores, gt_boxes, gt_labels = _random_outputs(1, decimals=2)
    rows = detections_from_outputs(keys, boxes, scores)  # rounded to 4 decimals as the CSV will be
    write_detections_csv(tmp_path / "det.csv", rows)
    back = read_ava_csv(tmp_path / "det.csv")
    assert back.boxes.view(np.int64).tolist() == rows.boxes.view(np.int64).tolist()
    assert back.scores.tolist() == rows.scores.tolist()
    assert back.action_ids.tolist() == rows.action_ids.tolist()
    assert back.keyframes() == rows.keyframes()
    groundtruth = groundtruth_from_references(keys, gt_boxes, gt_labels)
    write_groundtruth_csv(tmp_path / "gt.csv", groundtruth)
    gt_back = read_ava_csv(tmp_path / "gt.csv")
    assert gt_back.boxes.tolist() == groundtruth.boxes.tolist() and gt_back.person_ids.tolist() == \
        groundtruth.person_ids.tolist() and gt_back.num_empty_keyframes == groundtruth.num_empty_keyframes > 0
    for protocol in ("activitynet-2020", "activitynet-2019", "mmaction2"):
        in_memory = score(groundtruth, rows, protocol)
        from_files = score(tmp_path / "gt.csv", tmp_path / "det.csv", protocol)
        assert in_memory.keys() == from_files.keys()
        assert all(same(in_memory[key], from_files[key]) for key in in_memory if key != "protocol")


# --------------------------------------------------------------------------------------------------------------------
# evaluate module (fresh process) and command line

_EVALUATE_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import evaluate
from videomae_action_detection.modeling.ava_labels import AVA_ACTION_TYPES, AVA_EVALUATED_ACTION_IDS
from videomae_action_detection.training.evaluation.ava_frame_map import MODULE_PATH
from videomae_action_detection.training.evaluation.ava_evaluation import ava_label_map
from videomae_action_detection.training.evaluation.ava_protocols import MMACTION2_GROUPS
inputs = json.loads(sys.stdin.read())
metric = evaluate.load(MODULE_PATH)
half = len(inputs["predictions"]) // 2
results = {}
for protocol in ("activitynet-2020", "activitynet-2019", "mmaction2"):  # compute() empties the metric
    metric.add_batch(predictions=inputs["predictions"][:half], references=inputs["references"][:half])
    metric.add_batch(predictions=inputs["predictions"][half:], references=inputs["references"][half:])
    results[protocol] = metric.compute(protocol=protocol, label_map={1: "bend", 17: "carry", 80: "watch"})
metric.add_batch(**inputs)
results["default_label_map"] = metric.compute()
group_of = {i: next(g for g, (lo, hi) in MMACTION2_GROUPS.items() if lo <= i <= hi) for i in AVA_ACTION_TYPES}
types = {"person_movement": "PERSON_MOVEMENT", "object_manipulation": "OBJECT_MANIPULATION",
         "person_interaction": "PERSON_INTERACTION"}
print(json.dumps({"results": results, "label_map": list(ava_label_map()) == list(AVA_EVALUATED_ACTION_IDS),
                  "groups_are_label_types": all(types[group_of[i]] == t for i, t in AVA_ACTION_TYPES.items())}))
"""


def test_evaluate_module_in_a_fresh_process():
    keys, boxes, scores, gt_boxes, gt_labels = _random_outputs(2, decimals=3)
    inputs = build_metric_inputs(keys, boxes, scores, gt_boxes, gt_labels)
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_EVALUATE_SCRIPT)], input=json.dumps(inputs), capture_output=True,
        text=True, cwd=REPO_ROOT.parent, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    assert process.returncode == 0, process.stderr[-3000:]
    output = json.loads(process.stdout.strip().splitlines()[-1])
    assert output["label_map"] and output["groups_are_label_types"]
    detections = detections_from_outputs(keys, boxes, scores)
    for protocol in ("activitynet-2020", "activitynet-2019", "mmaction2"):
        groundtruth = groundtruth_from_references(keys, gt_boxes, gt_labels,
                                                  empty_keyframe_rows=protocol == "activitynet-2020")
        expected = score(groundtruth, detections, protocol)
        got = output["results"][protocol]
        assert got.keys() == expected.keys() and got["protocol"] == protocol
        assert all(same(got[key], expected[key]) for key in expected if key != "protocol")
    default = output["results"]["default_label_map"]
    assert default["protocol"] == "activitynet-2020" and len(default) == 62  # protocol, mAP, 60 classes


def test_command_line(tmp_path, capsys):
    folder = fixture_path("ava_eval", "synthetic_small")
    expected = json.loads((folder / "expected.json").read_text())["results"]["mmaction2"]
    arguments = ["--groundtruth", str(folder / "groundtruth_2019.csv"), "--detections", str(folder / "detections.csv"),
                 "--label_map", str(folder / "label_map.pbtxt"), "--excluded_timestamps",
                 str(folder / "excluded_timestamps.csv"), "--protocol", "mmaction2", "--output_json",
                 str(tmp_path / "metrics.json")]
    assert main(arguments) == 0
    printed, errors = capsys.readouterr()
    assert "warning: 37 ground truth rows have action ids outside the label map (19 distinct" in errors
    assert "protocol mmaction2" in printed and f"mAP (overall): {100 * expected['overall']:.2f}" in printed
    assert "person_interaction" in printed and "fall down" in printed
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["protocol"] == "mmaction2" and written["overall"] == expected["overall"]
    bad = _write(tmp_path / "bad.csv", "v,0902,0.1,0.1,0.5,0.5,1,0.9\nv,0902,0.1\n")
    assert main(["--groundtruth", str(folder / "groundtruth.csv"), "--detections", str(bad), "--label_map",
                 str(folder / "label_map.pbtxt")]) == 2
    assert "bad.csv:2: expected 2" in capsys.readouterr().err
    process = subprocess.run(
        [sys.executable, "-m", "videomae_action_detection.training.evaluation.evaluation_command", "--groundtruth",
         str(folder / "groundtruth.csv"), "--detections", str(folder / "detections.csv"), "--label_map",
         str(folder / "label_map.pbtxt")], capture_output=True, text=True, timeout=120,
    )
    official = json.loads((folder / "expected.json").read_text())["results"]["official_2020"]
    assert process.returncode == 0, process.stderr
    assert f"mAP ({MAP}): {100 * official[MAP]:.2f}" in process.stdout

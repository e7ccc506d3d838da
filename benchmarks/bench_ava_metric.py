"""Benchmark: AVA frame-mAP on an AVA-val-sized synthetic set (seeded), against the official script on a subset.

    python benchmarks/bench_ava_metric.py [--num_keyframes 50000] [--official_script PATH/get_ava_performance.py]

The set: `num_keyframes` keyframes (AVA v2.2 val has about 50k) over movies of 897 keyframes (timestamps
0902..1798), 4 people per keyframe with 1-3 actions each (the 80 AVA ids; the evaluator keeps the 60 of the label
map), 4 detected boxes per keyframe (the people's boxes, jittered) scored for the 60 evaluated classes with 4
decimals (50k keyframes -> 12M detection rows, ~0.7 GB of CSV), 1% excluded keyframes, 1% keyframes without
people (2-column rows in the 2020 file), 1% keyframes with detections and no annotation at all.

Each protocol is timed in a fresh process (reading the CSVs included): wall time and peak resident memory
(VmHWM; the process after its imports is reported too). With
`--official_script` (ActivityNet `Evaluation/get_ava_performance.py`, not a dependency of this project; it is run
from where it is, with numpy >= 1.24 aliases restored), the official script and ours score the first
`--subset_fraction` of the keyframes and the numbers are compared.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

KEYFRAMES_PER_MOVIE = 897  # 0902..1798
PEOPLE_PER_KEYFRAME = 4


def generate(directory: Path, num_keyframes: int, seed: int) -> dict:
    """Write groundtruth.csv (2020, 2-column rows), groundtruth_2019.csv, excluded_timestamps.csv, detections.csv."""
    from videomae_action_detection.modeling.ava_labels import AVA_ACTIONS, AVA_EVALUATED_ACTION_IDS
    from videomae_action_detection.processing.formats.detections import write_detections
    from videomae_action_detection.processing.formats.ava_files import AvaCsvRows, write_groundtruth_csv

    rng = np.random.default_rng(seed)
    num_movies = -(-num_keyframes // KEYFRAMES_PER_MOVIE)
    movies = [f"movie{index:03d}_{rng.integers(1 << 30):08x}" for index in range(num_movies)]
    keyframes = [(movies[index // KEYFRAMES_PER_MOVIE], 902 + index % KEYFRAMES_PER_MOVIE)
                 for index in range(num_keyframes)]
    status = rng.random(num_keyframes)
    excluded = status < 0.01
    empty = (status >= 0.01) & (status < 0.02)
    unannotated = (status >= 0.02) & (status < 0.03)  # detections, but not in any ground-truth file
    num_people = np.where(empty, 0, PEOPLE_PER_KEYFRAME)
    all_ids = np.array([action_id for action_id, _, _ in AVA_ACTIONS])
    evaluated_ids = np.array(AVA_EVALUATED_ACTION_IDS)

    corner = rng.random((num_keyframes, PEOPLE_PER_KEYFRAME, 2)) * 0.6
    size = 0.1 + rng.random((num_keyframes, PEOPLE_PER_KEYFRAME, 2)) * 0.35
    gt_boxes = np.round(np.concatenate([corner, corner + size], axis=2), 3)
    gt_rows = []
    gt_labels = []
    for index, (video, timestamp) in enumerate(keyframes):
        labels_here = []
        for person in range(num_people[index]):
            actions = rng.choice(all_ids, size=rng.integers(1, 4), replace=False)
            labels_here.append(actions)
            for action_id in actions.tolist():
                gt_rows.append((video, "%04d" % timestamp, *gt_boxes[index, person].tolist(), action_id, person))
        gt_labels.append(labels_here)
    empty_rows = [(keyframes[index][0], "%04d" % keyframes[index][1]) for index in np.flatnonzero(empty)]
    index_of = {(video, "%04d" % timestamp): index for index, (video, timestamp) in enumerate(keyframes)}
    gt_rows = [row for row in gt_rows if not unannotated[index_of[(row[0], row[1])]]]
    rows_2019 = AvaCsvRows.from_rows(gt_rows, "groundtruth_2019")
    write_groundtruth_csv(directory / "groundtruth_2019.csv", rows_2019)
    kept_2020 = [row for row in gt_rows if not excluded[index_of[(row[0], row[1])]]]
    write_groundtruth_csv(directory / "groundtruth.csv", AvaCsvRows.from_rows(kept_2020 + empty_rows, "groundtruth"))
    with open(directory / "excluded_timestamps.csv", "w") as handle:
        for index in np.flatnonzero(excluded):
            handle.write("%s,%04d\n" % keyframes[index])

    # detections: the people's boxes jittered, a score per evaluated class (higher for the true actions)
    det_boxes, det_scores = [], []
    noise = rng.normal(0.0, 0.02, size=(num_keyframes, PEOPLE_PER_KEYFRAME, 4))
    column_of = {action_id: column for column, action_id in enumerate(evaluated_ids.tolist())}
    base_scores = rng.beta(0.6, 6.0, size=(num_keyframes, PEOPLE_PER_KEYFRAME, len(evaluated_ids)))
    boost = rng.random((num_keyframes, PEOPLE_PER_KEYFRAME, 3))
    for index in range(num_keyframes):
        jittered = np.clip(gt_boxes[index] + noise[index], 0.0, 1.0)
        corners = jittered[:, :2], jittered[:, 2:]
        boxes = np.concatenate([np.minimum(*corners), np.maximum(*corners)], axis=1)
        scores = base_scores[index].copy()
        for person, actions in enumerate(gt_labels[index]):
            for slot, action_id in enumerate(actions.tolist()):
                if action_id in column_of:
                    scores[person, column_of[action_id]] = 0.3 + 0.7 * boost[index, person, slot]
        det_boxes.append(boxes)
        full = np.zeros((PEOPLE_PER_KEYFRAME, 80), dtype=np.float32)
        full[:, evaluated_ids - 1] = scores
        det_scores.append(full)
    start = time.perf_counter()
    keys = [f"{video},{timestamp:04d}" for video, timestamp in keyframes]
    num_rows = write_detections(directory / "detections.csv", keys, det_boxes, det_scores,
                                action_ids=evaluated_ids.tolist())
    write_seconds = time.perf_counter() - start
    return {"keyframes": num_keyframes, "groundtruth_rows": len(gt_rows), "detection_rows": num_rows,
            "excluded": int(excluded.sum()), "empty": int(empty.sum()), "write_seconds": write_seconds,
            "detections_csv_mb": (directory / "detections.csv").stat().st_size / 1e6}


def subset(directory: Path, fraction: float) -> Path:
    """The first `fraction` of the keyframes (in file order) of every file, in `directory/subset`."""
    target = directory / "subset"
    target.mkdir(exist_ok=True)
    (target / "label_map.pbtxt").write_text(_label_map_file(directory).read_text())
    with open(directory / "detections.csv") as handle:
        keys = []
        seen = set()
        for line in handle:
            key = line.split(",", 2)[:2]
            key = f"{key[0]},{key[1]}"
            if key not in seen:
                seen.add(key)
                keys.append(key)
    wanted = set(keys[: max(1, int(len(keys) * fraction))])
    for name in ("detections.csv", "groundtruth.csv", "groundtruth_2019.csv", "excluded_timestamps.csv"):
        with open(directory / name) as source, open(target / name, "w") as sink:
            for line in source:
                parts = line.rstrip("\n").split(",")
                if f"{parts[0]},{parts[1]}" in wanted:
                    sink.write(line)
    return target


def measure(directory: Path, protocol: str) -> dict:
    """Run in a fresh process: score the files of `directory` under `protocol`; time and peak memory."""
    from videomae_action_detection.training.evaluation.ava_evaluation import evaluate_ava_frame_map, outcome_to_metrics

    label_map = _label_map_file(directory)
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    groundtruth = directory / ("groundtruth.csv" if protocol == "activitynet-2020" else "groundtruth_2019.csv")
    excluded = None if protocol == "activitynet-2020" else directory / "excluded_timestamps.csv"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = evaluate_ava_frame_map(groundtruth, directory / "detections.csv", label_map, excluded, protocol)
    seconds = time.perf_counter() - start
    metrics = outcome_to_metrics(outcome)
    return {"protocol": protocol, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
            "baseline_rss_mb": baseline, "metrics": {k: v for k, v in metrics.items() if k != "protocol"},
            "replayed_keyframes": outcome.counts.get("keyframes_replayed_exactly", 0)}


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: VmHWM (reset by exec, unlike ru_maxrss, which a child inherits
    from the parent it was forked from)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _label_map_file(directory: Path) -> Path:
    """The 60 evaluated AVA classes as a label map file (written with the set, so that the timed processes do not
    import the model package for them)."""
    path = directory / "label_map.pbtxt"
    if not path.exists():
        from videomae_action_detection.training.evaluation.ava_evaluation import ava_label_map

        path.write_text("".join(f'item {{\n  name: "{name}"\n  id: {action_id}\n}}\n'
                                for action_id, name in ava_label_map().items()))
    return path


# numpy >= 1.24 removed the aliases the official code uses (anchors.md 4.4); the script itself is not copied.
_OFFICIAL_RUNNER = """
import runpy, sys, time, numpy, numpy.ma
numpy.bool, numpy.float, numpy.NAN = bool, float, numpy.nan
script = sys.argv[1]
evaluation = script.rsplit("/", 1)[0] if "/" in script else "."
sys.path[:0] = [evaluation, evaluation + "/ava"]
sys.argv = [script] + sys.argv[2:]
start = time.perf_counter()
runpy.run_path(script, run_name="__main__")
print("OFFICIAL_SECONDS", time.perf_counter() - start)
print("OFFICIAL_PEAK_KB", open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


def run_official(script: Path, directory: Path) -> dict:
    label_map = _label_map_file(directory)
    command = [sys.executable, "-O", "-c", _OFFICIAL_RUNNER, str(script), "-l", str(label_map),
               "-g", str(directory / "groundtruth.csv"), "-d", str(directory / "detections.csv")]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the official script failed:\n{result.stderr[-3000:]}")
    printed = result.stdout[: result.stdout.rindex("OFFICIAL_SECONDS")]
    printed = re.sub(r"np\.float64\(([^()]*)\)", r"\1", printed.strip())  # numpy 2 reprs: np.float64(0.5)
    metrics = ast.literal_eval(re.sub(r"\bnan\b", "None", printed))
    seconds = float(result.stdout[result.stdout.rindex("OFFICIAL_SECONDS"):].split()[1])
    peak_mb = int(result.stdout[result.stdout.rindex("OFFICIAL_PEAK_KB"):].split()[1]) / 1024
    return {"seconds": seconds, "process_seconds": wall, "peak_rss_mb": peak_mb,
            "metrics": {k: (math.nan if v is None else float(v)) for k, v in metrics.items()}}


def _fresh(directory: Path, protocol: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--_measure", protocol, "--workdir", str(directory)],
                            capture_output=True, text=True)
    if output.returncode != 0:
        raise RuntimeError(output.stderr[-3000:])
    return json.loads(output.stdout.strip().splitlines()[-1])


def _max_difference(ours: dict, reference: dict) -> float:
    worst = 0.0
    for key, value in reference.items():
        mine = ours[key]
        if math.isnan(value) or math.isnan(mine):
            worst = max(worst, 0.0 if math.isnan(value) and math.isnan(mine) else math.inf)
        else:
            worst = max(worst, abs(mine - value))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_keyframes", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="where the CSVs go (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse the CSVs already in --workdir")
    parser.add_argument("--protocols", default="activitynet-2020,activitynet-2019,mmaction2")
    parser.add_argument("--official_script", default=None, help="ActivityNet Evaluation/get_ava_performance.py")
    parser.add_argument("--subset_fraction", type=float, default=0.1)
    parser.add_argument("--_measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._measure:
        print(json.dumps(measure(Path(args.workdir), args._measure)))
        return 0
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(args.workdir or temporary)
        directory.mkdir(parents=True, exist_ok=True)
        if args.reuse and (directory / "detections.csv").exists():
            stats = json.loads((directory / "stats.json").read_text())
        else:
            start = time.perf_counter()
            stats = generate(directory, args.num_keyframes, args.seed)
            stats["generate_seconds"] = time.perf_counter() - start
            _label_map_file(directory)
            (directory / "stats.json").write_text(json.dumps(stats))
        print(f"set: {stats['keyframes']} keyframes, {stats['groundtruth_rows']} ground-truth rows, "
              f"{stats['detection_rows']} detection rows ({stats['detections_csv_mb']:.0f} MB CSV, written in "
              f"{stats['write_seconds']:.1f} s by write_detections); {os.cpu_count()} CPU cores")
        rows = []
        for protocol in args.protocols.split(","):
            result = _fresh(directory, protocol)
            rows.append(result)
            mean = result["metrics"].get("PascalBoxes_Precision/mAP@0.5IOU", result["metrics"].get("overall"))
            print(f"  ours {protocol:<17} {result['seconds']:7.1f} s   peak RSS {result['peak_rss_mb']:7.0f} MB "
                  f"(at start {result['baseline_rss_mb']:.0f} MB)   mAP {mean:.6f}   "
                  f"replayed keyframes {result['replayed_keyframes']}")
        if args.official_script:
            part = subset(directory, args.subset_fraction)
            official = run_official(Path(args.official_script), part)
            ours = _fresh(part, "activitynet-2020")
            difference = _max_difference(ours["metrics"], official["metrics"])
            full = next((row for row in rows if row["protocol"] == "activitynet-2020"), None)
            print(f"\nactivitynet-2020 on the first {args.subset_fraction:.0%} of the keyframes:")
            print(f"  official script {official['seconds']:8.1f} s   peak RSS {official['peak_rss_mb']:6.0f} MB   "
                  f"(running the script; its process took {official['process_seconds']:.1f} s)")
            print(f"  ours            {ours['seconds']:8.1f} s   peak RSS {ours['peak_rss_mb']:6.0f} MB   -> "
                  f"{official['seconds'] / ours['seconds']:.0f}x faster")
            print(f"  max |difference| over mAP and {len(official['metrics']) - 1} class APs: {difference:.3g}")
            if full:
                estimate = official["seconds"] / args.subset_fraction
                print(f"  full set: ours {full['seconds']:.1f} s vs official ~{estimate:.0f} s (subset time / "
                      f"{args.subset_fraction}) -> ~{estimate / full['seconds']:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

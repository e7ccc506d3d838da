"""How long preparing an AVA-sized annotation set takes (not a test).

Generates an AVA-train-like set (default 200k keyframes: movies of 897 keyframes 902..1798, 1-4 people per keyframe
with 1-3 actions each as separate CSV rows, like ava_train_v2.2.csv; a proposal pickle with 1-12 scored boxes per
keyframe, like ava_dense_proposals_train.FAIR.recall_93.9.pkl; an excluded-timestamps file; one frame folder per
movie), then times, for the `ava` config:

- reading the box CSV, grouping rows into keyframe records, loading the proposal pickle (restricted unpickler) and
  selecting proposals, for the train split alone;
- `load_ava_dataset` from scratch (both splits: validation is a copy of train here, so the set is prepared twice
  over: 2 x N keyframes written by datasets), and again from the cache.

    python benchmarks/bench_dataset_prepare.py [--keyframes 200000] [--work-dir DIR]
"""

import argparse
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from videomae_action_detection.processing.formats.proposals import load_proposals
from videomae_action_detection.training.data.ava_annotations import (
    attach_proposals,
    drop_excluded,
    read_excluded_keyframes,
    records_from_rows,
)
from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
from videomae_action_detection.processing.formats.ava_files import read_ava_csv

KEYFRAMES_PER_MOVIE = 897  # 902 .. 1798


def generate(data_dir: Path, num_keyframes: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    annotations = data_dir / "annotations"
    annotations.mkdir(parents=True)
    num_movies = -(-num_keyframes // KEYFRAMES_PER_MOVIE)
    movies = [f"m{index:010d}" for index in range(num_movies)]  # 11 characters, like AVA ids
    lines, proposals, excluded = [], {}, []
    made = 0
    for movie in movies:
        for timestamp in range(902, 1799):
            if made == num_keyframes:
                break
            made += 1
            people = rng.integers(1, 5)
            boxes = np.round(np.sort(rng.random((people, 2, 2)), axis=1).reshape(people, 4), 3)
            for person, box in enumerate(boxes):
                box_text = ",".join(f"{value:.3f}" for value in box)
                for action in rng.choice(80, size=rng.integers(1, 4), replace=False) + 1:
                    lines.append(f"{movie},{timestamp:04d},{box_text},{action},{person}\n")
            count = rng.integers(1, 13)
            scored = np.concatenate([np.sort(rng.random((count, 2, 2)), axis=1).reshape(count, 4), rng.random((count, 1))], axis=1)
            proposals[f"{movie},{timestamp:04d}"] = np.round(scored, 6)
            if rng.random() < 0.001:
                excluded.append(f"{movie},{timestamp:04d}\n")
    for split in ("train", "val"):
        (annotations / f"ava_{split}_v2.2.csv").write_text("".join(lines))
        (annotations / f"ava_{split}_excluded_timestamps_v2.2.csv").write_text("".join(excluded))
        with open(annotations / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl", "wb") as handle:
            pickle.dump(proposals, handle, protocol=4)
    for movie in movies:
        folder = data_dir / "rawframes" / movie
        folder.mkdir(parents=True)
        (folder / "img_00001.jpg").write_bytes(b"\xff\xd8\xff\xd9")  # only its presence is checked
    return {"rows": len(lines), "keyframes": made, "movies": num_movies, "proposal_keys": len(proposals)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keyframes", type=int, default=200_000)
    parser.add_argument("--num-proc", type=int, default=None, help="processes writing the examples (load_ava_dataset num_proc)")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed at the end")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_dataset_"))
    data_dir = work / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    try:
        start = time.perf_counter()
        sizes = generate(data_dir, args.keyframes)
        print(f"generated {sizes} in {time.perf_counter() - start:.1f} s", flush=True)
        annotations = data_dir / "annotations"
        timings = []

        def timed(name, function):
            begin = time.perf_counter()
            result = function()
            timings.append((name, time.perf_counter() - begin))
            return result

        rows = timed("read CSV (train)", lambda: read_ava_csv(annotations / "ava_train_v2.2.csv"))
        records = timed("group rows into keyframes", lambda: records_from_rows(rows))
        records = timed(
            "drop excluded keyframes",
            lambda: drop_excluded(records, read_excluded_keyframes(annotations / "ava_train_excluded_timestamps_v2.2.csv")),
        )
        proposals = timed("load proposal pickle", lambda: load_proposals(annotations / "ava_dense_proposals_train.FAIR.recall_93.9.pkl"))
        timed("select proposals", lambda: attach_proposals(records, proposals))
        timed(
            f"load_ava_dataset, from scratch (train + validation, num_proc={args.num_proc})",
            lambda: load_ava_dataset(data_dir, "ava", cache_dir=work / "cache", num_proc=args.num_proc),
        )
        dataset = timed("load_ava_dataset, from the cache", lambda: load_ava_dataset(data_dir, "ava", cache_dir=work / "cache"))
        assert len(dataset["train"]) == len(records)

        print(f"\n{sizes['keyframes']} keyframes, {sizes['rows']} CSV rows, {sizes['movies']} movies, "
              f"{len(dataset['train'])} train examples after exclusions\n")
        width = max(len(name) for name, _ in timings)
        print(f"| {'step':<{width}} | {'seconds':>8} |")
        print(f"|{'-' * (width + 2)}|{'-' * 10}|")
        for name, seconds in timings:
            print(f"| {name:<{width}} | {seconds:8.2f} |")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Publishing beyond models: the evaluate module as a self-contained Hub-ready folder, the data set to the Hub."""

import json
import os
import subprocess
import sys
from pathlib import Path


from conftest import run_without_package

_RANDOM_INPUTS = """
import numpy as np
rng = np.random.default_rng(7)
predictions, references = [], []
for index in range(12):
    key = f"vid{index % 3},{900 + index:04d}"
    boxes = np.sort(rng.random((3, 4)), axis=1)[:, [0, 1, 2, 3]].round(3)
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
    predictions.append({"key": key, "boxes": boxes.tolist(), "scores": rng.random((3, 80)).round(3).tolist()})
    references.append({"key": key, "boxes": boxes[:2].tolist(),
                       "labels": [[int(a) for a in rng.choice([1, 12, 14, 17, 79, 80], 2, replace=False)]
                                  for _ in range(2)]})
"""


def _package_results():
    import evaluate

    from videomae_action_detection.training.evaluation.ava_frame_map import MODULE_PATH

    namespace: dict = {}
    exec(_RANDOM_INPUTS, namespace)
    results = {}
    for protocol in ("activitynet-2020", "mmaction2"):
        metric = evaluate.load(MODULE_PATH)
        metric.add_batch(predictions=namespace["predictions"], references=namespace["references"])
        results[protocol] = metric.compute(protocol=protocol)
    return results


def test_metric_folder_loads_offline_without_the_package_and_gives_the_same_numbers(tmp_path):
    from videomae_action_detection.training.evaluation.metric_folder import build_metric_folder, main

    folder = build_metric_folder(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == [
        "README.md", "ava_evaluation.py", "ava_files.py", "ava_frame_map.py", "ava_frame_map_engine.py",
        "ava_labels.py", "ava_protocols.py", "detections.py", "progress.py", "requirements.txt"]
    card = (folder / "README.md").read_text()
    for heading in ("## How to use", "## Inputs and outputs", "## Protocols", "## Citation"):
        assert heading in card
    assert "`activitynet-2019`" in card and "Gu et al." in card and "predictions:" in card
    assert "evaluate>=0.4.6" in (folder / "requirements.txt").read_text().splitlines()
    process = run_without_package(_RANDOM_INPUTS + f"""
import json, warnings
import evaluate
warnings.simplefilter("ignore")
results = {{}}
for protocol in ("activitynet-2020", "mmaction2"):
    metric = evaluate.load({str(folder)!r})
    metric.add_batch(predictions=predictions, references=references)
    results[protocol] = metric.compute(protocol=protocol)
print(json.dumps(results))
""")
    got = json.loads(process.stdout.strip().splitlines()[-1])
    expected = json.loads(json.dumps(_package_results()))
    assert got == expected
    assert got["activitynet-2020"]["PascalBoxes_Precision/mAP@0.5IOU"] > 0
    assert main([str(tmp_path)]) == 2  # never overwrites


def test_dataset_push_to_a_fake_hub_round_trips(tmp_path):
    import datasets
    from huggingface_hub import DatasetCard

    from fake_hub import FakeHub
    from test_progress import TINY_TOY
    from videomae_action_detection.training.data import ava_dataset
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    data_dir = generate_toy_dataset(tmp_path / "toy", seed=5, style="ava_kinetics", progress=False, **TINY_TOY)
    with FakeHub() as hub:
        env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN="hf_fake_token", HF_HUB_DISABLE_XET="1", HF_HUB_OFFLINE="0",
                   HF_HOME=str(tmp_path / "hf_home"), NO_PROXY="127.0.0.1,localhost", PYTHONDONTWRITEBYTECODE="1")
        out = ""
        for config in ("ava", "ava_kinetics"):
            result = subprocess.run(
                [sys.executable, "-m", "videomae_action_detection.training.data.dataset_command", str(data_dir), "--config",
                 config, "--cache_dir", str(tmp_path / "cache"), "--quiet", "--push_to_hub", "tester/toy-ava"],
                env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
            assert result.returncode == 0, result.stderr[-3000:]
            out += result.stdout
        files = dict(hub.files["tester/toy-ava"])
    assert f"pushed ava_kinetics to tester/toy-ava: {hub.endpoint}/tester/toy-ava/commit/" in out
    assert hub.repos == ["tester/toy-ava"]
    prepared = {config: ava_dataset.load_ava_dataset(data_dir, config, cache_dir=tmp_path / "cache")
                for config in ("ava", "ava_kinetics")}
    assert set(files) == {"README.md"} | {f"{config}/{split}-00000-of-00001.parquet"
                                          for config, splits in prepared.items() for split in splits}
    # what was pushed loads back as it was prepared (paths relative to the data folder)
    local = tmp_path / "downloaded"
    for name, content in files.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(content)
    prepared = prepared["ava_kinetics"]
    loaded = datasets.load_dataset(str(local), "ava_kinetics")
    assert datasets.get_dataset_config_names(str(local)) == ["ava", "ava_kinetics"]
    assert sorted(loaded) == sorted(prepared)
    for split in prepared:
        assert len(loaded[split]) == len(prepared[split]) > 0
        assert loaded[split]["boxes"] == prepared[split]["boxes"]
        assert loaded[split].features["labels"] == prepared[split].features["labels"]
        assert loaded[split][0]["video_path"] == str(Path(prepared[split][0]["video_path"]).relative_to(data_dir))
    card = DatasetCard((local / "README.md").read_text())
    assert card.data.license == "cc-by-4.0" and "spatio-temporal-action-detection" in card.data.tags
    for config in ("ava", "ava_kinetics"):
        assert f"## Config `{config}`" in card.text
    counts = f"| validation | {len(prepared['validation'])} | {sum(len(b) for b in prepared['validation']['boxes'])} |"
    assert counts in card.text and "## Licence" in card.text and "`proposals`" in card.text

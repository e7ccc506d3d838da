"""Publishing beyond models: the evaluate module as a self-contained Hub-ready folder, the data set to the Hub."""

import json

import numpy as np
import pytest

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

    from videomae_action_detection.training.ava_frame_map import MODULE_PATH

    namespace: dict = {}
    exec(_RANDOM_INPUTS, namespace)
    results = {}
    for protocol in ("activitynet-2020", "mmaction2"):
        metric = evaluate.load(MODULE_PATH)
        metric.add_batch(predictions=namespace["predictions"], references=namespace["references"])
        results[protocol] = metric.compute(protocol=protocol)
    return results


def test_metric_folder_loads_offline_without_the_package_and_gives_the_same_numbers(tmp_path):
    from videomae_action_detection.training.metric_folder import build_metric_folder, main

    folder = build_metric_folder(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == [
        "README.md", "ava_evaluation.py", "ava_files.py", "ava_frame_map.py", "ava_frame_map_engine.py",
        "ava_labels.py", "ava_protocols.py", "progress.py", "requirements.txt"]
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

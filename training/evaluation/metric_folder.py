"""The `ava_frame_map` evaluate module as a self-contained, Hub-ready folder (a metric Space's files).

    python -m videomae_action_detection.training.evaluation.metric_folder OUTPUT_PARENT   # writes OUTPUT_PARENT/ava_frame_map/
    evaluate.load("OUTPUT_PARENT/ava_frame_map")                                 # offline, without this package

The folder holds `ava_frame_map.py` (the module of `training/evaluation/ava_frame_map/`, its import of this package made
relative), the files it computes with, copied unchanged but for their imports (`ava_evaluation.py`, `ava_files.py`,
`detections.py`, `ava_frame_map_engine.py`, `ava_protocols.py`, `ava_labels.py`, `progress.py`: the one source stays this package;
the folder is generated, never edited), `README.md` (a card: inputs, outputs, protocols, citation) and
`requirements.txt`. evaluate copies only the files the module imports directly, so the module imports each of them.
Upload the folder as a Space named `ava_frame_map` (`huggingface_hub.upload_folder(repo_type="space", ...)`) and
`evaluate.load("<user>/ava_frame_map")` loads it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ...modeling import ava_labels
from ...processing.cli import progress
from ...processing.formats import ava_files, detections
from . import ava_evaluation, ava_frame_map_engine, ava_protocols
from .ava_frame_map import MODULE_PATH

METRIC_NAME = "ava_frame_map"
# copied file -> (source module, [(import text in the package, import text in the folder)])
COPIED_MODULES = {
    "ava_evaluation.py": (ava_evaluation, [("from ...processing.cli.progress import", "from .progress import"),
                                           ("from ...processing.formats.ava_files import", "from .ava_files import"),
                                           ("from ...processing.formats.detections import", "from .detections import"),
                                           ("from videomae_action_detection.modeling.ava_labels import",
                                            "from .ava_labels import")]),
    "ava_files.py": (ava_files, []),
    "detections.py": (detections, []),
    "ava_frame_map_engine.py": (ava_frame_map_engine, [("from ...processing.formats.ava_files import",
                                                        "from .ava_files import")]),
    "ava_protocols.py": (ava_protocols, []),
    "ava_labels.py": (ava_labels, []),
    "progress.py": (progress, []),
}
REQUIREMENTS = ("evaluate>=0.4.6", "datasets>=5.0", "numpy>=1.26", "pyarrow>=15", "tqdm>=4.66")
# the module's imports of this package -> the folder's
_PACKAGE_IMPORTS = [("from videomae_action_detection.processing.formats.detections import", "from .detections import"),
                    ("from videomae_action_detection.training.evaluation.ava_evaluation import", "from .ava_evaluation import")]
# evaluate copies the files a module imports at the top level, one `from .name import` line each (no comment on
# those lines: evaluate reads a trailing comment as a URL to download)
_DEPENDENCY_IMPORTS = "# evaluate copies the files this module imports, so it imports each file it needs\n" + "".join(
    f"from .{name[:-3]} import __name__ as _{name[:-3]}\n" for name in COPIED_MODULES if name != "ava_evaluation.py"
)


def _rewritten(text: str, replacements, file_name: str) -> str:
    for before, after in replacements:
        if before not in text:
            raise RuntimeError(f"{file_name}: expected the import {before!r} (update COPIED_MODULES)")
        text = text.replace(before, after)
    leftover = [line for line in text.splitlines()
                if re.match(r"^(from|import)\s+(\.\.|videomae_action_detection)", line)]
    if leftover:
        raise RuntimeError(f"{file_name}: top-level imports of the package remain: {leftover}")
    return text


def module_text() -> str:
    """`ava_frame_map.py` of the folder: the package's module with relative imports of the copied files."""
    text = (Path(MODULE_PATH) / f"{METRIC_NAME}.py").read_text(encoding="utf-8")
    text = _rewritten(text, _PACKAGE_IMPORTS, f"{METRIC_NAME}.py")
    anchor = _PACKAGE_IMPORTS[0][1]
    return text.replace(anchor, _DEPENDENCY_IMPORTS + anchor, 1)


def card_text() -> str:
    """README.md: YAML metadata (title, tags) and what the module takes, returns, its protocols and citation."""
    from .ava_frame_map.ava_frame_map import _DESCRIPTION, _KWARGS_DESCRIPTION, AvaFrameMap

    info = AvaFrameMap()._info()
    return f"""---
title: AVA frame-mAP
tags:
- evaluate
- metric
- spatio-temporal-action-detection
description: AVA frame-mAP@0.5IoU under the official ActivityNet (2020, 2019) or mmaction2 protocol.
---

# AVA frame-mAP@0.5IoU

{_DESCRIPTION.strip()}

## How to use

```python
import evaluate

metric = evaluate.load("{METRIC_NAME}")     # this folder, or the Space holding it
metric.add_batch(predictions=[{{"key": "1j20qq1JyX4,0902", "boxes": [[0.1, 0.2, 0.5, 0.9]], "scores": [[0.9] * 80]}}],
                 references=[{{"key": "1j20qq1JyX4,0902", "boxes": [[0.1, 0.2, 0.5, 0.9]], "labels": [[12, 79]]}}])
metric.compute(protocol="activitynet-2020")
```

## Inputs and outputs

```
{_KWARGS_DESCRIPTION.strip()}
```

## Protocols

{chr(10).join(f"- `{name}`: {protocol.description}" for name, protocol in ava_protocols.PROTOCOLS.items())}

A result always names its protocol; the three give different numbers for the same detections.

## Requirements

`requirements.txt`: {", ".join(f"`{item}`" for item in REQUIREMENTS)}. Generated by
`videomae_action_detection.training.evaluation.metric_folder` from the `videomae-action-detection` package (edit the package,
not this folder).

## Citation

{info.citation}

References: {", ".join(info.reference_urls)}
"""


def build_metric_folder(parent: str | Path) -> Path:
    """Write the Hub-ready metric folder `parent/ava_frame_map/` (see the module docstring); returns its path.

    Raises:
        FileExistsError: the folder exists already (nothing is overwritten).
    """
    folder = Path(parent) / METRIC_NAME
    if folder.exists():
        raise FileExistsError(f"{folder} exists already: remove it or choose another parent folder")
    texts = {f"{METRIC_NAME}.py": module_text(), "README.md": card_text(),
             "requirements.txt": "".join(item + "\n" for item in REQUIREMENTS)}
    for file_name, (module, replacements) in COPIED_MODULES.items():
        texts[file_name] = _rewritten(Path(module.__file__).read_text(encoding="utf-8"), replacements, file_name)
    staging = folder.with_name(folder.name + ".partial")
    staging.mkdir(parents=True)
    for file_name, text in texts.items():
        (staging / file_name).write_text(text, encoding="utf-8")
    staging.rename(folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the ava_frame_map evaluate module as a self-contained, "
                                     "Hub-ready folder PARENT/ava_frame_map/.")
    parser.add_argument("parent", help="folder to create ava_frame_map/ in (it must not exist yet)")
    args = parser.parse_args(argv)
    try:
        folder = build_metric_folder(args.parent)
    except (OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"metric folder: {folder} (evaluate.load({str(folder)!r}))")
    return 0


if __name__ == "__main__":
    sys.exit(main())

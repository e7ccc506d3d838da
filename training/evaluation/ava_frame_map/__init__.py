"""The `ava_frame_map` evaluate module: `evaluate.load(<this folder>)` (the folder name equals the script name)."""

from pathlib import Path

MODULE_PATH = str(Path(__file__).resolve().parent)

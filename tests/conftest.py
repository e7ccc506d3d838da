"""Shared test helpers: fixture paths, tiny model configs, a Python process that cannot import this package."""

import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def fixture_path(*parts: str) -> Path:
    """A path under `tests/fixtures/` (the reference outputs the tests compare with); fails loudly when missing."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"reference fixture missing: {path}")
    return path


def load_model_case(case: str) -> dict:
    """The tensors of `tests/fixtures/mmaction2_model/<case>/`, `pixel_values` (NCTHW float32) included.

    The stored copy leaves the inputs out: they are regenerated from the seed the reference used and checked
    against the SHA-256 recorded in `regenerated_inputs.json`.
    """
    import torch
    from safetensors.torch import load_file

    folder = fixture_path("mmaction2_model", case)
    tensors = load_file(str(folder / "tensors.safetensors"))
    for name, recipe in json.loads((folder / "regenerated_inputs.json").read_text()).items():
        torch.manual_seed(recipe["seed"])
        tensor = torch.randn(recipe["shape"], dtype=torch.float32)
        digest = hashlib.sha256(tensor.numpy().tobytes()).hexdigest()
        if digest != recipe["sha256_of_float32_bytes"]:
            raise AssertionError(f"{folder}: regenerated {name} differs from the reference input (sha256 {digest})")
        tensors[name] = tensor
    return tensors


def load_npy_xz(path: Path):
    """A `.npy.xz` fixture (an xz-compressed numpy array) as the array."""
    import numpy as np

    return np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes())), allow_pickle=False)


def tiny_config(**overrides):
    """A VideoMAEActionDetectionConfig small enough for CPU tests (hidden 32, 1 layer, 4 frames)."""
    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig

    fields = dict(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        num_frames=4,
        image_size=32,
        drop_path_rate=0.0,
    )
    fields.update(overrides)
    return VideoMAEActionDetectionConfig(**fields)


# Prepended to code run by `run_without_package`: any import of this package fails, as on a machine that only has
# transformers, torch and torchvision.
_BLOCK_PACKAGE = """
import importlib.abc, sys
class _BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "videomae_action_detection" or name.startswith("videomae_action_detection."):
            raise ImportError(f"{name} is blocked in this process")
        return None
sys.meta_path.insert(0, _BlockPackage())
try:
    import videomae_action_detection.modeling
except ImportError:
    pass
else:
    raise SystemExit("the package could still be imported")
"""


def run_without_package(code: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python process where `videomae_action_detection` cannot be imported.

    Returns the completed process; raises AssertionError with its output when it fails.
    """
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_PACKAGE + textwrap.dedent(code)],
        cwd=cwd or REPO_ROOT.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"isolated process failed:\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"
    return result


@pytest.fixture
def tiny_model():
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    import torch

    torch.manual_seed(0)
    return VideoMAEForActionDetection(tiny_config()).eval()


def load_model_case_inputs(case: str):
    """An mmaction2_model fixture case -> (its folder, its tensors, pixel_values (B, T, C, H, W), per-clip boxes)."""
    folder = fixture_path("mmaction2_model", case)
    tensors = load_model_case(case)
    pixel_values = tensors["pixel_values"].permute(0, 2, 1, 3, 4)  # fixture NCTHW -> our NTCHW
    boxes = [tensors[f"proposals_{i}"] for i in range(pixel_values.shape[0])]
    return folder, tensors, pixel_values, boxes


def flat_logits(logits, boxes):
    """(B, N, C) padded logits -> (sum N_i, C) in mmaction2's clip-by-clip order."""
    import torch

    return torch.cat([logits[b, : len(clip_boxes)] for b, clip_boxes in enumerate(boxes)])

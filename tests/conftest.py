"""Shared test helpers: fixture paths, tiny model configs, a Python process that cannot import this package."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def fixture_path(*parts: str) -> Path:
    """A path under `../shared/fixtures/` (relative to the repo root); fails loudly when the fixtures are missing."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"reference fixture missing: {path} (the tests need ../shared/fixtures beside the repo)")
    return path


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

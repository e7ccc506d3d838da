"""Throughput tooling: the GPU benchmark's CPU smoke test, batched clip reading, the transcoded video store."""

import os
import re
import subprocess
import sys

from conftest import REPO_ROOT


def test_bench_gpu_runs_on_cpu_tiny():
    """`python benchmarks/bench_gpu.py --device cpu --tiny` prints every (shape, mode, pass) row and the data path."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--device", "cpu", "--tiny"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    rows = re.findall(r"^\| tiny \| (\S+) \| (\S+) \| (forward|train step) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% \|",
                      result.stdout, flags=re.MULTILINE)
    assert {(shape, mode, kind) for shape, mode, kind, *_ in rows} == {
        (shape, mode, kind) for shape in ("4x64x64", "4x64x112") for mode in ("fp32", "bf16", "bf16+compile")
        for kind in ("forward", "train step")
    }
    assert all(float(clips_per_s) > 0 for *_, clips_per_s, _, _ in rows)
    assert "MFU against 989 TFLOP/s" in result.stdout
    data = re.findall(r"^\| (\d+) \| ([\d.]+) \|$", result.stdout, flags=re.MULTILINE)
    assert [workers for workers, _ in data] == ["0", "1"] and all(float(rate) > 0 for _, rate in data)

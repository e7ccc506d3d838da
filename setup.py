"""Installs the three code folders as `videomae_action_detection.modeling`, `.processing` and `.training`."""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
CODE_FOLDERS = ("modeling", "processing", "training")


def subpackages(folder: str) -> dict[str, str]:
    """`videomae_action_detection.<folder>[.<sub>...]` -> its directory, for every directory with an __init__.py."""
    mapping = {}
    for init_file in sorted((HERE / folder).rglob("__init__.py")):
        relative = init_file.parent.relative_to(HERE)
        mapping[".".join(("videomae_action_detection",) + relative.parts)] = relative.as_posix()
    return mapping


package_dir = {}
for folder in CODE_FOLDERS:
    package_dir.update(subpackages(folder))

setup(
    name="videomae-action-detection",
    version="0.1.0",
    description="VideoMAE spatio-temporal action detection (AVA) for transformers, reproducing mmaction2",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir=package_dir,
    packages=sorted(package_dir),
    package_data={package: ["*.json", "*.md", "*.pbtxt"] for package in package_dir},
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "transformers>=5.0,<6",
        "accelerate>=1.1",
        "datasets>=5.0",
        "evaluate>=0.4.6",
        "huggingface-hub>=1.0",
        "av>=14",
        "safetensors>=0.4",
        "numpy>=1.26",
        "pyarrow>=15",
        "tqdm>=4.66",
        "pillow>=9.2",
    ],
    extras_require={
        "test": ["pytest>=8"],
        # ONNX export (torch.onnx.export(..., dynamo=True)) and running it
        "export": ["onnx>=1.17", "onnxscript>=0.5", "onnxruntime>=1.20"],
        # pictures: per-class AP charts, action timelines
        "viz": ["matplotlib>=3.8"],
    },
    entry_points={
        "console_scripts": [
            "videomae-ava-eval=videomae_action_detection.training.evaluation.evaluation_command:main",
            "videomae-action-detection=videomae_action_detection.processing.inference.command:main",
            "videomae-ava-dataset=videomae_action_detection.training.data.dataset_command:main",
            "videomae-ava-toy-dataset=videomae_action_detection.training.data.toy_dataset:main",
            "videomae-ava-train=videomae_action_detection.training.run_action_detection:console_main",
            "videomae-ava-export=videomae_action_detection.training.publishing.onnx_export:main",
        ]
    },
)

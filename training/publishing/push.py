"""Uploading a converted folder to the Hub (the endpoint of `HF_ENDPOINT`; token from `HF_TOKEN` / `hf auth
login`)."""

from __future__ import annotations

from pathlib import Path


def push_folder(folder: Path, repo_id: str, private: bool = False, checkpoint_name: str = "") -> str:
    """Create `repo_id` (if needed) on the Hub of `HF_ENDPOINT` and upload `folder` in one commit; the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        repo_type="model",
        commit_message=f"Upload {repo_id.split('/')[-1]} converted from {checkpoint_name}" if checkpoint_name else None,
    )
    return str(commit.commit_url if hasattr(commit, "commit_url") else commit)

"""What every command of the package shares.

- `conventions`: argparse help with defaults, `--log_level`, `--quiet`, one `error:` line and exit status 2 for the
  errors a command expects, output paths checked before the work and written atomically.
- `progress`: the one tqdm progress-bar style (shown on a terminal only, off with `--quiet`).
- `plotting`: matplotlib figures for the pictures (optional `viz` extra).
"""

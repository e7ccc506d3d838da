"""What every command line of this project shares: help that shows defaults, `--log_level`, one `error:` line with
exit status 2 for the errors a user can cause, output checks before the work, and outputs written atomically.

- `HelpFormatter`: argparse help with each option's default (and the description's line breaks kept).
- `add_log_level(parser)` / `configure_logging(level)`: `--log_level {debug,info,warning,error}` (default info).
- `run_command(body, args)`: runs `body(args)`; an expected error (`expected_errors()`: OSError, ValueError,
  pickle.UnpicklingError incl. `UntrustedPickleError`, PyAV's errors) prints `error: <message>` on stderr and returns
  2, with no traceback; anything else is a bug and keeps its traceback.
- `check_output_file(path, option)` / `check_output_dir(path, option)`: fail early (before any model work) when an
  output cannot be written, naming the option and the path.
- `atomic_output(path)`: a context manager giving a temporary path in the same folder (same suffix, so container
  formats still follow it); on success it is renamed onto `path` (`os.replace`), on failure removed, so a failure
  never leaves a half-written file beside a good one.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

LOG_LEVELS = ("debug", "info", "warning", "error")
EXIT_USAGE_OR_INPUT_ERROR = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows `(default: ...)` after every option's help; keeps the description's own line breaks."""


def add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log_level", default="info", choices=LOG_LEVELS,
                        help="how much the command logs on stderr")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(getattr(logging, level.upper()))


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors bad input, files or outputs cause (reported as one line), as opposed to bugs (tracebacks)."""
    errors: list[type[BaseException]] = [OSError, ValueError, pickle.UnpicklingError, EOFError]
    try:
        import av

        errors.append(av.error.FFmpegError)
    except ImportError:
        pass
    return tuple(errors)


def run_command(body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """`body(args)` with logging set from `args.log_level`; expected errors -> `error: ...` on stderr, status 2."""
    configure_logging(getattr(args, "log_level", "info"))
    try:
        return body(args)
    except expected_errors() as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and os.fspath(error.filename) not in text:
        text = f"{error.filename}: {text}"
    return " ".join(text.split())


def check_output_dir(path: str | os.PathLike, option: str) -> Path:
    """Create `path` (and parents) if needed and check it is a writable folder; OSError naming `option` if not."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{option} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{option} {folder}: cannot create the folder ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {folder}: the folder is not writable")
    return folder


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Check `path` can be written: its folder exists and is writable and it is not a folder itself."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{option} {target}: is a folder, expected a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{option} {target}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {target}: the folder {parent} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(f"{option} {target}: the file is not writable")
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it onto `path` on success, remove it on failure."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                         dir=target.parent if str(target.parent) else ".")
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """`Path(path).write_text(text)` through `atomic_output`."""
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


__all__ = [
    "EXIT_USAGE_OR_INPUT_ERROR",
    "HelpFormatter",
    "LOG_LEVELS",
    "add_log_level",
    "atomic_output",
    "check_output_dir",
    "check_output_file",
    "configure_logging",
    "expected_errors",
    "run_command",
    "write_text_atomic",
]

"""What every command does at its edges: expected faults end in one line,
and output files appear whole or not at all.

A researcher who hands a command a missing file, a corrupt model or a folder
it cannot write gets `error: <file>: <problem>` on stderr and exit status 1,
not a traceback (docs/faults.md lists the faults each command was tried
with). Anything else is a bug and keeps its traceback.
"""

import contextlib
import gc
import json
import os
import sys
import tempfile
from typing import Callable, Iterator

from absl import app


class Fault(Exception):
  """An expected fault whose message names the file and the problem."""


# The faults a command reports in one line: bad input (ValueError), files
# that are missing, unreadable or unwritable (OSError, including a full
# disk), and the project's own (Fault).
EXPECTED = (Fault, ValueError, OSError)


def one_line(error: BaseException) -> str:
  """`error`'s message on one line (libraries' messages span several)."""
  return " ".join(str(error).split()) or type(error).__name__


def run(main: Callable[[list[str]], None]) -> None:
  """`absl.app.run(main)`, with the faults in `EXPECTED` and usage errors
  reported as one line (`error: ...`) and exit status 1."""

  def guarded(argv):
    try:
      return main(argv)
    except app.UsageError as e:
      # absl would print the module's whole docstring above it.
      message = f"{one_line(e)} (--help for usage)"
    except EXPECTED as e:
      message = one_line(e)
    # Out of the except block, the traceback and the frames it held are
    # gone: what they kept alive (a tf.data pipeline's threads) stops now,
    # while the interpreter runs, and whatever it logs comes before the
    # error line instead of after it at exit.
    gc.collect()
    sys.exit(f"error: {message}")

  app.run(guarded)


def _temp_beside(path: str) -> str:
  """A new empty file in `path`'s folder (created if needed), named after it
  with its extension last (writers choose the format from it).

  Raises:
    OSError: naming `path` when its folder cannot be created or written.
  """
  folder = os.path.dirname(os.path.abspath(path))
  stem, ext = os.path.splitext(os.path.basename(path))
  try:
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}.partial-",
                               suffix=ext)
  except OSError as e:
    raise _named(path, "cannot write there", e) from e
  os.close(fd)
  return tmp


def _nearest_existing(folder: str) -> str:
  """`folder`, or its nearest ancestor that exists (a file, maybe)."""
  while not os.path.exists(folder):
    folder = os.path.dirname(folder)
  return folder


def _named(path: str, problem: str, error: OSError) -> OSError:
  """`error` as an OSError whose message names `path`, and the file in the
  way when a folder on the path is a file."""
  reason = error.strerror or str(error)
  parent = _nearest_existing(os.path.dirname(os.path.abspath(path)))
  if not os.path.isdir(parent):
    reason = f"{parent} is a file, not a folder"
  named = OSError(f"{path}: {problem} ({reason}).")
  named.errno = error.errno
  return named


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path` to write to; on success it is
  renamed to `path` (atomic on one file system), on any error removed, so
  that a failed or killed command leaves no half-written `path`.

  Raises:
    OSError: naming `path` when its folder cannot be created or written.
  """
  tmp = _temp_beside(path)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException as e:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    if isinstance(e, OSError):
      # Writers (PIL, numpy) often leave the file name out: a full disk
      # says only "No space left on device".
      raise _named(path, "writing failed, nothing was left there", e) from e
    raise


def check_writable(path: str) -> None:
  """Fails now, naming `path`, if an output file cannot be written there
  (a file is in the way of its folder, or the folder is not writable):
  before the work rather than after. Creates nothing: a command that then
  fails on its input leaves no empty output folder behind."""
  folder = os.path.dirname(os.path.abspath(path))
  existing = _nearest_existing(folder)
  if not os.path.isdir(existing):
    raise OSError(
        f"{path}: cannot write there ({existing} is a file, not a folder).")
  if existing == folder:
    # Writable in fact, not only by its mode (a read-only mount).
    os.remove(_temp_beside(path))
  elif not os.access(existing, os.W_OK | os.X_OK):
    raise OSError(f"{path}: cannot write there ({existing} is not writable).")


def write_json(path: str, obj, **dump_kwargs) -> None:
  """`json.dump(obj)` into `path`, whole or not at all (`atomic_output`)."""
  with atomic_output(path) as tmp, open(tmp, "w") as f:
    json.dump(obj, f, **dump_kwargs)


def write_text(path: str, text: str) -> None:
  """`text` into `path`, whole or not at all (`atomic_output`)."""
  with atomic_output(path) as tmp, open(tmp, "w") as f:
    f.write(text)

"""Runs the project's commands as a user would: `python -m module ...`."""

import subprocess
import sys

import real_samples


def run_python(
    *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
  """`python *args` from the repository root, output captured.

  Args:
    *args: the interpreter's arguments, e.g. ('-c', source, argument).
    timeout: seconds before the test fails.
    check: fail the test, showing the end of stderr, unless it exits 0.

  Returns:
    The finished process (returncode, stdout, stderr as text).
  """
  result = subprocess.run(
      [sys.executable, *args],
      cwd=real_samples.REPO,
      capture_output=True,
      text=True,
      timeout=timeout,
  )
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


def run_module(
    module: str, *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
  """`python -m module *args`, as `run_python`; e.g. 'bodypose_jax.main'."""
  return run_python("-m", module, *args, timeout=timeout, check=check)

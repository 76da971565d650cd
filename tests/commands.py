"""Runs the project's commands as a user would: `python -m module ...`."""

import subprocess
import sys

import real_samples


def run_module(
    module: str, *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
  """`python -m module *args` from the repository root, output captured.

  Args:
    module: e.g. 'bodypose_jax.main'.
    *args: its command-line arguments.
    timeout: seconds before the test fails.
    check: fail the test, showing the end of stderr, unless it exits 0.

  Returns:
    The finished process (returncode, stdout, stderr as text).
  """
  result = subprocess.run(
      [sys.executable, "-m", module, *args],
      cwd=real_samples.REPO,
      capture_output=True,
      text=True,
      timeout=timeout,
  )
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result

"""Runs killed without warning (`kill -9`), at random steps or in the middle
of a checkpoint write, resume to the very parameters an unbroken run ends
with: the data position is the step (`input_pipeline.train_dataset`), and a
half-written checkpoint is never restored (`train.restore_latest`)."""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import commands

STEPS = 12


def _main(workdir, data_dir, xla_cache, checkpoint_every):
  return [
      "-m",
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py:smoke",
      f"--workdir={workdir}",
      f"--config.dataset.data_dir={data_dir}",
      f"--config.compilation_cache_dir={xla_cache}",
      f"--config.num_train_steps={STEPS}",
      f"--config.checkpoint_every_steps={checkpoint_every}",
      f"--config.keep_checkpoints={STEPS}",
      "--config.log_every_steps=1",
      "--config.eval_every_steps=1000",
  ]


def _start(args):
  return subprocess.Popen(
      [sys.executable, *args],
      cwd=commands.real_samples.REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
  )


def _final_state(workdir):
  """Every leaf of the last checkpoint: params, batch stats, optimiser."""
  path = pathlib.Path(workdir) / "checkpoints" / str(STEPS) / "default"
  return jax.tree_util.tree_leaves_with_path(
      ocp.StandardCheckpointer().restore(str(path)))


def _assert_bit_identical(workdir, reference):
  got, want = _final_state(workdir), _final_state(reference)
  assert [p for p, _ in got] == [p for p, _ in want]
  for (path, a), (_, b) in zip(got, want):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, path
    # Bit for bit: the same bytes, NaN or not.
    assert a.tobytes() == b.tobytes(), jax.tree_util.keystr(path)


@pytest.fixture(scope="module")
def unbroken(smoke_builder, smoke_data_dir, xla_cache, tmp_path_factory):
  """A run of STEPS steps that nothing interrupted."""
  smoke_builder("rgb")
  workdir = tmp_path_factory.mktemp("unbroken")
  commands.run_python(*_main(workdir, smoke_data_dir, xla_cache, 3))
  return workdir


def _complete_checkpoints(workdir):
  checkpoints = pathlib.Path(workdir) / "checkpoints"
  return sorted(int(p) for p in os.listdir(checkpoints)
                if p.isdigit()) if checkpoints.is_dir() else []


def _kill_at_step(args, workdir, step):
  """Starts a run and kills it (SIGKILL) once it has logged `step` and a
  checkpoint is complete (writes are asynchronous and may take longer than
  a smoke step). Returns the step it was killed at."""
  proc = _start(args)
  log = []
  for line in proc.stdout:
    log.append(line)
    logged = re.search(rf"\bstep (\d+)/{STEPS}\b", line)
    if logged and int(logged.group(1)) >= step and _complete_checkpoints(
        workdir):
      proc.send_signal(signal.SIGKILL)
      break
  proc.communicate(timeout=120)
  assert proc.returncode == -signal.SIGKILL, "".join(log)[-3000:]
  return int(logged.group(1))


@pytest.mark.slow
def test_killed_at_random_steps_the_resumed_run_ends_bit_identical(
    unbroken, smoke_data_dir, xla_cache, tmp_path
):
  workdir = tmp_path / "run"
  args = _main(workdir, smoke_data_dir, xla_cache, 3)
  # Random, and reported by pytest's assertion if the test fails.
  kills = sorted(np.random.default_rng().choice(
      np.arange(2, STEPS), size=2, replace=False).tolist())
  killed = [_kill_at_step(args, workdir, step) for step in kills]
  resumed = _complete_checkpoints(workdir)[-1]
  result = commands.run_python(*args)
  assert f"Resumed from checkpoint at step {resumed}" in result.stderr, killed
  _assert_bit_identical(workdir, unbroken)


@pytest.mark.slow
def test_killed_while_writing_a_checkpoint_the_last_complete_one_resumes(
    unbroken, smoke_data_dir, xla_cache, tmp_path
):
  workdir = tmp_path / "run"
  checkpoints = workdir / "checkpoints"
  args = _main(workdir, smoke_data_dir, xla_cache, 1)
  caught = None
  # The kill must land while orbax's temporary folder exists; a write that
  # finishes between the look and the kill is retried on a later step.
  for _ in range(5):
    proc = _start(args)
    while proc.poll() is None:
      writing = [p for p in (os.listdir(checkpoints)
                             if checkpoints.is_dir() else [])
                 if "orbax-checkpoint-tmp" in p]
      # After a first complete checkpoint: the one the rerun must restore.
      if writing and _complete_checkpoints(workdir):
        proc.send_signal(signal.SIGKILL)
        break
      time.sleep(0.001)
    proc.communicate(timeout=120)
    left = [p for p in os.listdir(checkpoints) if "orbax-checkpoint-tmp" in p]
    if proc.returncode == -signal.SIGKILL and left:
      caught = left
      break
  assert caught, "no kill landed during a checkpoint write in 5 runs"
  complete = _complete_checkpoints(workdir)[-1]

  result = commands.run_python(*args)
  for name in caught:
    assert f"Ignoring {checkpoints / name}" in result.stderr
  assert f"Resumed from checkpoint at step {complete}" in result.stderr
  _assert_bit_identical(workdir, unbroken)

"""The training loop trains, evaluates, checkpoints and resumes."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import commands
import smoke_run
from bodypose_jax.data import input_pipeline
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import sharding
from bodypose_jax import train
from bodypose_jax import workdir as workdir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tensorboard_scalars(workdir, tag):
  """Values of one scalar tag from the TensorBoard event files, by step."""
  values = {}
  for path in workdir.glob("events.out.tfevents.*"):
    for record in tf.data.TFRecordDataset(str(path)):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = float(tf.make_ndarray(value.tensor))
  return [values[k] for k in sorted(values)]


_RESUMED_STEPS = smoke_run.STEPS + 5


def test_trains_then_resumes(smoke_workdir, smoke_data_dir, tmp_path):
  trained = pathlib.Path(smoke_workdir)
  with open(trained / "eval_metrics.json") as f:
    metrics = json.load(f)
  assert set(metrics) >= {"pck@0.2", "pixel_error"}
  assert metrics["num_joints_evaluated"] > 0
  # keep_checkpoints=2 (:smoke) of those every 20 steps.
  assert sorted(os.listdir(trained / "checkpoints")) == ["40", "60"]
  with open(trained / "config.json") as f:
    assert json.load(f)["num_train_steps"] == smoke_run.STEPS

  # Raising the step budget continues from step 60 rather than restarting.
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  config = smoke_run.config(
      smoke_data_dir,
      num_train_steps=_RESUMED_STEPS,
      eval_every_steps=100,
      checkpoint_every_steps=5,
      learning_rate=smoke_run.LEARNING_RATE,
  )
  train.train_and_evaluate(config, str(workdir))
  assert sorted(os.listdir(workdir / "checkpoints")) == ["60", "65"]
  with open(workdir / "eval_metrics.json") as f:
    assert json.load(f)["step"] == _RESUMED_STEPS


@pytest.mark.parametrize("builder_config", ["synthetic_rgbd", "ir"])
def test_the_trainer_refuses_builds_it_cannot_read(builder_config, tmp_path):
  """rgbd (3 colour channels + depth) and ir (one channel) pass for colour
  and depth by their channel count; the trainer refuses them by name, before
  any rendering or build."""
  config = smoke_run.config(str(tmp_path / "data"))
  config.dataset.builder_config = builder_config
  with pytest.raises(ValueError, match=f"{builder_config!r} stores"):
    train.train_and_evaluate(config, str(tmp_path / "run"))
  assert not (tmp_path / "data").exists()


def test_the_step_counter_is_typed_as_a_restored_one(smoke_data_dir):
  """jit caches compiled programs by argument types, weak types included:
  a weakly typed step counter in a fresh state made every resumed run
  (whose restored counter is a strong int32) compile its train step anew."""
  config = smoke_run.config(smoke_data_dir)
  model = train.create_model(config)
  state = jax.eval_shape(lambda: train.create_train_state(
      jax.random.key(0), config, model, (1, 1, *config.input.input_size, 3)))
  assert (state.step.dtype, state.step.weak_type) == (jnp.int32, False)


def test_loss_decreases(smoke_workdir):
  """Overfitting a few clips must drive the loss well below its start."""
  losses = _tensorboard_scalars(pathlib.Path(smoke_workdir), "train/loss")
  assert len(losses) == smoke_run.STEPS
  assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


@pytest.mark.slow
def test_main_command_line(smoke_builder, smoke_data_dir, tmp_path):
  """The documented command, with a config override, as a user runs it."""
  smoke_builder("rgb")
  workdir = tmp_path / "cli"
  result = commands.run_module(
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py:smoke",
      f"--workdir={workdir}",
      f"--config.dataset.data_dir={smoke_data_dir}",
      "--config.model.cell=none",
      "--config.num_train_steps=4",
      "--config.eval_every_steps=4",
      "--config.checkpoint_every_steps=4",
      f"--config.compilation_cache_dir={tmp_path / 'xla'}",
      "--config.stream_eval=True",
  )
  assert "PoseNet (cell=none)" in result.stderr
  assert "eval at step 4" in result.stderr
  # Then every held-out video streamed, tracked and with oracle ROIs.
  for rois in ("tracked", "oracle"):
    assert (f"Streamed: jax step 4 on tfds_ntu/synthetic_smoke_rgb xsub_test "
            f"({rois} ROIs)") in result.stderr
  assert (workdir / "eval_xsub_test_oracle" / "metrics.json").exists()
  with open(workdir / "config.json") as f:
    assert json.load(f)["model"]["cell"] == "none"
  assert list((tmp_path / "xla").iterdir()), "no compiled program was cached"
  # Ahead-of-time compilation reports cost and memory before the first step.
  assert "Compiled the train step" in result.stderr
  assert "FLOPs" in result.stderr and "temporaries" in result.stderr
  assert "Platform cpu: depthwise shifted, pointwise matmul" in result.stderr


@pytest.mark.slow
def test_sigterm_checkpoints_and_the_rerun_resumes(
    smoke_builder, smoke_data_dir, xla_cache, tmp_path
):
  smoke_builder("rgb")
  workdir = tmp_path / "run"
  main = [
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py:smoke",
      f"--workdir={workdir}",
      f"--config.dataset.data_dir={smoke_data_dir}",
      f"--config.compilation_cache_dir={xla_cache}",
      "--config.log_every_steps=1",
      "--config.checkpoint_every_steps=1000",
      "--config.eval_every_steps=1000",
  ]
  proc = subprocess.Popen(
      # Streaming on: a pre-empted run must not go on to evaluate.
      [sys.executable, "-m", *main, "--config.num_train_steps=100000",
       "--config.stream_eval=True"],
      cwd=REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
  )
  seen = []
  for line in proc.stdout:
    seen.append(line)
    if "step 3/100000" in line:
      proc.send_signal(signal.SIGTERM)
      break
  rest, _ = proc.communicate(timeout=300)
  log = "".join(seen) + rest
  assert proc.returncode == 0, log[-3000:]
  match = re.search(r"Pre-empted \(SIGTERM\) at step (\d+)", log)
  assert match, log[-3000:]
  step = int(match.group(1))
  assert os.listdir(workdir / "checkpoints") == [str(step)]
  assert "Streamed" not in log and not list(workdir.glob("eval_*")), log[-3000:]

  result = commands.run_module(*main, f"--config.num_train_steps={step + 2}")
  assert f"Resumed from checkpoint at step {step}" in result.stderr


@pytest.mark.slow
def test_bfloat16_compute_keeps_float32_parameters(
    smoke_builder, smoke_data_dir, tmp_path
):
  smoke_builder("rgb")
  config = smoke_run.config(smoke_data_dir, num_train_steps=3)
  with config.unlocked():
    config.model.compute_dtype = "bfloat16"
  train.train_and_evaluate(config, str(tmp_path / "run"))
  trained = workdir_lib.restore(str(tmp_path / "run"))
  assert trained.config.model.compute_dtype == "bfloat16"
  assert trained.model.dtype == jnp.bfloat16
  leaves = jax.tree.leaves(trained.variables["params"])
  assert {x.dtype for x in leaves} == {np.dtype("float32")}
  losses = _tensorboard_scalars(tmp_path / "run", "train/loss")
  assert losses and np.isfinite(losses).all()


# ------------------------------------------------------ non-finite steps --
def _batch(config):
  """A random batch of `config`'s shapes (input_pipeline.train_dataset's
  keys), every joint tracked, every clip cropped by one still ROI."""
  rng = np.random.default_rng(0)
  b, t, (h, w) = config.batch_size, config.input.clip_length, tuple(
      config.input.input_size)
  j = skeleton.NUM_JOINTS
  return {
      "frames": rng.uniform(0, 255, (b, t, h, w, 3)).astype(np.float32),
      "joints": (rng.uniform(0, 1, (b, t, j, 2)) * (w, h)).astype(np.float32),
      "tracking_state": np.full((b, t, j), 2, np.int32),
      "confidence": np.ones((b, t, j), np.float32),
      "rois": np.tile(np.float32([(w - 1) / 2, (h - 1) / 2, h]), (b, t, 1)),
  }


def _poisoned(batch):
  """`batch` with NaN joints: the targets, and so the loss, are NaN."""
  return dict(batch, joints=np.full_like(batch["joints"], np.nan))


def test_a_nonfinite_step_leaves_the_model_as_it_was(smoke_data_dir):
  config = smoke_run.config(smoke_data_dir)
  batch = _batch(config)
  model = train.create_model(config)
  # Initialised in one jitted program, as the loop does (eager init
  # compiles every operation on its own).
  state = train.init_state(config, model, batch["frames"].shape,
                           sharding.make_mesh())
  step = jax.jit(train.make_train_step(config))
  # Two good steps: the warmup's rate is 0 at the first.
  first, _ = step(state, batch)
  good, metrics = step(first, batch)
  assert metrics["nonfinite"] == 0 and np.isfinite(metrics["loss"])
  changed = jax.tree.leaves(jax.tree.map(
      lambda a, b: bool(np.any(a != b)), good.params, first.params))
  assert any(changed)

  bad, metrics = step(good, _poisoned(batch))
  assert metrics["nonfinite"] == 1 and not np.isfinite(metrics["loss"])
  assert int(bad.step) == int(good.step) + 1  # the data's position moves on
  for kept, before in ((bad.params, good.params),
                       (bad.opt_state, good.opt_state),
                       (bad.batch_stats, good.batch_stats)):
    jax.tree.map(np.testing.assert_array_equal, kept, before)


def test_the_acceleration_term_is_trained_when_weighted(smoke_data_dir):
  config = smoke_run.config(smoke_data_dir)
  with config.unlocked():
    config.loss.accel_weight = 0.5
  assert config.input.clip_length >= 3  # a frame triple to score
  batch = _batch(config)
  state = train.init_state(config, train.create_model(config),
                           batch["frames"].shape, sharding.make_mesh())
  step = jax.jit(train.make_train_step(config))
  first, _ = step(state, batch)
  second, metrics = step(first, batch)
  assert float(metrics["accel_loss"]) > 0
  np.testing.assert_allclose(
      metrics["loss"],
      metrics["heatmap_loss"]
      + config.loss.offset_weight * metrics["offset_loss"]
      + 0.5 * metrics["accel_loss"],
      rtol=1e-5)
  assert any(jax.tree.leaves(jax.tree.map(
      lambda a, b: bool(np.any(a != b)), second.params, first.params)))


def _poison_step(monkeypatch, bad_step: int):
  """Training's batch of `bad_step` (1-based) gets NaN joints."""
  original = input_pipeline.train_dataset

  def poisoned(*args, **kwargs):
    ds = original(*args, **kwargs).enumerate()
    return ds.map(lambda i, b: dict(b, joints=tf.where(
        i == bad_step - 1, tf.fill(tf.shape(b["joints"]), np.nan),
        b["joints"])))

  monkeypatch.setattr(input_pipeline, "train_dataset", poisoned)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["stop", "skip"])
def test_a_nonfinite_step_stops_or_is_skipped_and_never_checkpointed(
    smoke_builder, smoke_data_dir, tmp_path, monkeypatch, mode):
  smoke_builder("rgb")
  _poison_step(monkeypatch, 3)
  config = smoke_run.config(
      smoke_data_dir, num_train_steps=6, checkpoint_every_steps=2,
      eval_every_steps=6, log_every_steps=1, nonfinite=mode)
  workdir = tmp_path / "run"
  if mode == "stop":
    with pytest.raises(train.NonFiniteStep, match=r"step 3 is not finite"):
      train.train_and_evaluate(config, str(workdir))
    # Step 2's checkpoint is the last; none after the bad step.
    assert os.listdir(workdir / "checkpoints") == ["2"]
  else:
    train.train_and_evaluate(config, str(workdir))
    flags = _tensorboard_scalars(workdir, "train/nonfinite")
    assert flags == [0, 0, 1, 0, 0, 0]
    assert _tensorboard_scalars(workdir, "train/skipped_steps") == [1]
    assert sorted(os.listdir(workdir / "checkpoints")) == ["4", "6"]
  trained = workdir_lib.restore(str(workdir))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(trained.variables))


@pytest.mark.slow
def test_main_names_a_nonfinite_step_in_one_line(smoke_builder,
                                                 smoke_data_dir, tmp_path):
  """An absurd rate overflows the parameters at step 1, so step 2's loss is
  not finite: the command exits non-zero with one line and no traceback,
  and nothing after the bad step is checkpointed."""
  smoke_builder("rgb")
  workdir = tmp_path / "run"
  result = commands.run_module(
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py:smoke",
      f"--workdir={workdir}",
      f"--config.dataset.data_dir={smoke_data_dir}",
      "--config.learning_rate=1e30",
      "--config.warmup_steps=0",
      "--config.num_train_steps=6",
      "--config.checkpoint_every_steps=2",
      f"--config.compilation_cache_dir={tmp_path / 'xla'}",
      check=False,
  )
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert re.fullmatch(
      rf"error: {workdir}: the loss or gradient of step 2 is not finite; .*",
      last), last
  assert "Traceback" not in result.stderr
  assert not os.listdir(workdir / "checkpoints")


# ------------------------------------------------------------ checkpoints --
def _truncate_largest_file(checkpoint):
  files = [p for p in pathlib.Path(checkpoint).rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  with open(largest, "r+b") as f:
    f.truncate(largest.stat().st_size // 3)


def test_a_corrupt_or_half_written_checkpoint_is_skipped_and_named(
    smoke_workdir, tmp_path, caplog):
  workdir = tmp_path / "run"
  shutil.copytree(pathlib.Path(smoke_workdir) / "checkpoints",
                  workdir / "checkpoints")
  shutil.copy(pathlib.Path(smoke_workdir) / "config.json", workdir)
  checkpoints = workdir / "checkpoints"
  # A write killed midway (orbax's temporary name), and a truncated latest.
  shutil.copytree(checkpoints / "60", checkpoints / "80.orbax-checkpoint-tmp-1")
  _truncate_largest_file(checkpoints / "60")
  assert workdir_lib.restore(str(workdir)).step == 40
  logged = caplog.text
  assert f"Ignoring {checkpoints / '80.orbax-checkpoint-tmp-1'}" in logged
  assert f"Checkpoint {checkpoints / '60'} cannot be read" in logged

  _truncate_largest_file(checkpoints / "40")
  with pytest.raises(RuntimeError, match=r"No checkpoint of .*checkpoints "
                     r"can be read \(steps \[60, 40\]\)"):
    workdir_lib.restore(str(workdir))

"""Multi-process data parallelism on localhost CPUs (JAX's gloo collectives)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from bodypose_jax.runtime import distributed
from bodypose_jax import workdir as workdir_lib
from real_samples import REPO

WORKER = os.path.join(REPO, "tests", "multiprocess_worker.py")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _run_all(commands, env=None, timeout=600):
  """Starts the commands at once; fails with their output if any fails."""
  procs = [
      subprocess.Popen(
          c,
          cwd=REPO,
          env=env,
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
          text=True,
      )
      for c in commands
  ]
  outputs = [p.communicate(timeout=timeout)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-4000:]
  return outputs


def _params(path):
  with np.load(path) as f:
    return {k: f[k] for k in f.files}


@pytest.mark.slow
def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
  port = _free_port()
  multi, single = tmp_path / "multi", tmp_path / "single"
  multi.mkdir()
  single.mkdir()
  _run_all(
      [
          [
              sys.executable,
              WORKER,
              f"--out={multi}",
              "--num_processes=2",
              f"--process_id={i}",
              f"--coordinator_address=localhost:{port}",
              "--devices=2",
          ]
          for i in range(2)
      ]
      + [[sys.executable, WORKER, f"--out={single}", "--devices=4"]]
  )
  p0, p1 = _params(multi / "params_0.npz"), _params(multi / "params_1.npz")
  ref = _params(single / "params_0.npz")
  assert p0.pop("devices") == p1.pop("devices") == ref.pop("devices") == 4
  for k in ref:  # replicated state: bit-identical on every process
    np.testing.assert_array_equal(p0[k], p1[k])
  # Against one process, only the order of the gradient all-reduce differs;
  # Adam turns those last-bit differences of near-zero gradients into small
  # steps on a few parameters, so compare the distribution.
  diff = np.concatenate([np.abs(p0[k] - ref[k]).ravel() for k in ref])
  assert np.median(diff) < 1e-6
  assert np.percentile(diff, 99) < 1e-4
  assert diff.max() < 5e-3


@pytest.mark.slow
def test_two_process_training_run_writes_one_usable_checkpoint(
    smoke_builder, smoke_data_dir, tmp_path
):
  smoke_builder("rgb")
  workdir = tmp_path / "run"
  port = _free_port()
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  outputs = _run_all(
      [
          [
              sys.executable,
              "-m",
              "bodypose_jax.main",
              "--config=configs/rgb_gru.py:smoke",
              f"--workdir={workdir}",
              f"--config.dataset.data_dir={smoke_data_dir}",
              "--config.compilation_cache_dir=",
              "--config.num_train_steps=4",
              "--config.checkpoint_every_steps=2",
              f"--coordinator_address=localhost:{port}",
              "--num_processes=2",
              f"--process_id={i}",
          ]
          for i in range(2)
      ],
      env=env,
  )
  for i, out in enumerate(outputs):
    assert f"process {i} of 2" in out
    assert "CpuDevice(id=" in out
  with open(workdir / "eval_metrics.json") as f:
    assert json.load(f)["step"] == 4
  trained = workdir_lib.restore(str(workdir))
  assert trained.step == 4


@pytest.mark.parametrize(
    "environ,expected",
    [
        ({}, False),
        ({"SLURM_NTASKS": "1", "SLURM_JOB_ID": "7"}, False),
        ({"SLURM_NTASKS": "8", "SLURM_JOB_ID": "7"}, True),
        ({"OMPI_COMM_WORLD_SIZE": "2"}, True),
        ({"TPU_WORKER_HOSTNAMES": "t1k-0"}, False),
        ({"TPU_WORKER_HOSTNAMES": "t1k-0,t1k-1,t1k-2,t1k-3"}, True),
    ],
)
def test_cluster_detection(environ, expected):
  assert distributed.cluster_detected(environ) is expected


def test_partial_explicit_flags_are_refused():
  with pytest.raises(ValueError, match="go together"):
    distributed.initialize("localhost:1234", None, 0, environ={})
  assert distributed.initialize(environ={}) == "single process"

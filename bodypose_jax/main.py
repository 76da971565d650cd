r"""Trains and evaluates a pose model.

  python -m bodypose_jax.main --config=configs/rgb_gru.py:synthetic \
      --workdir=workdirs/rgb_gru_syn

Any config field can be overridden, e.g. `--config.num_train_steps=2000` or
`--config.model.cell=none`. Rerunning in the same workdir resumes; SIGTERM
saves a checkpoint and exits. Multi-process runs: see launch/README.md.
"""

import logging as logging_lib
import os

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags
import tensorflow as tf

from bodypose_jax.deploy import tracking
from bodypose_jax.evaluators import evaluate
from bodypose_jax.runtime import cli
from bodypose_jax.runtime import distributed
from bodypose_jax.runtime import hardware
from bodypose_jax import train

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "workdir",
    None,
    "Directory for checkpoints, logs and " "TensorBoard summaries.",
)
config_flags.DEFINE_config_file(
    "config",
    None,
    "Experiment config file, optionally with ':variant'.",
    lock_config=True,
)
flags.DEFINE_string(
    "coordinator_address",
    None,
    "host:port of process 0 for a multi-process run; with --num_processes "
    "and --process_id. Without them, SLURM, Open MPI and Cloud TPU pod jobs "
    "are detected by themselves.",
)
flags.DEFINE_integer("num_processes", None, "Processes in a multi-process run.")
flags.DEFINE_integer("process_id", None, "This process's index, from 0.")
flags.mark_flags_as_required(["config", "workdir"])


class _QuietLibraries(logging_lib.Filter):
  """Drops INFO chatter of orbax, which logs a dozen lines per checkpoint."""

  def filter(self, record):
    return record.levelno > logging_lib.INFO or "/orbax/" not in record.pathname


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  logging.get_absl_handler().addFilter(_QuietLibraries())
  logging.info(hardware.configure_host(FLAGS.config.reuse_host_memory))
  distributed.initialize(
      FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id
  )
  # tf.data runs on the host; keep TensorFlow off the accelerators JAX uses.
  tf.config.set_visible_devices([], "GPU")
  if FLAGS.config.compilation_cache_dir:
    jax.config.update(
        "jax_compilation_cache_dir",
        os.path.expanduser(FLAGS.config.compilation_cache_dir),
    )
    # Cache only compilations worth a disk round trip.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
  logging.info(
      "JAX %s: process %d/%d, local devices %s",
      jax.__version__,
      jax.process_index(),
      jax.process_count(),
      jax.local_devices(),
  )
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except train.Preempted:
    return  # checkpointed and logged; the same command resumes
  if FLAGS.config.stream_eval and jax.process_count() > 1:
    # Restoring the checkpoint is a collective in a multi-process run, and
    # streaming is one process's work: evaluate from the workdir afterwards.
    logging.info(
        "Multi-process run: stream the eval split afterwards with "
        "python -m bodypose_jax.evaluators.evaluate --workdir=%s",
        FLAGS.workdir,
    )
  elif FLAGS.config.stream_eval:
    # The figure that counts: whole videos streamed as an app runs them.
    for rois in ("tracked", "oracle") if tracking.tracks(FLAGS.config) else (
        "tracked",):
      result = evaluate.evaluate(FLAGS.workdir, rois=rois)
      logging.info("Streamed: %s", evaluate.summary(result))
      mix = FLAGS.config.dataset.mix_builder_config
      if mix:  # the held-out real performers
        result = evaluate.evaluate(FLAGS.workdir, rois=rois,
                                   builder_config=mix)
        logging.info("Streamed on %s: %s", mix, evaluate.summary(result))


if __name__ == "__main__":
  cli.run(main)

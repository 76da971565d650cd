"""One process of a data-parallel run, for tests/runtime/test_distributed.py.

  python tests/multiprocess_worker.py --out=DIR --num_processes=2 \
      --process_id=0 --coordinator_address=localhost:PORT --devices=2

Trains the :smoke model a few steps on a deterministic global batch, of which
this process feeds only its own rows, through the trainer's own state, step,
mesh and input placement; then writes its final parameters to
DIR/params_<process_id>.npz. With --num_processes=1 it is the single-process
reference on the same global batch.
"""

import os
import sys

from absl import app
from absl import flags

flags.DEFINE_string("out", None, "Output folder.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0.")
flags.DEFINE_integer("num_processes", 1, "Processes.")
flags.DEFINE_integer("process_id", 0, "This process.")
flags.DEFINE_integer("devices", 2, "Virtual CPU devices in this process.")
flags.DEFINE_integer("steps", 3, "Training steps.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # Before JAX starts its CPU backend.
  os.environ["XLA_FLAGS"] = (
      f"--xla_force_host_platform_device_count={FLAGS.devices}"
  )
  sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
  import jax  # pylint: disable=g-import-not-at-top
  from jax.sharding import NamedSharding, PartitionSpec as P  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from bodypose_jax.runtime import distributed  # pylint: disable=g-import-not-at-top
  from bodypose_jax import train  # pylint: disable=g-import-not-at-top
  from bodypose_jax.runtime import sharding  # pylint: disable=g-import-not-at-top
  from configs import rgb_gru  # pylint: disable=g-import-not-at-top

  if FLAGS.num_processes > 1:
    distributed.initialize(
        FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id
    )
  config = rgb_gru.get_config("smoke")
  b, t = config.batch_size, config.input.clip_length
  h, w = config.input.input_size
  rng = np.random.default_rng(0)
  batches = [
      {
          "frames": rng.normal(size=(b, t, h, w, 3)).astype(np.float32),
          "joints": rng.uniform(0, min(h, w), (b, t, 25, 2)).astype(np.float32),
          "tracking_state": rng.integers(0, 3, (b, t, 25)).astype(np.int32),
          # A drifting ROI, so the state warp runs in the sharded step too.
          "rois": (
              np.array([100.0, 60.0, 80.0])
              + np.cumsum(rng.normal(0, 3, (b, t, 3)), axis=1)
          ).astype(np.float32),
      }
      for _ in range(FLAGS.steps)
  ]
  mesh = sharding.make_mesh()
  sharded = NamedSharding(mesh, P("data"))
  model = train.create_model(config)
  state = train.init_state(config, model, (b, t, h, w, 3), mesh)
  step = train.jit_train_step(config, mesh)
  rows = b // jax.process_count()
  mine = slice(jax.process_index() * rows, (jax.process_index() + 1) * rows)
  for batch in batches:
    local = {k: v[mine] for k, v in batch.items()}
    state, _ = step(state, sharding.to_global(local, sharded))
  params = jax.tree_util.tree_flatten_with_path(jax.device_get(state.params))[0]
  np.savez(
      os.path.join(FLAGS.out, f"params_{FLAGS.process_id}.npz"),
      **{jax.tree_util.keystr(k): v for k, v in params},
      devices=np.array([jax.device_count()]),
  )


if __name__ == "__main__":
  flags.mark_flags_as_required(["out"])
  app.run(main)

"""Starting JAX's multi-process runtime: explicitly, or as the cluster says.

Every process runs the same program; `jax.distributed.initialize` connects
them so that `jax.devices()` spans all hosts and one jitted step runs on the
global mesh. JAX detects Cloud TPU pods, SLURM, Open MPI and Kubernetes jobs by
itself; this module decides whether to ask it to, so a laptop run never waits
for a coordinator that does not exist.
"""

import os

from absl import logging
import jax

# Set by the schedulers whose jobs JAX's cluster detection understands; each
# means "one of several processes" only when the count it gives exceeds one.
_CLUSTER_COUNTS = (
    "SLURM_NTASKS",  # SLURM (srun)
    "OMPI_COMM_WORLD_SIZE",  # Open MPI (mpirun)
)


def cluster_detected(environ=os.environ) -> bool:
  """Whether this process was started as one of several by a scheduler."""
  if any(int(environ.get(k, "1")) > 1 for k in _CLUSTER_COUNTS):
    return True
  # A multi-host Cloud TPU slice lists every worker's hostname.
  return "," in environ.get("TPU_WORKER_HOSTNAMES", "")


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ=os.environ,
) -> str:
  """Starts the multi-process runtime if asked or if a cluster is detected.

  Must run before anything touches a JAX backend.

  Args:
    coordinator_address: 'host:port' of process 0, for an explicit start.
    num_processes: with `coordinator_address`.
    process_id: with `coordinator_address`.
    environ: the environment to inspect (tests pass their own).

  Returns:
    How the run was started, for the log.
  """
  explicit = (coordinator_address, num_processes, process_id)
  if any(v is not None for v in explicit) and None in explicit:
    raise ValueError(
        "--coordinator_address, --num_processes and --process_id go "
        f"together; got {explicit}."
    )
  if coordinator_address is None and not cluster_detected(environ):
    return "single process"
  # CPU processes need a collectives library to reduce across hosts; it is
  # ignored on GPU and TPU, which bring their own.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if coordinator_address is None:
    jax.distributed.initialize()
    how = "cluster auto-detected"
  else:
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    how = f"coordinator {coordinator_address}"
  logging.info(
      "jax.distributed: %s, process %d of %d.",
      how,
      jax.process_index(),
      jax.process_count(),
  )
  return how

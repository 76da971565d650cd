"""Pre-emption: SIGTERM asks the trainer to checkpoint and stop cleanly.

Schedulers (SLURM, Cloud TPU maintenance, Kubernetes) send SIGTERM some time
before they kill a job. One process catches it itself; a multi-process run
uses JAX's preemption sync service, which agrees on one step at which every
process saves, since a checkpoint written by only some hosts is unusable.
"""

import signal
import threading

import jax
from jax.experimental import multihost_utils


class Watcher:
  """A context in which SIGTERM is noted instead of killing the process.

  Use `reached(step)` once per training step on every process.
  """

  def __init__(self):
    self._event = threading.Event()
    self._previous = None

  def __enter__(self) -> "Watcher":
    # With several processes, jax.distributed's preemption service owns
    # SIGTERM; signal handlers can only be set from the main thread.
    if (
        jax.process_count() == 1
        and threading.current_thread() is threading.main_thread()
    ):
      self._previous = signal.signal(
          signal.SIGTERM, lambda *_: self._event.set()
      )
    return self

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None
    return False

  def reached(self, step: int) -> bool:
    """True at the step where this run should save and stop."""
    if jax.process_count() > 1:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._event.is_set()

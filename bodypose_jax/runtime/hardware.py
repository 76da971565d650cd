"""The one place that knows how each backend wants the model compiled.

XLA compiles the same layer very differently per backend: on CPU a grouped
(depthwise) convolution becomes a slow loop and a 1x1 convolution's gradient
is ~4x slower than the equal matrix product, while GPUs and TPUs have fast
kernels for the standard forms and do their best work in bfloat16. Config
fields set to 'auto' are resolved here, and the choice is logged. On CPU the
small k x k convolutions (stem, recurrent cell) run as one matrix product
over their taps ('im2col'): measured, the cell's convolutions took 123 of a
717 ms step as XLA convolutions.

The host's memory is the other CPU cost: XLA:CPU allocates a step's
temporaries (~800 MB for `rgb_gru.py:synthetic`) afresh at every execution,
and on a JAX worker thread glibc serves a block that large with a new mmap,
whose every page the kernel then faults in and zeroes: measured, 200,000
page faults and 0.3 s of system time per 0.42 s step. `configure_host` runs
executions on the calling thread, whose heap keeps what is freed, so the
same pages serve every step.
"""

import ctypes
import dataclasses
import platform

from absl import logging
import jax
from jax._src import xla_bridge
import ml_collections

# backend -> (depthwise_impl, pointwise_impl, dense_impl, compute_dtype,
#            compiler options)
_CHOICES = {
    "cpu": ("shifted", "matmul", "im2col", "float32", {}),
    "gpu": (
        "grouped",
        "conv",
        "conv",
        "bfloat16",
        # Overlaps collectives with compute across data-parallel devices.
        {"xla_gpu_enable_latency_hiding_scheduler": True},
    ),
    "tpu": ("grouped", "conv", "conv", "bfloat16", {}),
}


# The config.model fields a backend decides when they say 'auto'.
FORMULATION_FIELDS = (
    "depthwise_impl", "pointwise_impl", "dense_impl", "compute_dtype")


@dataclasses.dataclass(frozen=True)
class Choices:
  """What the trainer compiles with on this backend."""

  backend: str
  depthwise_impl: str
  pointwise_impl: str
  dense_impl: str
  compute_dtype: str
  compiler_options: dict


def backend() -> str:
  """'cpu', 'gpu' or 'tpu' (ROCm and CUDA both count as 'gpu')."""
  name = jax.default_backend()
  return "gpu" if name in ("cuda", "rocm") else name


def resolve(config: ml_collections.ConfigDict) -> Choices:
  """What the config's 'auto' fields mean on this backend (config unchanged).

  Explicit settings are kept: a researcher may force e.g. bfloat16 on CPU.
  """
  name = backend()
  depthwise, pointwise, dense, dtype, options = _CHOICES.get(
      name, _CHOICES["cpu"]
  )
  m = config.model
  pick = lambda value, auto: auto if value == "auto" else value
  choices = Choices(
      name,
      pick(m.depthwise_impl, depthwise),
      pick(m.pointwise_impl, pointwise),
      pick(m.dense_impl, dense),
      pick(m.compute_dtype, dtype),
      dict(options),
  )
  if choices.compute_dtype not in ("float32", "bfloat16"):
    raise ValueError(
        f"config.model.compute_dtype={m.compute_dtype!r}; expected 'auto', "
        "'float32' or 'bfloat16'."
    )
  return choices


def resolved(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A copy of `config` with its 'auto' model fields filled in for this
  backend (logged): what the trainer runs and records in config.json."""
  choices = resolve(config)
  config = config.copy_and_resolve_references()
  with config.unlocked():
    for field in FORMULATION_FIELDS:
      setattr(config.model, field, getattr(choices, field))
  config.lock()
  logging.info(
      "Platform %s: depthwise %s, pointwise %s, dense %s, compute %s "
      "(parameters float32), compiler options %s.",
      choices.backend,
      choices.depthwise_impl,
      choices.pointwise_impl,
      choices.dense_impl,
      choices.compute_dtype,
      choices.compiler_options or "default",
  )
  return config


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_host_memory() -> bool:
  """Makes glibc serve large blocks from the heap and never give them back.

  Then a block freed after one step is reused by the next instead of being
  unmapped and faulted in again. The process's memory stays at its peak.

  Returns:
    Whether it was applied: only glibc has these knobs (not macOS, not musl).
  """
  if platform.libc_ver()[0] != "glibc":
    return False
  libc = ctypes.CDLL(None)
  # mallopt returns 1 on success. The threshold is a C int: INT_MAX, 2 GiB.
  return bool(
      libc.mallopt(_M_MMAP_MAX, 0)
      and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
  )


def configure_host(reuse_memory: bool) -> str:
  """Sets how the process runs CPU executables; call before JAX starts.

  With `reuse_memory` (the config's `reuse_host_memory`), CPU executables run
  on the calling thread (JAX's `jax_cpu_enable_async_dispatch` off) and glibc
  keeps freed memory for reuse (see the module docstring). Both act on the
  whole process but only matter where XLA:CPU runs the steps: on an
  accelerator host they keep the host's own freed blocks (tf.data's, numpy's)
  for reuse, and the CPU client runs nothing heavy.

  Args:
    reuse_memory: apply the above; False keeps JAX's and glibc's defaults.

  Returns:
    What was done, for the log.

  Raises:
    RuntimeError: JAX's backends are already running, so the CPU client's
      dispatch can no longer be chosen.
  """
  if not reuse_memory:
    return "Host memory: JAX's and glibc's defaults (reuse_host_memory=False)."
  if xla_bridge.backends_are_initialized():
    raise RuntimeError(
        "hardware.configure_host must run before JAX starts its backends "
        "(before jax.devices(), jax.process_index() or any computation)."
    )
  jax.config.update("jax_cpu_enable_async_dispatch", False)
  if keep_freed_host_memory():
    return (
        "Host memory: CPU steps run on the calling thread; freed memory is "
        "kept for the next step."
    )
  return (
      "Host memory: CPU steps run on the calling thread; this libc "
      f"({platform.libc_ver()[0] or 'unknown'}) has no mallopt, so large "
      "freed blocks may still be unmapped and faulted in again."
  )

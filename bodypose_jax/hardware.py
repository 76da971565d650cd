"""The one place that knows how each backend wants the model compiled.

XLA compiles the same layer very differently per backend: on CPU a grouped
(depthwise) convolution becomes a slow loop and a 1x1 convolution's gradient
is ~4x slower than the equal matrix product, while GPUs and TPUs have fast
kernels for the standard forms and do their best work in bfloat16. Config
fields set to 'auto' are resolved here, and the choice is logged. On CPU the
small k x k convolutions (stem, recurrent cell) run as one matrix product
over their taps ('im2col'): measured, the cell's convolutions took 123 of a
717 ms step as XLA convolutions.
"""

import dataclasses

from absl import logging
import jax
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
  """Resolves the config's 'auto' fields for this backend (in place).

  Explicit settings are kept: a researcher may force e.g. bfloat16 on CPU.
  """
  name = backend()
  depthwise, pointwise, dense, dtype, options = _CHOICES.get(
      name, _CHOICES["cpu"]
  )
  m = config.model
  auto = "auto" in (
      m.depthwise_impl,
      m.pointwise_impl,
      m.dense_impl,
      m.compute_dtype,
  )
  with config.unlocked():
    if m.depthwise_impl == "auto":
      m.depthwise_impl = depthwise
    if m.pointwise_impl == "auto":
      m.pointwise_impl = pointwise
    if m.dense_impl == "auto":
      m.dense_impl = dense
    if m.compute_dtype == "auto":
      m.compute_dtype = dtype
  if m.compute_dtype not in ("float32", "bfloat16"):
    raise ValueError(
        f"config.model.compute_dtype={m.compute_dtype!r}; expected 'auto', "
        "'float32' or 'bfloat16'."
    )
  choices = Choices(
      name,
      m.depthwise_impl,
      m.pointwise_impl,
      m.dense_impl,
      m.compute_dtype,
      dict(options),
  )
  log = logging.info if auto else logging.debug
  log(
      "Platform %s: depthwise %s, pointwise %s, dense %s, compute %s "
      "(parameters float32), compiler options %s.",
      name,
      choices.depthwise_impl,
      choices.pointwise_impl,
      choices.dense_impl,
      choices.compute_dtype,
      choices.compiler_options or "default",
  )
  return choices

"""Convolution building blocks whose formulation is a config choice.

XLA:CPU compiles grouped (depthwise) convolutions into slow loops, while a sum
of k*k shifted, per-channel-scaled copies of the input is plain elementwise
work it vectorises well; and it differentiates 1x1 convolutions ~4x slower
than the same contraction written as a matrix product. Each layer here offers
both formulations over the same parameters, stored exactly as `nn.Conv` stores
them (`conv/kernel` `[k, k, C_in / groups, C_out]`, `conv/bias`), so a
checkpoint trained with one formulation runs with the other.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Formulation:
  """How convolutions are written; each choice computes the same function.

  Attributes:
    depthwise: 'grouped' (one grouped convolution) or 'shifted' (a sum of k*k
      shifted multiplies).
    pointwise: 'conv' (a 1x1 convolution) or 'matmul' (a matrix product).
    dense: k x k convolutions (stem, recurrent cell): 'conv' or 'im2col' (the
      k*k shifted inputs side by side, times the kernel as one matrix).
  """

  depthwise: str = "grouped"
  pointwise: str = "conv"
  dense: str = "conv"


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """XLA's 'SAME' padding for one spatial dimension."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


class DepthwiseConv(nn.Module):
  """Depthwise 'SAME' convolution without bias.

  Attributes:
    kernel_size: spatial size k of the square kernel.
    strides: spatial stride.
    impl: 'grouped' (one grouped convolution) or 'shifted' (sum of k*k
      shifted multiplies).
  """

  kernel_size: int = 3
  strides: int = 1
  impl: str = "grouped"
  dtype: Any = None

  @nn.compact
  def __call__(self, x):
    """x: [N, H, W, C] -> [N, ceil(H/s), ceil(W/s), C]."""
    channels = x.shape[-1]
    k, s = self.kernel_size, self.strides
    if self.impl == "grouped":
      return nn.Conv(
          channels,
          (k, k),
          strides=s,
          padding="SAME",
          feature_group_count=channels,
          use_bias=False,
          dtype=self.dtype,
          name="conv",
      )(x)
    if self.impl != "shifted":
      raise ValueError(
          f"Unknown depthwise impl {self.impl!r}; "
          "expected 'grouped' or 'shifted'."
      )
    # Same variable path as the grouped branch ('conv/kernel').
    kernel, _ = ConvParams((k, k, 1, channels), False, name="conv")()
    kernel = kernel.astype(x.dtype if self.dtype is None else self.dtype)
    out = None
    for (i, j), tap in _taps(x, k, s):
      term = tap * kernel[i, j, 0]
      out = term if out is None else out + term
    return out


def _taps(x, k: int, s: int):
  """The k*k shifted, strided views of x that a 'SAME' convolution reads.

  Args:
    x: [N, H, W, C].

  Yields:
    ((i, j), [N, ceil(H/s), ceil(W/s), C]) in kernel order.
  """
  h, w = x.shape[1:3]
  pad_h, pad_w = _same_padding(h, k, s), _same_padding(w, k, s)
  xp = jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))
  out_h, out_w = -(-h // s), -(-w // s)
  for i in range(k):
    for j in range(k):
      yield (i, j), xp[
          :, i : i + (out_h - 1) * s + 1 : s, j : j + (out_w - 1) * s + 1 : s
      ]


def conv(
    x,
    features: int,
    kernel_size: int,
    strides: int = 1,
    use_bias: bool = True,
    impl: str = "conv",
    dtype=None,
    name: str | None = None,
):
  """A k x k 'SAME' convolution, for use inside a compact module.

  Both formulations store `name/kernel` [k, k, C, F] (and `name/bias`) as
  nn.Conv does. 'im2col' lays the k*k taps side by side, [N, H', W', k*k*C],
  and multiplies by the kernel reshaped to [k*k*C, F]: one matrix product,
  forward and backward, where XLA:CPU runs a small convolution slowly.

  Args:
    x: [N, H, W, C].
    impl: 'conv' or 'im2col'.

  Returns:
    [N, ceil(H/s), ceil(W/s), features].
  """
  k = kernel_size
  if impl == "conv":
    return nn.Conv(
        features,
        (k, k),
        strides=strides,
        padding="SAME",
        use_bias=use_bias,
        dtype=dtype,
        name=name,
    )(x)
  if impl != "im2col":
    raise ValueError(
        f"Unknown dense conv impl {impl!r}; expected 'conv' or 'im2col'."
    )
  kernel, bias = ConvParams(
      (k, k, x.shape[-1], features), use_bias, name=name
  )()
  dtype = x.dtype if dtype is None else dtype
  cols = jnp.concatenate(
      [tap for _, tap in _taps(x.astype(dtype), k, strides)], -1
  )
  y = jnp.dot(cols, kernel.reshape(-1, features).astype(dtype))
  return y if bias is None else y + bias.astype(dtype)


class PointwiseConv(nn.Module):
  """1x1 convolution.

  Attributes:
    features: output channels.
    use_bias: add a bias.
    impl: 'conv' (an XLA convolution) or 'matmul' ([N*H*W, C] @ [C, F]).
  """

  features: int
  use_bias: bool = True
  impl: str = "conv"
  dtype: Any = None

  @nn.compact
  def __call__(self, x):
    """x: [..., C] -> [..., features]."""
    if self.impl == "conv":
      return nn.Conv(
          self.features,
          (1, 1),
          use_bias=self.use_bias,
          dtype=self.dtype,
          name="conv",
      )(x)
    if self.impl != "matmul":
      raise ValueError(
          f"Unknown pointwise impl {self.impl!r}; "
          "expected 'conv' or 'matmul'."
      )
    kernel, bias = ConvParams(
        (1, 1, x.shape[-1], self.features), self.use_bias, name="conv"
    )()
    dtype = x.dtype if self.dtype is None else self.dtype
    y = jnp.dot(x.astype(dtype), kernel[0, 0].astype(dtype))
    return y if bias is None else y + bias.astype(dtype)


class ConvParams(nn.Module):
  """Creates `kernel` (and `bias`) with nn.Conv's shapes and initialisers."""

  shape: tuple[int, ...]
  use_bias: bool

  @nn.compact
  def __call__(self):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), self.shape)
    bias = (
        self.param("bias", nn.initializers.zeros_init(), self.shape[-1:])
        if self.use_bias
        else None
    )
    return kernel, bias

"""Convolution building blocks whose formulation is a config choice.

XLA:CPU compiles grouped (depthwise) convolutions into slow loops, while a sum
of k*k shifted, per-channel-scaled copies of the input is plain elementwise
work it vectorises well; and it differentiates 1x1 convolutions ~4x slower
than the same contraction written as a matrix product. Two of the CPU forms
carry gradients written for XLA:CPU: `shifted_depthwise` (JAX's own
derivative sums k*k zero-padded copies of the cotangent, a loop that tests
every element against every pad) and the 1x1 convs' `matmul` (see there);
with the host set-up in hardware.py they took the rgb_gru.py:synthetic step
from 1.60x to under 0.9x the Keras baseline's time (benchmark_train). Each
layer here offers both formulations over the same parameters, stored exactly
as `nn.Conv` stores them (`conv/kernel` `[k, k, C_in / groups, C_out]`,
`conv/bias`), so a checkpoint trained with one formulation runs with the
other.
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
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
    dtype = x.dtype if self.dtype is None else self.dtype
    return shifted_depthwise(x.astype(dtype), kernel.astype(dtype), s)


def _shifted_sum(x, kernel, strides: int):
  """sum over taps (i, j) of tap_ij(x) * kernel[i, j, 0]: [N, H', W', C]."""
  out = None
  for (i, j), tap in _taps(x, kernel.shape[0], strides):
    term = tap * kernel[i, j, 0]
    out = term if out is None else out + term
  return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def shifted_depthwise(x, kernel, strides: int):
  """Depthwise 'SAME' convolution as a sum of shifted multiplies.

  Equal to the grouped convolution with `feature_group_count=C`, value and
  gradients, but written so that XLA:CPU compiles it to vectorised loops.

  Args:
    x: [N, H, W, C].
    kernel: [k, k, 1, C], nn.Conv's layout.
    strides: spatial stride s.

  Returns:
    [N, ceil(H/s), ceil(W/s), C].
  """
  return _shifted_sum(x, kernel, strides)


def _shifted_depthwise_fwd(x, kernel, strides):
  # The backward pass slices its taps from x again.
  return _shifted_sum(x, kernel, strides), (x, kernel)


def _shifted_depthwise_bwd(strides, residuals, g):
  x, kernel = residuals
  return (
      _shifted_input_grad(g, kernel, strides, x.shape[1:3]),
      _shifted_kernel_grad(x, g, kernel, strides),
  )


shifted_depthwise.defvjp(_shifted_depthwise_fwd, _shifted_depthwise_bwd)


def _shifted_kernel_grad(x, g, kernel, strides: int):
  """d loss / d kernel: [k, k, 1, C], one reduction over [N, H', W'] per tap.

  Sums run in float32 whatever the compute dtype: each adds N * H' * W'
  products.
  """
  k = kernel.shape[0]
  grads = [
      jnp.sum(tap * g, axis=(0, 1, 2), dtype=jnp.float32)
      for _, tap in _taps(x, k, strides)
  ]
  return jnp.stack(grads).reshape(kernel.shape).astype(kernel.dtype)


def _shifted_input_grad(g, kernel, strides: int, hw: tuple[int, int]):
  """d loss / d x: [N, H, W, C], as s*s sub-pixel correlations of g.

  Padded input row u = s*a + p (0 <= p < s) is read by the taps i = p + s*m
  at output row a - m, so each of the s*s phases (p, q) of the padded
  gradient is a sum of shifted slices of one zero-padded g times the
  matching kernel taps; the phases are interleaved and the padding cropped.
  For s = 1 this is the correlation of g with the flipped kernel.

  Args:
    g: [N, ceil(H/s), ceil(W/s), C], the output's cotangent.
    kernel: [k, k, 1, C].
    strides: s.
    hw: (H, W) of the input.
  """
  k, s = kernel.shape[0], strides
  (h, w), (gh, gw) = hw, g.shape[1:3]
  (top, bottom), (left, right) = _same_padding(h, k, s), _same_padding(w, k, s)
  rows, cols = -(-(h + top + bottom) // s), -(-(w + left + right) // s)
  reach = (k - 1) // s  # the farthest shift, in output rows
  gp = jnp.pad(g, ((0, 0), (reach, rows - gh), (reach, cols - gw), (0, 0)))
  phases = []
  for p in range(s):
    row = []
    for q in range(s):
      # A phase no tap reads (only when k < s) gets no gradient.
      acc = jnp.zeros_like(gp[:, :rows, :cols])
      for i in range(p, k, s):
        for j in range(q, k, s):
          di, dj = reach - (i - p) // s, reach - (j - q) // s
          acc = acc + gp[:, di : di + rows, dj : dj + cols] * kernel[i, j, 0]
      row.append(acc)
    phases.append(jnp.stack(row, axis=3))  # [N, rows, cols, s, C]
  n, c = g.shape[0], g.shape[3]
  # [N, rows, s, cols, s, C] -> [N, rows * s, cols * s, C], one pair of axes
  # at a time: with the batch sharded, JAX infers each single merge's sharding.
  full = jnp.stack(phases, axis=2).reshape(n, rows, s, cols * s, c)
  full = full.reshape(n, rows * s, cols * s, c)
  return full[:, top : top + h, left : left + w]


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
    y = matmul(x.astype(dtype), kernel[0, 0].astype(dtype))
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


@jax.custom_vjp
def matmul(x, kernel):
  """x [N, ..., C] @ kernel [C, F] -> [N, ..., F], for 1x1 convolutions.

  The kernel's gradient is contracted image by image (a dot batched over the
  leading axis N) and then summed over N. As one contraction over every
  position, XLA:CPU asks for the output's cotangent transposed and writes it
  with a transposing loop that recomputes the batch norm's backward pass:
  measured, 38 ms of a 290 ms step for one 48x80x48 layer. The im2col convs
  keep `jnp.dot`: inside the scanned cell, on a 6x10 grid, the per-image
  form's sum cost more than it saved (144 against 186 ms a depth_lstm step).
  """
  return jnp.dot(x, kernel)


def _matmul_fwd(x, kernel):
  return jnp.dot(x, kernel), (x, kernel)


def _matmul_bwd(residuals, g):
  x, kernel = residuals
  n, c, f = x.shape[0], x.shape[-1], g.shape[-1]
  per_image = jax.lax.dot_general(
      x.reshape(n, -1, c),
      g.reshape(n, -1, f),
      (((1,), (1,)), ((0,), (0,))),
      preferred_element_type=jnp.float32,
  )  # [N, C, F]
  return jnp.dot(g, kernel.T), jnp.sum(per_image, 0).astype(kernel.dtype)


matmul.defvjp(_matmul_fwd, _matmul_bwd)

"""Recurrent convolutional cells that carry pose evidence from frame to frame.

Every cell maps `(carry, x) -> (new_carry, y)` for one frame, with x and y
`[B, h, w, C]`, so the same module runs inside `nn.scan` over a clip (training)
and one frame at a time with the carry passed in and out (streaming export).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from bodypose_jax.model import layers


class ConvGRU(nn.Module):
  """Convolutional GRU (Ballas et al., 2016).

  Carry: h `[B, h, w, features]`. Output: the new h.
  """

  features: int
  kernel_size: int = 3
  dtype: Any = None
  conv_impl: str = "conv"  # layers.conv: 'conv' or 'im2col'

  def _conv(self, x, features, name):
    return layers.conv(
        x,
        features,
        self.kernel_size,
        impl=self.conv_impl,
        dtype=self.dtype,
        name=name,
    )

  @nn.compact
  def __call__(self, carry, x):
    h = carry
    gates = jax.nn.sigmoid(
        self._conv(jnp.concatenate([x, h], axis=-1), 2 * self.features, "gates")
    )
    update, reset = jnp.split(gates, 2, axis=-1)
    candidate = jnp.tanh(
        self._conv(
            jnp.concatenate([x, reset * h], axis=-1), self.features, "candidate"
        )
    )
    new_h = update * h + (1.0 - update) * candidate
    return new_h, new_h

  def initialize_carry(self, input_shape, dtype=jnp.float32):
    """Zero state for inputs of shape `[B, h, w, C]`."""
    return jnp.zeros((*input_shape[:-1], self.features), dtype)


class ConvLSTM(nn.Module):
  """Convolutional LSTM (Shi et al., 2015) with one convolution for all gates.

  Carry: (c, h), each `[B, h, w, features]`. Output: the new h.
  """

  features: int
  kernel_size: int = 3
  forget_bias: float = 1.0
  dtype: Any = None
  conv_impl: str = "conv"  # layers.conv: 'conv' or 'im2col'

  @nn.compact
  def __call__(self, carry, x):
    c, h = carry
    gates = layers.conv(
        jnp.concatenate([x, h], axis=-1),
        4 * self.features,
        self.kernel_size,
        impl=self.conv_impl,
        dtype=self.dtype,
        name="gates",
    )
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    new_c = jax.nn.sigmoid(f + self.forget_bias) * c + jax.nn.sigmoid(
        i
    ) * jnp.tanh(g)
    new_h = jax.nn.sigmoid(o) * jnp.tanh(new_c)
    return (new_c, new_h), new_h

  def initialize_carry(self, input_shape, dtype=jnp.float32):
    """Zero state (c, h) for inputs of shape `[B, h, w, C]`."""
    zeros = jnp.zeros((*input_shape[:-1], self.features), dtype)
    return zeros, zeros


class NoCell(nn.Module):
  """The single-frame baseline: no memory, the features pass through."""

  @nn.compact
  def __call__(self, carry, x):
    return carry, x

  def initialize_carry(self, input_shape, dtype=jnp.float32):
    del input_shape, dtype
    return ()


def make_cell(
    kind: str, features: int, kernel_size: int, dtype=None, conv_impl="conv"
):
  """Builds the cell named by `config.model.cell`: 'gru', 'lstm' or 'none'."""
  if kind == "gru":
    return ConvGRU(
        features, kernel_size, dtype=dtype, conv_impl=conv_impl, name="cell"
    )
  if kind == "lstm":
    return ConvLSTM(
        features, kernel_size, dtype=dtype, conv_impl=conv_impl, name="cell"
    )
  if kind == "none":
    return NoCell(name="cell")
  raise ValueError(f"Unknown cell {kind!r}; expected 'gru', 'lstm' or 'none'.")

"""Recurrent convolutional cells that carry pose evidence from frame to frame.

Every cell maps `(carry, x) -> (new_carry, y)` for one frame, with x and y
`[B, h, w, C]`, so the same module runs inside `nn.scan` over a clip (training)
and one frame at a time with the carry passed in and out (streaming export).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class ConvGRU(nn.Module):
  """Convolutional GRU (Ballas et al., 2016).

  Carry: h `[B, h, w, features]`. Output: the new h.
  """

  features: int
  kernel_size: int = 3
  dtype: Any = None

  def _conv(self, features, name):
    k = self.kernel_size
    return nn.Conv(
        features, (k, k), padding="SAME", dtype=self.dtype, name=name
    )

  @nn.compact
  def __call__(self, carry, x):
    h = carry
    gates = jax.nn.sigmoid(
        self._conv(2 * self.features, "gates")(jnp.concatenate([x, h], axis=-1))
    )
    update, reset = jnp.split(gates, 2, axis=-1)
    candidate = jnp.tanh(
        self._conv(self.features, "candidate")(
            jnp.concatenate([x, reset * h], axis=-1)
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

  @nn.compact
  def __call__(self, carry, x):
    c, h = carry
    k = self.kernel_size
    gates = nn.Conv(
        4 * self.features,
        (k, k),
        padding="SAME",
        dtype=self.dtype,
        name="gates",
    )(jnp.concatenate([x, h], axis=-1))
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


def make_cell(kind: str, features: int, kernel_size: int, dtype=None):
  """Builds the cell named by `config.model.cell`: 'gru', 'lstm' or 'none'."""
  if kind == "gru":
    return ConvGRU(features, kernel_size, dtype=dtype, name="cell")
  if kind == "lstm":
    return ConvLSTM(features, kernel_size, dtype=dtype, name="cell")
  if kind == "none":
    return NoCell(name="cell")
  raise ValueError(f"Unknown cell {kind!r}; expected 'gru', 'lstm' or 'none'.")

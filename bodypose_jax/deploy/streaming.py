"""The streaming step: one frame in, decoded keypoints and the next state out.

This is the function that ships: `export.py` converts it to TFLite, and the
JAX version here is the reference the exported models are verified against.
It takes frames in sensor units (RGB 0..255, depth in mm), already fitted into
the model's input size (the eval letterbox of input_pipeline), normalises them
inside, and decodes keypoints inside, so an app needs no pre- or
post-processing beyond the letterbox.

The recurrent state is a flat tuple of arrays, named after the cell's carry.
Float models carry it in float32. Integer models carry it in int8 with one
fixed scale per tensor, the same on the way in and on the way out, so feeding
the output back as the next input loses nothing: a calibrated scale on each
side would requantise the state every frame and let it drift.
"""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from bodypose_jax.data import input_pipeline
from bodypose_jax.model import heatmaps
from bodypose_jax.model import pose_net

_STATE_NAMES = {"gru": ("h",), "lstm": ("c", "h"), "none": ()}


@dataclasses.dataclass(frozen=True)
class StateFormat:
  """How the state crosses the step's boundary.

  Attributes:
    names: one per state tensor, e.g. ('c', 'h') for a ConvLSTM.
    shapes: [1, h, w, F] each.
    int8_scales: None for float32 state; else the real value of one int8
      step, per tensor (symmetric: zero is 0).
  """

  names: tuple[str, ...]
  shapes: tuple[tuple[int, ...], ...]
  int8_scales: tuple[float, ...] | None = None

  @property
  def dtype(self):
    return np.float32 if self.int8_scales is None else np.int8

  def zeros(self) -> tuple[np.ndarray, ...]:
    return tuple(np.zeros(s, self.dtype) for s in self.shapes)

  def encode(self, state):
    """Float state -> the boundary's dtype (identity for float models)."""
    if self.int8_scales is None:
      return tuple(state)
    return tuple(
        jnp.clip(jnp.round(x / s), -127, 127).astype(jnp.int8)
        for x, s in zip(state, self.int8_scales)
    )

  def decode(self, state):
    """The boundary's dtype -> float state."""
    if self.int8_scales is None:
      return tuple(state)
    return tuple(
        q.astype(jnp.float32) * s for q, s in zip(state, self.int8_scales)
    )


def state_format(model: pose_net.PoseNet, input_hw, int8_scales=None):
  """The StateFormat of `model` on frames of size `input_hw` (batch 1)."""
  leaves = jax.tree.leaves(_zero_carry(model, input_hw))
  return StateFormat(
      names=_STATE_NAMES[model.cell],
      shapes=tuple(tuple(x.shape) for x in leaves),
      int8_scales=None if int8_scales is None else tuple(int8_scales),
  )


def _zero_carry(model, input_hw):
  """The cell's zero carry (abstract) for one frame of size `input_hw`."""
  return jax.eval_shape(
      lambda: model.apply(
          {}, (1, *input_hw, 1), method=pose_net.PoseNet.initial_state
      )
  )


def int8_scales_for(state_samples, margin: float) -> tuple[float, ...]:
  """Symmetric int8 scales covering the states met in rollouts.

  Args:
    state_samples: float state tuples from JAX rollouts.
    margin: headroom factor over the largest magnitude seen.
  """
  peaks = np.max(
      [[np.abs(x).max() for x in state] for state in state_samples], axis=0
  )
  return tuple(float(max(p, 1e-6) * margin / 127.0) for p in peaks)


def make_step(
    model: pose_net.PoseNet,
    variables: Any,
    modality: str,
    input_config,
    fmt: StateFormat,
) -> Callable:
  """The streaming step as a pure function of (frame, *state).

  Args:
    model: a trained PoseNet (any convolution formulation).
    variables: its {'params', 'batch_stats'}.
    modality: 'rgb' or 'depth', for the normalisation.
    input_config: `config.input` (normalisation constants).
    fmt: the state's boundary format.

  Returns:
    step(frame, *state) -> dict with
      keypoints [1, J, 2] (x, y) input pixels, float32;
      confidences [1, J] peak-cell probability, float32;
      heatmaps [1, h, w, J] per-joint spatial softmax, float32;
      and one entry per state tensor, `state_<name>`, in `fmt`.
    frame is [1, H, W, C] float32 in sensor units.
  """
  names = tuple(f"state_{n}" for n in fmt.names)
  treedef = jax.tree.structure(_zero_carry(model, (8, 8)))

  def step(frame, *state):
    x = input_pipeline.normalise(frame, modality, input_config)
    carry = jax.tree.unflatten(treedef, fmt.decode(state))
    out, carry = model.apply(variables, x, carry, method=pose_net.PoseNet.step)
    keypoints, confidences = heatmaps.decode(
        out["heatmaps"], out["offsets"], model.head_stride
    )
    new_state = fmt.encode(jax.tree.leaves(carry))
    return {
        "keypoints": keypoints,
        "confidences": confidences,
        "heatmaps": heatmaps.spatial_softmax(out["heatmaps"]),
        **dict(zip(names, new_state)),
    }

  return step


def rollout(step: Callable, fmt: StateFormat, frames, state):
  """Runs `step` over a video from `state`, as one scan.

  Args:
    step: from `make_step`.
    fmt: its StateFormat.
    frames: [N, 1, H, W, C] in sensor units.
    state: the state before the first frame.

  Returns:
    The step's outputs stacked over the N frames (states included).
  """
  names = tuple(f"state_{n}" for n in fmt.names)

  def body(carry, frame):
    out = step(frame, *carry)
    return tuple(out[k] for k in names), out

  _, outs = jax.lax.scan(body, tuple(state), frames)
  return outs

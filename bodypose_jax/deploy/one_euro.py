r"""The One-Euro filter (Casiez et al., CHI 2012) on the reported keypoints.

An adaptive low-pass filter per joint: a first-order filter whose cutoff
rises with the joint's speed, so a still joint is smoothed hard (no jitter)
and a moving one lightly (little lag). Per frame, with dt the seconds since
the previous frame and alpha(fc) = 1 / (1 + 1 / (2 pi fc dt)):

  speed  = lerp(speed, (x - x_raw_prev) / (scale * dt), alpha(d_cutoff))
  cutoff = min_cutoff + beta * |speed|                  (Hz)
  x_out  = lerp(x_out_prev, x, alpha(cutoff))

with lerp(a, b, w) = a + w (b - a). The first frame of a stream, and every
frame after a restart, passes through unchanged with speed 0.

Scale invariance (MediaPipe's rule). MediaPipe's LandmarksSmoothingCalculator
filters landmarks in image pixels and divides only the *derivative* by an
object scale: its OneEuroFilter computes dx = (x - x_raw_prev) * value_scale
* frequency with value_scale = 1 / object_scale, and object_scale is the mean
of the width and height of the landmarks' axis-aligned bounding box in
pixels (GetObjectScale). `velocity_scale` belongs to its other filter
(RelativeVelocityFilter), not to the One-Euro one. So min_cutoff and
d_cutoff are plain frequencies (Hz, independent of resolution) and beta is
in Hz per (object size per second): the same person moving the same way at
1080p and at 480p gets the same cutoffs, and the output scales with the
input. This module does the same, with `object_scale` = (width + height) / 2
of the bounding box of the frame's confident joints (confidence >=
`tracking.min_joint_confidence`, as the tracker's ROI uses; all joints when
none is), at least `MIN_SCALE` pixels. MediaPipe's pose landmarks use
min_cutoff 0.1, beta 40, d_cutoff 1.0 in exactly these units (its 33
BlazePose landmarks span about what the 25 Kinect joints do), so its numbers
carry over.

One deliberate difference: MediaPipe filters x and y as two independent
signals, each with its own |speed|; here a joint's cutoff comes from the norm
of its 2-D speed, so x and y share one alpha and the filter does not depend
on the image's orientation (a diagonal move is not bent towards an axis).

`step` is pure and written for numpy or jax.numpy (`xp`), with the state as
explicit arrays, so it runs in the host's streaming loop
(`tracking.HostTracker`), over a finished video (`filter_video`, which
evaluation uses) and inside `jax.lax.scan` alike. The filter acts on the
keypoints reported to the user, never on the ROI the tracker feeds back:
see `tracking.HostTracker`.
"""

from typing import NamedTuple

from absl import flags

import numpy as np

# Below this object scale (pixels) the joints have collapsed to a point:
# the scale is clamped, which makes any motion "fast" (the filter passes it).
MIN_SCALE = 1.0


class Params(NamedTuple):
  """The filter's settings; each a float, or an array that broadcasts
  against [..., J] (e.g. [G, 1] for G settings at once over [G, J, 2]).

  Attributes:
    min_cutoff: Hz, the cutoff of a still joint (lower: steadier).
    beta: Hz per (object size / second), how fast the cutoff rises with
      speed (higher: less lag on fast motion).
    d_cutoff: Hz, the cutoff of the speed estimate itself.
  """

  min_cutoff: float = 0.1
  beta: float = 40.0
  d_cutoff: float = 1.0


class State(NamedTuple):
  """The filter's memory between frames.

  Attributes:
    value: [..., J, 2] the last output, frame pixels.
    raw: [..., J, 2] the last input, frame pixels.
    speed: [..., J, 2] the smoothed velocity, object scales per second.
    started: [...] bool; False: the next frame passes through (a stream's
      start, or after a reset).
  """

  value: object
  raw: object
  speed: object
  started: object


def from_config(cfg) -> Params | None:
  """`config.tracking.one_euro` (or a dict of it) -> Params, or None when
  it is not enabled."""
  cfg = dict(cfg)
  if not cfg.get("enabled", False):
    return None
  return Params(*(float(cfg[k]) for k in Params._fields))


def init(batch_shape, num_joints: int, xp=np) -> State:
  """A state that passes the next frame through: keypoints [*batch_shape,
  num_joints, 2]."""
  batch_shape = tuple(batch_shape)
  zeros = xp.zeros((*batch_shape, num_joints, 2), xp.float32)
  return State(zeros, zeros, zeros, xp.zeros(batch_shape, bool))


def alpha(cutoff, dt, xp=np):
  """The first-order low-pass weight of the new sample at `cutoff` Hz for a
  step of `dt` seconds: 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff)."""
  tau = 1.0 / (2.0 * np.pi * xp.maximum(cutoff, 1e-12))
  return 1.0 / (1.0 + tau / dt)


def object_scale(keypoints, valid=None, xp=np):
  """MediaPipe's object scale: the mean of the width and height of the
  joints' bounding box, in the keypoints' pixels.

  Args:
    keypoints: [..., J, 2].
    valid: [..., J] bool, the joints that count; all when None, and all
      where none is valid.

  Returns:
    [...] at least MIN_SCALE.
  """
  if valid is None:
    valid = xp.ones(keypoints.shape[:-1], bool)
  valid = valid | ~xp.any(valid, axis=-1, keepdims=True)
  big = xp.asarray(np.inf, keypoints.dtype)
  lo = xp.min(xp.where(valid[..., None], keypoints, big), axis=-2)
  hi = xp.max(xp.where(valid[..., None], keypoints, -big), axis=-2)
  extent = hi - lo
  return xp.maximum((extent[..., 0] + extent[..., 1]) / 2.0, MIN_SCALE)


def step(state: State, keypoints, scale, dt, params: Params, restart=False,
         xp=np):
  """Filters one frame.

  Args:
    state: from `init` or the previous call.
    keypoints: [..., J, 2] this frame's raw keypoints, frame pixels.
    scale: [...] or scalar, the object scale in the same pixels
      (`object_scale`).
    dt: seconds since the previous frame (scalar or [...]), > 0.
    params: Params.
    restart: [...] or scalar bool: this frame starts afresh (tracking was
      lost and the tracker looked at the whole frame again): it passes
      through, as a stream's first frame does.

  Returns:
    (filtered [..., J, 2], the next State).
  """
  keypoints = xp.asarray(keypoints, xp.float32)
  scale = xp.asarray(scale, xp.float32)[..., None, None]
  dt = xp.asarray(dt, xp.float32)
  dt_j = dt[..., None] if dt.ndim else dt  # against [..., J]
  dt_k = dt[..., None, None] if dt.ndim else dt  # against [..., J, 2]
  fresh = xp.logical_or(xp.asarray(restart, bool), ~state.started)
  fresh = xp.broadcast_to(fresh, keypoints.shape[:-2])[..., None, None]
  velocity = (keypoints - state.raw) / (scale * dt_k)
  d_cutoff = xp.asarray(params.d_cutoff, xp.float32)[..., None]
  speed = state.speed + alpha(d_cutoff, dt_k, xp) * (velocity - state.speed)
  speed = xp.where(fresh, 0.0, speed)
  cutoff = params.min_cutoff + params.beta * xp.sqrt(
      xp.sum(speed * speed, axis=-1))
  a = alpha(cutoff, dt_j, xp)[..., None]
  out = state.value + a * (keypoints - state.value)
  out = xp.where(fresh, keypoints, out).astype(xp.float32)
  started = xp.ones(keypoints.shape[:-2], bool)
  return out, State(out, keypoints, speed.astype(xp.float32), started)


def restarts(lost):
  """[N, ...] bool whether each frame starts afresh: the first, and every
  frame after one judged lost (the tracker then looks at the whole frame)."""
  lost = np.asarray(lost, bool)
  return np.concatenate([np.ones_like(lost[:1]), lost[:-1]])


def filter_video(keypoints, confidences, lost, fps: float, params: Params,
                 min_joint_confidence: float = 0.0):
  """The filter run over a finished video, frame by frame as a stream would.

  The filter is causal and the tracker never sees its output, so this gives
  exactly what `tracking.HostTracker` reports online.

  Args:
    keypoints: [N, ..., J, 2] raw keypoints, frame pixels.
    confidences: [N, ..., J] the joints' confidences (they choose the
      joints of the object scale).
    lost: [N, ...] whether tracking was judged lost after each frame.
    fps: frames per second of the video.
    params: Params (arrays broadcasting against [..., J] filter several
      settings at once).
    min_joint_confidence: joints below it do not shape the object scale.

  Returns:
    [N, ..., J, 2] float32 filtered keypoints.
  """
  keypoints = np.asarray(keypoints, np.float32)
  confidences = np.asarray(confidences)
  restart = restarts(lost)
  state = init(keypoints.shape[1:-2], keypoints.shape[-2])
  out = np.empty_like(keypoints)
  for t in range(len(keypoints)):
    scale = object_scale(keypoints[t], confidences[t] >= min_joint_confidence)
    out[t], state = step(state, keypoints[t], scale, 1.0 / fps, params,
                         restart[t])
  return out


def resolve(base, overrides=None) -> Params | None:
  """The settings to run: `base` (`config.tracking.one_euro` or the
  sidecar's dict of it; a missing one is the config's defaults, off) with
  the not-None fields of `overrides` (e.g. command-line flags: enabled,
  min_cutoff, beta, d_cutoff) on top. None when the result is not enabled."""
  # Params' defaults are config.tracking.one_euro's (MediaPipe's), off.
  settings = {"enabled": False, **Params()._asdict()}
  settings.update(dict(base or {}))
  settings.update({k: v for k, v in dict(overrides or {}).items()
                   if v is not None})
  unknown = set(settings) - {"enabled", *Params._fields}
  if unknown:
    raise ValueError(f"Unknown One-Euro settings {sorted(unknown)}.")
  return from_config(settings)


def define_flags(settings_from: str):
  """Defines the --one_euro* flags that `evaluate` and `demo` share.

  Args:
    settings_from: where unset flags take their values, for the help text
      (e.g. "the workdir config's", "the sidecar's").
  """
  flags.DEFINE_bool(
      "one_euro", None,
      "Report the keypoints after the One-Euro filter (--noone_euro: the "
      f"raw ones); default {settings_from} tracking.one_euro.enabled.")
  flags.DEFINE_float("one_euro_min_cutoff", None,
                     f"The filter's min_cutoff (Hz); default {settings_from}.")
  flags.DEFINE_float("one_euro_beta", None,
                     "The filter's beta (Hz per person size per second); "
                     f"default {settings_from}.")
  flags.DEFINE_float("one_euro_d_cutoff", None,
                     f"The filter's d_cutoff (Hz); default {settings_from}.")


def flag_overrides() -> dict:
  """The --one_euro* flags as `resolve`'s overrides (None: not given)."""
  values = flags.FLAGS
  return {"enabled": values.one_euro,
          "min_cutoff": values.one_euro_min_cutoff,
          "beta": values.one_euro_beta,
          "d_cutoff": values.one_euro_d_cutoff}

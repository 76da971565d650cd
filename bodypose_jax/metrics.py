"""Pose accuracy: PCK normalised by torso size and mean pixel error.

Metrics are accumulated as sums inside the jitted eval step (so they are exact
over any number of batches and devices) and divided once at the end.
"""

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from bodypose_jax import skeleton


def torso_lengths(target, tracking_state):
  """Each frame's torso length and whether it can normalise errors.

  Args:
    target: [..., J, 2] ground truth in pixels.
    tracking_state: [..., J].

  Returns:
    torso [...] (spine base to spine-at-shoulders, pixels) and frame_ok [...]:
    both torso joints have ground truth and the torso is >= 1 px.
  """
  a, b = skeleton.TORSO
  torso = jnp.linalg.norm(target[..., a, :] - target[..., b, :], axis=-1)
  known = (tracking_state[..., a] > 0) & (tracking_state[..., b] > 0)
  return torso, known & (torso >= 1.0)


def pose_metric_sums(
    pred, target, tracking_state, pck_thresholds: Sequence[float]
) -> dict:
  """Sums for PCK and pixel error over the joints with ground truth.

  A joint counts when its tracking state is non-zero (tracked or inferred) and
  the frame's torso (spine base to spine-at-shoulders) is known and at least
  one pixel long.

  Args:
    pred: [..., J, 2] predicted keypoints in input pixels.
    target: [..., J, 2] ground-truth keypoints in input pixels.
    tracking_state: [..., J] 0 (no ground truth), 1 (inferred), 2 (tracked).
    pck_thresholds: fractions of the torso size.

  Returns:
    {'count', 'pixel_error', 'pck@<thr>' ...}: float32 scalars (sums).
  """
  valid = tracking_state > 0
  torso, frame_ok = torso_lengths(target, tracking_state)
  mask = (valid & frame_ok[..., None]).astype(jnp.float32)
  dist = jnp.linalg.norm(pred - target, axis=-1)
  sums = {"count": mask.sum(), "pixel_error": (dist * mask).sum()}
  for thr in pck_thresholds:
    hit = (dist <= thr * torso[..., None]).astype(jnp.float32)
    sums[f"pck@{thr:g}"] = (hit * mask).sum()
  return sums


def finalize(sums: Mapping[str, float]) -> dict:
  """Turns accumulated sums into means: PCK in [0, 1], error in pixels."""
  count = max(float(sums["count"]), 1.0)
  return {k: float(v) / count for k, v in sums.items() if k != "count"} | {
      "num_joints_evaluated": float(sums["count"])
  }


def accumulate(total: dict | None, sums: Mapping) -> dict:
  """Adds one batch's sums (device arrays) to the running host totals."""
  sums = {k: np.asarray(v, np.float64) for k, v in sums.items()}
  if total is None:
    return sums
  return {k: total[k] + sums[k] for k in total}

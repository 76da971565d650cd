"""Pose accuracy: PCK normalised by torso size and mean pixel error.

Metrics are accumulated as sums inside the jitted eval step (so they are exact
over any number of batches and devices) and divided once at the end.
"""

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from bodypose_jax.model import skeleton


def torso_lengths(target, tracking_state):
  """Each frame's torso length and whether it can normalise errors.

  The torso runs from the spine's base to the spine at the shoulders
  (`skeleton.TORSO`). Where either of the two has no ground truth (a teacher
  such as BlazePose has no spine joints) but both hips and both shoulders
  have, it runs from the hips' midpoint to the shoulders' midpoint instead
  (`skeleton.TORSO_SIDES`; on real NTU skeletons 3-13% shorter than the
  spine). A frame with neither, or a torso under one pixel, cannot
  normalise and is not scored.

  Args:
    target: [..., J, 2] ground truth in pixels.
    tracking_state: [..., J].

  Returns:
    torso [...] in pixels and frame_ok [...]: the torso is known and >= 1 px.
  """
  a, b = skeleton.TORSO
  spine = jnp.linalg.norm(target[..., a, :] - target[..., b, :], axis=-1)
  spine_known = (tracking_state[..., a] > 0) & (tracking_state[..., b] > 0)
  (hl, hr), (sl, sr) = skeleton.TORSO_SIDES
  sides = jnp.linalg.norm(
      (target[..., hl, :] + target[..., hr, :]) / 2
      - (target[..., sl, :] + target[..., sr, :]) / 2,
      axis=-1,
  )
  sides_known = jnp.all(
      tracking_state[..., [hl, hr, sl, sr]] > 0, axis=-1
  )
  torso = jnp.where(spine_known, spine, sides)
  return torso, (spine_known | sides_known) & (torso >= 1.0)


def pose_metric_sums(
    pred, target, tracking_state, pck_thresholds: Sequence[float]
) -> dict:
  """Sums for PCK and pixel error over the joints with ground truth.

  A joint counts when its tracking state is non-zero (tracked or inferred) and
  the frame's torso (`torso_lengths`) is known and at least one pixel long.

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

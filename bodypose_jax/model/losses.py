"""Training loss: heatmap cross-entropy, sub-cell offset regression and an
optional penalty on the keypoint error's acceleration (jitter)."""

import jax
import jax.numpy as jnp

from bodypose_jax.model import heatmaps


def joint_weights(tracking_state, inferred_weight: float, confidence=None):
  """Loss weight per joint: 1 tracked, `inferred_weight` inferred, 0 absent,
  times the label's confidence.

  Kinect skeletons have confidence 1; a teacher's labels (tracking state 2
  where it found the joint, 0 where not) weigh by its confidence, so an
  absent joint weighs 0 either way.

  Args:
    tracking_state: [..., J] tracking state (0, 1, 2).
    inferred_weight: weight of an inferred (state 1) joint.
    confidence: [..., J] in [0, 1], or None (all 1).
  """
  weights = jnp.where(
      tracking_state == 2,
      1.0,
      jnp.where(tracking_state == 1, inferred_weight, 0.0),
  )
  return weights if confidence is None else weights * confidence


def pose_loss(
    outputs,
    joints,
    tracking_state,
    *,
    stride: int,
    sigma: float,
    offset_weight: float,
    inferred_weight: float,
    accel_weight: float = 0.0,
    confidence=None,
):
  """Weighted loss over every frame of the clip.

  The heatmap term is a cross-entropy between the spatial softmax of each
  joint's logits and a Gaussian target distribution: it trains faster than an
  L2 on heatmaps and its argmax is sharp. The offset term is an L1 on the
  sub-cell offset at the cell that holds the joint.

  With `accel_weight` > 0 it adds `acceleration_loss` on the expected
  keypoints (`heatmaps.expected_keypoints`). The per-frame terms score each
  frame alone and ask nothing of steadiness, so a recurrent model keeps its
  frame-to-frame noise (the temporal study measures it as acceleration
  error); this term asks for steadiness.

  Args:
    outputs: {'heatmaps': [B, T, h, w, J], 'offsets': [B, T, h, w, J, 2]}.
    joints: [B, T, J, 2] ground truth in input pixels.
    tracking_state: [B, T, J].
    accel_weight: weight of `acceleration_loss`; 0 leaves it out.
    confidence: [B, T, J] per-joint label confidence (`joint_weights`), or
      None (all 1).

  Returns:
    (loss scalar, {'heatmap_loss', 'offset_loss'[, 'accel_loss']}).
  """
  logits = outputs["heatmaps"]
  h, w, j = logits.shape[-3:]
  weights = joint_weights(tracking_state, inferred_weight, confidence)
  norm = jnp.maximum(weights.sum(), 1.0)

  target = heatmaps.gaussian_targets(joints, (h, w), stride, sigma)
  log_probs = jax.nn.log_softmax(
      logits.reshape(*logits.shape[:-3], h * w, j), axis=-2
  )
  ce = -(target.reshape(log_probs.shape) * log_probs).sum(axis=-2)  # [B,T,J]
  heatmap_loss = (ce * weights).sum() / norm

  index, offset_target = heatmaps.target_cells(joints, (h, w), stride)
  flat = outputs["offsets"].reshape(*logits.shape[:-3], h * w, j, 2)
  offset_pred = jnp.take_along_axis(flat, index[..., None, :, None], axis=-3)[
      ..., 0, :, :
  ]  # [B,T,J,2]
  l1 = jnp.abs(offset_pred - offset_target).sum(-1)
  offset_loss = (l1 * weights).sum() / norm

  loss = heatmap_loss + offset_weight * offset_loss
  aux = {"heatmap_loss": heatmap_loss, "offset_loss": offset_loss}
  if accel_weight:
    keypoints = heatmaps.expected_keypoints(logits, outputs["offsets"], stride)
    aux["accel_loss"] = acceleration_loss(keypoints, joints, weights, stride)
    loss = loss + accel_weight * aux["accel_loss"]
  return loss, aux


def acceleration_loss(keypoints, joints, weights, stride: int):
  """Weighted L1 of the keypoint error's second difference in time, in cells.

  The error's, not the keypoints': a joint that accelerates must still be
  followed, and a constant bias is not jitter. It is the training twin of
  the acceleration error the video metrics report. A frame triple weighs the
  product of its three joint weights, so a joint absent from any of them
  adds nothing. Clips shorter than 3 frames give 0.

  Args:
    keypoints: [B, T, J, 2] predictions in input pixels.
    joints: [B, T, J, 2] ground truth in input pixels.
    weights: [B, T, J] joint weights (`joint_weights`).
    stride: input pixels per heatmap cell.

  Returns:
    Scalar: the weighted mean of |Δ²(keypoints - joints)|₁ / stride.
  """
  error = (keypoints - joints) / stride
  accel = error[:, 2:] - 2 * error[:, 1:-1] + error[:, :-2]
  w = weights[:, 2:] * weights[:, 1:-1] * weights[:, :-2]
  return (jnp.abs(accel).sum(-1) * w).sum() / jnp.maximum(w.sum(), 1.0)

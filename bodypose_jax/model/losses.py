"""Training loss: heatmap cross-entropy plus sub-cell offset regression."""

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
    confidence=None,
):
  """Weighted loss over every frame of the clip.

  The heatmap term is a cross-entropy between the spatial softmax of each
  joint's logits and a Gaussian target distribution: it trains faster than an
  L2 on heatmaps and its argmax is sharp. The offset term is an L1 on the
  sub-cell offset at the cell that holds the joint.

  Args:
    outputs: {'heatmaps': [B, T, h, w, J], 'offsets': [B, T, h, w, J, 2]}.
    joints: [B, T, J, 2] ground truth in input pixels.
    tracking_state: [B, T, J].
    confidence: [B, T, J] per-joint label confidence (`joint_weights`), or
      None (all 1).

  Returns:
    (loss scalar, {'heatmap_loss', 'offset_loss'}).
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
  return loss, {"heatmap_loss": heatmap_loss, "offset_loss": offset_loss}

"""Heatmap targets, keypoint decoding, the loss and the PCK metric."""

import jax
import jax.numpy as jnp
import numpy as np

from bodypose_jax.evaluators import metrics
from bodypose_jax.model import heatmaps
from bodypose_jax.model import losses
from bodypose_jax.model import skeleton


def _joints(rng, n, hw, stride):
  h, w = hw
  return rng.uniform(
      [0, 0], [w * stride - 1, h * stride - 1], size=(n, skeleton.NUM_JOINTS, 2)
  ).astype(np.float32)


def test_decode_inverts_targets():
  rng = np.random.default_rng(0)
  hw, stride = (6, 10), 8
  joints = _joints(rng, 3, hw, stride)
  target = heatmaps.gaussian_targets(joints, hw, stride, sigma=0.5)
  np.testing.assert_allclose(target.sum(axis=(-3, -2)), 1.0, rtol=1e-5)
  index, offsets = heatmaps.target_cells(joints, hw, stride)
  # A head that outputs the target offset in every cell, peaked at the target.
  offsets_map = jnp.broadcast_to(offsets[:, None, None], (3, *hw, 25, 2))
  logits = (
      jax.nn.one_hot(index, hw[0] * hw[1], axis=-2).reshape(3, *hw, 25) * 10
  )
  decoded, confidence = heatmaps.decode(logits, offsets_map, stride)
  np.testing.assert_allclose(decoded, joints, atol=1e-4)
  assert np.all(confidence > 0.99 * np.exp(10) / (np.exp(10) + 59))


def test_loss_is_lowest_at_the_target():
  rng = np.random.default_rng(1)
  hw, stride = (6, 10), 8
  joints = _joints(rng, 2, hw, stride)[:, None]  # [B, T=1, J, 2]
  state = np.full(joints.shape[:-1], 2, np.int32)
  target = heatmaps.gaussian_targets(joints, hw, stride, 1.0)
  _, offsets = heatmaps.target_cells(joints, hw, stride)
  good = {
      "heatmaps": jnp.log(target),
      "offsets": jnp.broadcast_to(
          offsets[:, :, None, None], (2, 1, *hw, 25, 2)
      ),
  }
  bad = {
      "heatmaps": jnp.roll(good["heatmaps"], 2, axis=-2),
      "offsets": good["offsets"] + 0.3,
  }
  kw = dict(stride=stride, sigma=1.0, offset_weight=1.0, inferred_weight=0.5)
  good_loss, good_aux = losses.pose_loss(good, joints, state, **kw)
  bad_loss, _ = losses.pose_loss(bad, joints, state, **kw)
  assert good_aux["offset_loss"] < 1e-5
  assert good_loss < bad_loss
  # Joints without ground truth contribute nothing.
  none_loss, _ = losses.pose_loss(bad, joints, np.zeros_like(state), **kw)
  assert none_loss == 0.0


def test_pck_and_pixel_error():
  target = np.zeros((2, skeleton.NUM_JOINTS, 2), np.float32)
  a, b = skeleton.TORSO
  target[:, b] = [0.0, 50.0]  # torso of 50 px
  pred = target.copy()
  pred[0, 3] += [6.0, 8.0]  # 10 px off: < 0.5 * 50, > 0.1 * 50
  pred[1, 5] += [0.0, 30.0]  # 30 px off: > 0.5 * 50
  state = np.full((2, skeleton.NUM_JOINTS), 2, np.int32)
  state[1, 7] = 0  # no ground truth: not counted
  sums = metrics.pose_metric_sums(pred, target, state, (0.1, 0.2, 0.5))
  m = metrics.finalize(metrics.accumulate(None, sums))
  n = 2 * skeleton.NUM_JOINTS - 1
  assert m["num_joints_evaluated"] == n
  np.testing.assert_allclose(m["pck@0.5"], (n - 1) / n, rtol=1e-6)
  np.testing.assert_allclose(m["pck@0.1"], (n - 2) / n, rtol=1e-6)
  np.testing.assert_allclose(m["pixel_error"], 40.0 / n, rtol=1e-6)
  # A frame whose torso is unknown is skipped entirely.
  state[0, a] = 0
  sums = metrics.pose_metric_sums(pred, target, state, (0.2,))
  assert float(sums["count"]) == skeleton.NUM_JOINTS - 1

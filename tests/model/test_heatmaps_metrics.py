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


def _peaked_head(joints, hw, stride, peak):
  """A head's outputs for joints [N, J, 2]: logits `peak` at each joint's
  cell and 0 elsewhere, and the joint's offset in every cell."""
  n = len(joints)
  index, offsets = heatmaps.target_cells(joints, hw, stride)
  offsets_map = jnp.broadcast_to(offsets[:, None, None], (n, *hw, 25, 2))
  one_hot = jax.nn.one_hot(index, hw[0] * hw[1], axis=-2)
  return one_hot.reshape(n, *hw, 25) * peak, offsets_map


def test_decode_inverts_targets():
  rng = np.random.default_rng(0)
  hw, stride = (6, 10), 8
  joints = _joints(rng, 3, hw, stride)
  target = heatmaps.gaussian_targets(joints, hw, stride, sigma=0.5)
  np.testing.assert_allclose(target.sum(axis=(-3, -2)), 1.0, rtol=1e-5)
  logits, offsets_map = _peaked_head(joints, hw, stride, 10)
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


def test_expected_keypoints_are_decode_on_a_peaked_map_and_have_gradients():
  rng = np.random.default_rng(2)
  hw, stride = (6, 10), 8
  joints = _joints(rng, 3, hw, stride)
  peaked, offsets_map = _peaked_head(joints, hw, stride, 30)
  expected = heatmaps.expected_keypoints(peaked, offsets_map, stride)
  np.testing.assert_allclose(expected, joints, atol=1e-3)
  # A flat map gives the mean of the cells' estimates: the grid's centre.
  flat = heatmaps.expected_keypoints(
      jnp.zeros((1, *hw, 25)), jnp.zeros((1, *hw, 25, 2)), stride)
  np.testing.assert_allclose(
      flat, np.broadcast_to([(hw[1] * stride - 1) / 2,
                             (hw[0] * stride - 1) / 2], (1, 25, 2)),
      rtol=1e-6)
  # Unlike decode's argmax, it moves with every logit and every offset.
  grads = jax.grad(
      lambda l, o: heatmaps.expected_keypoints(l, o, stride).sum(),
      argnums=(0, 1))(peaked / 10, offsets_map)
  assert all(float(jnp.abs(g).min()) > 0 for g in
             (grads[0].sum(-1), grads[1].sum(-1)))


def test_acceleration_loss_scores_jitter_not_bias_or_motion():
  t = np.arange(8, dtype=np.float32)
  joints = np.zeros((1, 8, skeleton.NUM_JOINTS, 2), np.float32)
  joints[..., 0] = 5.0 * t[:, None] ** 2  # an accelerating joint, followed
  weights = np.ones(joints.shape[:-1], np.float32)
  stride = 4
  drift = joints + 3.0 + 0.5 * t[None, :, None, None]  # bias + drift
  assert float(losses.acceleration_loss(drift, joints, weights, stride)) < 1e-5
  # ±d on x, alternating: |Δ²| = 4d on every triple.
  d = 2.0
  jitter = joints.copy()
  jitter[..., 0] += d * (-1.0) ** t[None, :, None]
  np.testing.assert_allclose(
      losses.acceleration_loss(jitter, joints, weights, stride),
      4 * d / stride, rtol=1e-6)
  # Only joint 0 jitters; with it absent in frame 3 its triples 1-3, 2-4 and
  # 3-5 weigh nothing, and the other joints (perfect) are the mean's rest.
  one = joints.copy()
  one[:, :, 0, 0] += d * (-1.0) ** t
  absent = weights.copy()
  absent[0, 3, 0] = 0
  got = float(losses.acceleration_loss(one, joints, absent, stride))
  counted = absent[:, 2:] * absent[:, 1:-1] * absent[:, :-2]
  np.testing.assert_allclose(
      got, (4 * d / stride) * counted[0, :, 0].sum() / counted.sum(),
      rtol=1e-6)
  assert counted[0, :, 0].sum() == 3


def test_pose_loss_adds_the_acceleration_term_only_when_weighted():
  rng = np.random.default_rng(3)
  hw, stride = (6, 10), 8
  joints = _joints(rng, 2 * 4, hw, stride).reshape(2, 4, 25, 2)
  state = np.full(joints.shape[:-1], 2, np.int32)
  outputs = {
      "heatmaps": jnp.asarray(rng.normal(size=(2, 4, *hw, 25)), jnp.float32),
      "offsets": jnp.asarray(rng.normal(size=(2, 4, *hw, 25, 2)) * 0.1,
                             jnp.float32),
  }
  kw = dict(stride=stride, sigma=1.0, offset_weight=1.0, inferred_weight=0.5)
  base, base_aux = losses.pose_loss(outputs, joints, state, **kw)
  assert "accel_loss" not in base_aux
  loss, aux = losses.pose_loss(outputs, joints, state, accel_weight=0.5, **kw)
  keypoints = heatmaps.expected_keypoints(
      outputs["heatmaps"], outputs["offsets"], stride)
  accel = losses.acceleration_loss(
      keypoints, joints, losses.joint_weights(state, 0.5), stride)
  assert float(accel) > 0
  np.testing.assert_allclose(aux["accel_loss"], accel, rtol=1e-6)
  np.testing.assert_allclose(loss, base + 0.5 * accel, rtol=1e-6)


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

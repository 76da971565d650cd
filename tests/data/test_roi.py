"""The ROI geometry: one rule in NumPy, JAX and TensorFlow, crops that agree
with the training pipeline's, and a state warp that moves with the ROI."""

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi

INPUT_HW = (32, 24)
FRAME_HW = (54, 96)
XPS = {"numpy": (np, np.asarray), "jax": (jnp, jnp.asarray),
       "tf": (tnp, tf.constant)}


def _tracking(**kw):
  return ml_collections.ConfigDict(dict(
      margin=1.25, min_height_fraction=0.1, lost_threshold=0.05,
      min_joint_confidence=0.1, smoothing=0.0) | kw)


def _poses(seed=0, n=3):
  rng = np.random.default_rng(seed)
  centre = rng.uniform([20, 15], [76, 40], (n, 1, 2))
  return (centre + rng.normal(0, 6, (n, 25, 2))).astype(np.float32)


@pytest.mark.parametrize("name", list(XPS))
def test_next_roi_is_one_rule_in_every_array_module(name):
  xp, conv = XPS[name]
  points = _poses()
  conf = np.full((3, 25), 0.5, np.float32)
  conf[1] = 0.01  # lost: mean below the threshold
  conf[2, :5] = 0.0  # five joints too unsure to bound
  current = np.tile(roi.whole_frame(FRAME_HW, INPUT_HW), (3, 1))
  got, lost = roi.next_roi(conv(points), conv(conf), conv(current), FRAME_HW,
                           INPUT_HW, _tracking(), xp)
  want, want_lost = roi.next_roi(points, conf, current, FRAME_HW, INPUT_HW,
                                 _tracking())
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(lost), [False, True, False])
  np.testing.assert_array_equal(want_lost, [False, True, False])
  np.testing.assert_allclose(want[1], roi.whole_frame(FRAME_HW, INPUT_HW))
  # The ROI covers its joints with the margin to spare, at the input aspect.
  sure = points[2, 5:]
  box_h = np.ptp(sure[:, 1])
  box_w = np.ptp(sure[:, 0])
  assert want[2, 2] == pytest.approx(
      1.25 * max(box_h, box_w / roi.aspect(INPUT_HW)), rel=1e-5)
  inside = roi.to_input(sure, want[2], INPUT_HW)
  assert np.all((inside >= -0.5) & (inside <= np.array(INPUT_HW[::-1]) - 0.5))


@pytest.mark.parametrize("name", list(XPS))
def test_follow_previous_bounds_the_previous_pose(name):
  xp, conv = XPS[name]
  points = _poses(n=4)
  valid = np.ones((4, 25), bool)
  valid[2] = False  # frame 2 has no pose: frame 3 has no reference
  valid[0, :10] = False
  got, has_ref = roi.follow_previous(conv(points), conv(valid), FRAME_HW,
                                     INPUT_HW, 1.25, 0.1, xp)
  np.testing.assert_array_equal(np.asarray(has_ref), [True, True, True, False])
  min_height = 0.1 * roi.whole_frame(FRAME_HW, INPUT_HW)[2]
  for t, ref in ((0, 0), (1, 0), (2, 1)):
    want = roi.from_keypoints(points[ref], valid[ref], INPUT_HW, 1.25,
                              min_height)
    np.testing.assert_allclose(np.asarray(got)[t], want, rtol=1e-5)


def test_to_input_and_to_frame_are_inverse_and_fit_the_frame():
  points = _poses()[0]
  r = np.array([40.0, 30.0, 20.0], np.float32)
  np.testing.assert_allclose(
      roi.to_frame(roi.to_input(points, r, INPUT_HW), r, INPUT_HW), points,
      atol=1e-4)
  # The whole frame's pixel edges land inside the input's (letterbox).
  whole = roi.whole_frame(FRAME_HW, INPUT_HW)
  corners = np.array([[-0.5, -0.5], [FRAME_HW[1] - 0.5, FRAME_HW[0] - 0.5]],
                     np.float32)
  mapped = roi.to_input(corners, whole, INPUT_HW)
  assert np.all(mapped >= -0.5 - 1e-4)
  assert np.all(mapped <= np.array(INPUT_HW[::-1]) - 0.5 + 1e-4)
  assert np.isclose(mapped[0, 0], -0.5) or np.isclose(mapped[0, 1], -0.5)


@pytest.mark.parametrize("nearest", [False, True])
def test_crop_matches_the_training_pipelines_crop(nearest):
  rng = np.random.default_rng(1)
  frames = rng.uniform(0, 255, (5, *FRAME_HW, 3)).astype(np.float32)
  # Inside, straddling an edge, zoomed out past the frame, zoomed in, and
  # at scale 1 on half pixels (nearest's ties, one of them at -0.5).
  rois = np.array([[48.0, 27.0, 30.0], [5.0, 50.0, 40.0],
                   [47.5, 26.5, 120.0], [60.3, 20.7, 9.1],
                   [5.0, 30.0, 32.0]], np.float32)
  want = input_pipeline.crop(tf.constant(frames), tf.constant(rois), INPUT_HW,
                             "NEAREST" if nearest else "BILINEAR").numpy()
  for xp in (np, jnp):
    got = np.stack([np.asarray(roi.crop(xp.asarray(f), xp.asarray(r),
                                        INPUT_HW, nearest, xp))
                    for f, r in zip(frames, rois)])
    np.testing.assert_allclose(got, want, atol=1e-2)


def test_warp_grid_keeps_the_state_on_the_person():
  stride = 4
  grid = (INPUT_HW[0] // stride, INPUT_HW[1] // stride)
  r0 = np.array([[40.0, 30.0, 32.0]], np.float32)  # 1 frame px per input px
  x = np.random.default_rng(2).normal(size=(1, *grid, 3)).astype(np.float32)
  np.testing.assert_allclose(
      roi.warp_grid(x, r0, r0, INPUT_HW, stride), x, atol=1e-6)
  # The ROI moves one cell right: the map moves one cell left, and the
  # column that enters from outside the old ROI is empty.
  r1 = r0 + np.array([[stride, 0.0, 0.0]], np.float32)
  moved = roi.warp_grid(x, r0, r1, INPUT_HW, stride)
  np.testing.assert_allclose(moved[:, :, :-1], x[:, :, 1:], atol=1e-5)
  np.testing.assert_allclose(moved[:, :, -1], 0.0, atol=1e-6)
  # Twice the height: each old cell covers half a new one, around the centre.
  r2 = r0 * np.array([[1.0, 1.0, 2.0]], np.float32)
  zoomed = np.asarray(roi.warp_grid(np.ones_like(x), r0, r2, INPUT_HW,
                                    stride))
  assert zoomed[0, 0, 0, 0] == 0.0 and zoomed[0, 4, 3, 0] == 1.0
  np.testing.assert_allclose(
      np.asarray(roi.warp_grid(x, r0, r1, INPUT_HW, stride, jnp)), moved,
      atol=1e-5)

"""Tests for tfds_ntu.rgb_to_depth: the depth-to-colour homography fitted to
real and synthetic skeleton files, and colour warped onto the depth grid."""

import functools
import os

import cv2
import numpy as np
import pytest

from tfds_ntu import kinect
from tfds_ntu import layout
from tfds_ntu import rgb_to_depth
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import render
from tfds_ntu.synthetic import scene
from tfds_ntu.synthetic import sensor
from tfds_ntu import video_io

import real_samples

_REAL = ("S001C001P001R001A011", "S002C001P003R001A003", "S004C002P003R001A017")
# No sensor faults, so that the person's colour pixels can be told from the
# background plate by a plain difference.
_QUIET = sensor.SensorNoise(
    hole_fraction=0.0,
    flying_pixel_prob=0.0,
    rgb_blur_px=(0.0, 0.0),
    rgb_noise=(0.0, 0.0),
    rgb_gain=(1.0, 1.0),
    jpeg_quality=(95, 95),
)
_SPEC = render.SyntheticSpec(
    seed=1,
    cameras=(1,),
    performers=(1,),
    actions=(23,),
    num_frames=3,
    modalities=("rgb", "depth_masked"),
    occluder_prob=0.0,
    noise=_QUIET,
    num_workers=1,
)
_OUT = (212, 256)
# What the current builder would do: stretch the whole colour frame over the
# depth frame.
_STRETCH = np.diag([1920 / 512, 1080 / 424, 1.0])


@functools.cache
def _real_actor(name):
  path = real_samples.samples_dir() / "nturgbd_skeletons" / f"{name}.skeleton"
  return skeleton_file.main_actor(skeleton_file.read_skeleton(path))


def _errors(h, actor):
  """[T, 25] colour-pixel distance of each mapped depth joint."""
  mapped = rgb_to_depth.depth_to_colour(h, actor.depth_xy)
  return np.linalg.norm(mapped - actor.color_xy, axis=-1)


@pytest.mark.parametrize("name", _REAL)
def test_real_joints_fit_a_homography(name):
  actor = _real_actor(name)
  h, residual = rgb_to_depth.fit_depth_to_colour(
      actor.depth_xy, actor.color_xy, actor.tracking_state
  )
  assert h.shape == (3, 3) and h.dtype == np.float64 and h[2, 2] == 1.0
  # Measured: 0.40, 0.74 and 0.65 px RMS, every tracked joint kept.
  assert residual < 1.0
  errors = _errors(h, actor)[actor.tracking_state == 2]
  # Measured: at most 2.9 px; 97-100% within 2 px.
  assert np.mean(errors < 3.0) > 0.99
  assert errors.max() < 5.0
  # Colour pixels are ~2.9 depth pixels wide (1055 / 365.5 focal lengths).
  assert 2.6 < np.sqrt(abs(np.linalg.det(h[:2, :2]))) < 3.2
  # Any leading shape: the same joints as [T, bodies, 25, 2] fit the same.
  h2, residual2 = rgb_to_depth.fit_depth_to_colour(
      np.stack([actor.depth_xy] * 2, 1),
      np.stack([actor.color_xy] * 2, 1),
      np.stack([actor.tracking_state] * 2, 1),
  )
  np.testing.assert_allclose(h2, h, rtol=1e-6, atol=1e-9)
  assert residual2 == pytest.approx(residual)


def test_mis_mapped_joints_are_dropped():
  actor = _real_actor(_REAL[1])
  clean, _ = rgb_to_depth.fit_depth_to_colour(
      actor.depth_xy, actor.color_xy, actor.tracking_state
  )
  rng = np.random.default_rng(0)
  bad = (actor.tracking_state == 2) & (
      rng.random(actor.tracking_state.shape) < 0.05
  )
  colour = actor.color_xy.copy()
  colour[bad] += rng.uniform(30.0, 80.0, (bad.sum(), 2)) * rng.choice(
      [-1, 1], (bad.sum(), 2)
  )
  h, residual = rgb_to_depth.fit_depth_to_colour(
      actor.depth_xy, colour, actor.tracking_state
  )
  assert residual < 1.0
  # Both fits map the depth image's body region alike.
  drift = np.linalg.norm(
      rgb_to_depth.depth_to_colour(h, actor.depth_xy)
      - rgb_to_depth.depth_to_colour(clean, actor.depth_xy),
      axis=-1,
  )
  assert drift[actor.tracking_state == 2].max() < 0.5


def test_too_few_or_degenerate_joints_are_refused():
  rng = np.random.default_rng(0)
  depth = rng.uniform(100.0, 400.0, (2, 25, 2))
  colour = depth * 2.9 + [230.0, -30.0]
  state = np.ones((2, 25), int)
  state[0, :5] = 2
  state[1, 3] = 2
  with pytest.raises(ValueError, match="too few tracked joints.*6 of 50"):
    rgb_to_depth.fit_depth_to_colour(depth, colour, state)
  # Not tracked or not finite: unusable.
  state[:] = 2
  depth[:, 6:] = np.nan
  with pytest.raises(ValueError, match="too few tracked joints.*12 of 50"):
    rgb_to_depth.fit_depth_to_colour(depth, colour, state, min_points=13)
  # Enough joints, but on one line.
  line = np.linspace(0.0, 1.0, 20)[:, None]
  with pytest.raises(ValueError, match="degenerate.*collinear"):
    rgb_to_depth.fit_depth_to_colour(
        100 + line * [50, 80], 200 + line * [150, 240], np.full(20, 2)
    )
  with pytest.raises(ValueError, match="same leading shape"):
    rgb_to_depth.fit_depth_to_colour(depth, colour, state[0])


def _blob(size, centre, sigma):
  """[h, w, 3] uint8 Gaussian spot at `centre` in full-size pixel coordinates
  (pixel centres at +0.5) of an image of `size` resized from 1080x1920."""
  height, width = size
  sy, sx = height / 1080, width / 1920
  ys, xs = np.mgrid[:height, :width] + 0.5
  spot = np.exp(
      -((xs - centre[0] * sx) ** 2 + (ys - centre[1] * sy) ** 2)
      / (2 * (sigma * sx) ** 2)
  )
  return np.repeat((255 * spot).astype(np.uint8)[..., None], 3, -1)


@pytest.mark.parametrize("frame_size", [(1080, 1920), (270, 480)])
@pytest.mark.parametrize("out_size", [(424, 512), (106, 128)])
def test_warp_puts_a_colour_point_on_its_depth_pixel(frame_size, out_size):
  # A depth-to-colour map with the Kinect's scale and offsets.
  h = np.array([[2.9, 0.02, 230.0], [-0.01, 2.85, -30.0], [2e-5, 1e-5, 1.0]])
  depth_xy = np.array([300.3, 150.7])
  colour_xy = rgb_to_depth.depth_to_colour(h, depth_xy)
  frames = _blob(frame_size, colour_xy, 24.0)[None]
  out = rgb_to_depth.warp_colour_to_depth(frames, h, out_size)
  assert out.shape == (1, *out_size, 3) and out.dtype == np.uint8
  weight = out[0, ..., 0].astype(np.float64)
  ys, xs = np.mgrid[: out_size[0], : out_size[1]] + 0.5
  found = np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
  found = found * [512 / out_size[1], 424 / out_size[0]]
  np.testing.assert_allclose(found, depth_xy, atol=0.15)


def test_warp_is_black_outside_the_colour_view():
  # The depth camera sees more rows than the colour camera: the top and
  # bottom of the depth image lie outside the colour view, its sides inside.
  depth_xy = np.mgrid[0:425:53, 0:513:64].reshape(2, -1).T[:, ::-1] * 1.0
  xyz = np.concatenate(
      [
          (depth_xy - [kinect.DEPTH_CAMERA.cx, kinect.DEPTH_CAMERA.cy])
          / kinect.DEPTH_CAMERA.fx
          * [3.0, -3.0],
          np.full((len(depth_xy), 1), 3.0),
      ],
      axis=1,
  )
  colour_xy = kinect.COLOR_CAMERA.project(xyz)
  h, residual = rgb_to_depth.fit_depth_to_colour(
      depth_xy, colour_xy, np.full(len(depth_xy), 2)
  )
  assert residual < 1e-6
  out = rgb_to_depth.warp_colour_to_depth(
      np.full((2, 540, 960, 3), 255, np.uint8), h, _OUT
  )
  # Where each output pixel's centre falls in the colour image.
  ys, xs = np.mgrid[: _OUT[0], : _OUT[1]] + 0.5
  at = rgb_to_depth.depth_to_colour(
      h, np.stack([xs * 512 / _OUT[1], ys * 424 / _OUT[0]], -1)
  )
  margin = np.minimum(
      np.minimum(at[..., 0], 1920 - at[..., 0]),
      np.minimum(at[..., 1], 1080 - at[..., 1]),
  )
  assert (margin[0] < -2).all() and (margin[-1] < -2).all()
  assert (margin[:, [0, -1]][20:-20] > 2).all()
  assert (out[:, margin > 2] == 255).all()
  assert (out[:, margin < -2] == 0).all()


@pytest.fixture(scope="module")
def synthetic_sample(tmp_path_factory):
  """The rendered sample's fitted homography, colour frames at the render
  scale, a colour person mask per frame, and the masked depth silhouette."""
  root = str(tmp_path_factory.mktemp("ntu"))
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR):
    os.makedirs(os.path.join(root, folder))
  (sample,) = _SPEC.sample_ids()
  render.render_sample(root, _SPEC, sample)
  actor = skeleton_file.main_actor(
      skeleton_file.read_skeleton(layout.skeleton_path(root, sample.name))
  )
  h, residual = rgb_to_depth.fit_depth_to_colour(
      actor.depth_xy, actor.color_xy, actor.tracking_state
  )
  scale = _SPEC.rgb_render_scale
  size = (round(1080 * scale), round(1920 * scale))
  frames = video_io.read_rgb_video(layout.rgb_path(root, sample.name), *size)
  # The person's colour pixels: where a frame differs from the empty room.
  performance = render.perform(_SPEC, sample)
  _, room = scene.render_background(
      performance.setup,
      performance.props,
      performance.view,
      kinect.COLOR_CAMERA.scaled(scale),
      *size,
      shade=True,
  )
  diff = np.abs(frames.astype(int) - np.clip(room, 0, 255).astype(int))
  person = [
      cv2.morphologyEx(
          (d.max(-1) > 20).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3))
      )
      for d in diff
  ]
  person = np.repeat(np.stack(person)[..., None] * 255, 3, -1)
  depth, _ = video_io.read_depth_frames(
      layout.depth_masked_dir(root, sample.name), *_OUT
  )
  silhouette = depth[..., 0] > 0
  return dict(
      h=h,
      residual=residual,
      frames=frames,
      person=person,
      silhouette=silhouette,
  )


def _iou(a, b):
  return (a & b).sum() / (a | b).sum()


def _alignment(sample, h):
  """IoU of the warped colour person mask with the depth silhouette, and the
  depth-grid shift of the silhouette (within 3 px) that maximizes it."""
  warped = (
      rgb_to_depth.warp_colour_to_depth(sample["person"], h, _OUT)[..., 0] > 127
  )
  shifts = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]
  ious = [
      _iou(warped, np.roll(sample["silhouette"], s, (1, 2))) for s in shifts
  ]
  return ious[shifts.index((0, 0))], shifts[int(np.argmax(ious))]


def test_synthetic_colour_lines_up_with_depth(synthetic_sample):
  # The files' joints are exact up to 7-digit rounding; the body's depth
  # extent leaves a little parallax.
  assert synthetic_sample["residual"] < 0.5  # measured 0.19 px
  iou, best = _alignment(synthetic_sample, synthetic_sample["h"])
  assert iou > 0.85  # measured 0.94
  assert best == (0, 0)
  warped = rgb_to_depth.warp_colour_to_depth(
      synthetic_sample["frames"], synthetic_sample["h"], _OUT
  )
  assert warped.shape == (3, *_OUT, 3)
  # Colour where the depth camera sees the person, black above the colour
  # view's top edge.
  person = warped[synthetic_sample["silhouette"]]
  assert person.mean() > 40 and warped[:, 0].max() == 0


@pytest.mark.parametrize(
    "wrong",
    [
        _STRETCH,
        # The right map but 3 depth pixels (~9 colour pixels) to the side.
        "shifted",
    ],
)
def test_a_wrong_homography_fails_the_alignment_check(synthetic_sample, wrong):
  h = synthetic_sample["h"]
  if isinstance(wrong, str):
    wrong = h @ np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  iou, best = _alignment(synthetic_sample, wrong)
  # Both halves of the check that passes for the fitted map fail.
  assert iou < 0.85  # measured 0.62 (stretch), 0.78 (shifted)
  assert best != (0, 0)

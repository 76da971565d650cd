"""Tests for the synthetic NTU-format renderer: determinism and geometry."""

import dataclasses
import os
import pathlib

import numpy as np
import pytest

from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu import synthetic
from tfds_ntu import video_io

import real_samples

_SPEC = synthetic.SyntheticSpec(
    seed=3, setups=(1,), cameras=(1, 2, 3), performers=(1, 3),
    replications=(1,), actions=(10, 80), num_frames=6, num_workers=1)
_SAMPLE = layout.SampleId(1, 1, 3, 1, 80)


def _render(root, spec=_SPEC, sample=_SAMPLE):
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
  synthetic.render_sample(root, spec, sample)
  name = sample.name
  return {
      'skeleton': pathlib.Path(layout.skeleton_path(root, name)).read_bytes(),
      'depth': video_io.read_depth_frames(
          layout.depth_masked_dir(root, name), *layout.DEPTH_SIZE),
      'rgb': video_io.read_rgb_video(layout.rgb_path(root, name),
                                     *layout.RGB_SIZE),
  }


def test_same_seed_gives_identical_files(tmp_path):
  first = _render(str(tmp_path / 'a'))
  second = _render(str(tmp_path / 'b'))
  assert first['skeleton'] == second['skeleton']
  np.testing.assert_array_equal(first['depth'], second['depth'])
  np.testing.assert_array_equal(first['rgb'], second['rgb'])
  other = _render(str(tmp_path / 'c'), dataclasses.replace(_SPEC, seed=4))
  assert other['skeleton'] != first['skeleton']


def test_files_have_ntu_formats(tmp_path):
  files = _render(str(tmp_path))
  assert files['rgb'].shape == (6, 1080, 1920, 3)
  assert files['depth'].shape == (6, 424, 512, 1)
  assert files['depth'].dtype == np.uint16
  # Masked depth: the background is zero, the body a few metres away.
  body = files['depth'][files['depth'] > 0]
  assert 0.005 < body.size / files['depth'].size < 0.2
  assert 2000 < body.min() and body.max() < 4500
  lines = files['skeleton'].split(b'\r\n')
  assert lines[0] == b'6' and lines[1] == b'1' and lines[3] == b'25'
  assert len(lines[2].split()) == 10
  assert all(len(line.split()) == 12 for line in lines[4:29])


def test_skeleton_pixels_follow_the_kinect_cameras(tmp_path):
  root = str(tmp_path)
  files = _render(root)
  actor = skeleton_file.main_actor(
      skeleton_file.read_skeleton(layout.skeleton_path(root, _SAMPLE.name)))
  joints = actor.joints_3d.astype(np.float64)
  x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
  # The DESIGN.md equations, written out rather than through the renderer.
  np.testing.assert_allclose(actor.depth_xy[..., 0], 365.5 * x / z + 256.4,
                             atol=0.01)
  np.testing.assert_allclose(actor.depth_xy[..., 1], -365.5 * y / z + 208.5,
                             atol=0.01)
  np.testing.assert_allclose(actor.color_xy[..., 0],
                             1055 * (x + 0.053) / z + 965, atol=0.01)
  np.testing.assert_allclose(actor.color_xy[..., 1], -1055 * y / z + 565,
                             atol=0.01)
  # Tracked joints sit inside the body seen in the depth image.
  depth = files['depth'][..., 0].astype(np.float64) / 1000.0
  u, v = np.floor(actor.depth_xy).astype(int).transpose(2, 0, 1)
  t = np.arange(len(depth))[:, None]
  tracked = actor.tracking_state == 2
  surface = depth[t, v, u][tracked]
  assert np.all(surface > 0)
  assert np.all(np.abs(surface - z[tracked]) < 0.2)
  # Tracked joints land on the body in the colour image (not the wall).
  rgb = files['rgb']
  wall = rgb[:, 5, 5].astype(int)
  cu, cv = np.floor(actor.color_xy).astype(int).transpose(2, 0, 1)
  on_joint = rgb[t, cv, cu].astype(int)
  differs = np.abs(on_joint - wall[:, None]).sum(-1) > 30
  assert differs[tracked].mean() > 0.9


def test_mirror_convention_left_joints_on_image_left(tmp_path):
  root = str(tmp_path)
  _render(root)  # Camera 1 faces the performer (turned by at most ~30 deg).
  actor = skeleton_file.main_actor(
      skeleton_file.read_skeleton(layout.skeleton_path(root, _SAMPLE.name)))
  left, right = synthetic.SHOULDER_L, synthetic.SHOULDER_R
  assert np.all(actor.color_xy[:, left, 0] < actor.color_xy[:, right, 0])
  assert np.all(actor.depth_xy[:, left, 0] < actor.depth_xy[:, right, 0])
  assert np.all(actor.joints_3d[:, left, 0] < actor.joints_3d[:, right, 0])


def test_camera_model_matches_real_files():
  folder = real_samples.samples_dir() / 'nturgbd_skeletons'
  for path in sorted(folder.glob('*.skeleton')):
    actor = skeleton_file.main_actor(skeleton_file.read_skeleton(path))
    joints = actor.joints_3d[actor.present].astype(np.float64)
    depth_err = synthetic.DEPTH_CAMERA.project(joints) - actor.depth_xy[
        actor.present]
    color_err = synthetic.COLOR_CAMERA.project(joints) - actor.color_xy[
        actor.present]
    # Distortion is not modelled: depth is within 1 px, colour a few px.
    assert np.abs(depth_err).max() < 1.5, path.name
    assert np.abs(color_err).max() < 8.0, path.name


def test_real_files_follow_the_mirror_convention():
  # S001C001P001R001A011 (reading) faces camera 1.
  path = (real_samples.samples_dir() / 'nturgbd_skeletons' /
          'S001C001P001R001A011.skeleton')
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(path))
  assert np.all(actor.color_xy[:, synthetic.SHOULDER_L, 0] <
                actor.color_xy[:, synthetic.SHOULDER_R, 0])


def test_render_dataset_layout_and_marker(tmp_path):
  spec = dataclasses.replace(_SPEC, num_frames=3, actions=(23,),
                             modalities=('depth_masked',))
  root = str(tmp_path)
  samples = synthetic.render_dataset(root, spec)
  assert [s.name for s in samples] == [
      f'S001C00{c}P00{p}R001A023' for c in (1, 2, 3) for p in (1, 3)]
  assert {layout.is_xsub_train(s) for s in samples} == {True, False}
  for s in samples:
    assert os.path.exists(layout.skeleton_path(root, s.name))
    assert os.path.exists(layout.depth_masked_frame_path(root, s.name, 2))
    assert not os.path.exists(layout.rgb_path(root, s.name))
  marker = os.path.join(root, synthetic.COMPLETION_MARKER)
  stamp = os.path.getmtime(layout.skeleton_path(root, samples[0].name))
  synthetic.render_dataset(root, spec)  # Already complete: nothing redone.
  assert os.path.getmtime(layout.skeleton_path(root, samples[0].name)) == stamp
  assert os.path.exists(marker)


def test_every_motion_keeps_the_body_in_both_images():
  spec = dataclasses.replace(_SPEC, num_frames=20)
  for action in synthetic.ACTIONS:
    for performer in (1, 3, 4, 7):
      for camera in (1, 2, 3):
        performance = synthetic.perform(
            spec, layout.SampleId(2, camera, performer, 1, action))
        for cam, (h, w) in ((synthetic.DEPTH_CAMERA, layout.DEPTH_SIZE),
                            (synthetic.COLOR_CAMERA, layout.RGB_SIZE)):
          uv = cam.project(performance.joints)
          assert uv.min() > 0 and uv[..., 0].max() < w and uv[
              ..., 1].max() < h, (action, performer, camera)

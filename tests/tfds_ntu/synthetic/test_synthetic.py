"""Tests for the synthetic NTU-format renderer: determinism, formats, geometry,
people, occlusion and sensor faults."""

import dataclasses
import json
import logging
import os
import pathlib

import cv2
import numpy as np
import pytest

from tfds_ntu import kinect
from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import body_model
from tfds_ntu.synthetic import render
from tfds_ntu.synthetic import sensor
from tfds_ntu import tfds_ntu_dataset_builder
from tfds_ntu import video_io

import real_samples

_SPEC = render.SyntheticSpec(
    seed=3, setups=(1,), cameras=(1, 2, 3), performers=(1, 3),
    replications=(1,), actions=(10, 80), num_frames=6, num_workers=1)
_SAMPLE = layout.SampleId(1, 1, 3, 1, 80)


def _render(root, spec=_SPEC, sample=_SAMPLE):
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
  render.render_sample(root, spec, sample)
  name = sample.name
  return {
      'skeleton': pathlib.Path(layout.skeleton_path(root, name)).read_bytes(),
      'depth': video_io.read_depth_frames(layout.depth_dir(root, name),
                                          *layout.DEPTH_SIZE)[0],
      'masked': video_io.read_depth_frames(
          layout.depth_masked_dir(root, name), *layout.DEPTH_SIZE)[0],
      'rgb': video_io.read_rgb_video(layout.rgb_path(root, name),
                                     *layout.RGB_SIZE),
  }


def _files(root):
  return {p.relative_to(root): p.read_bytes()
          for p in sorted(pathlib.Path(root).rglob('*')) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
  _render(str(tmp_path / 'a'))
  _render(str(tmp_path / 'b'))
  first, second = _files(tmp_path / 'a'), _files(tmp_path / 'b')
  assert len(first) == 1 + 1 + 2 * _SPEC.num_frames
  assert first == second
  _render(str(tmp_path / 'c'), dataclasses.replace(_SPEC, seed=4))
  other = _files(tmp_path / 'c')
  assert all(other[k] != first[k] for k in first)


def test_files_have_ntu_formats(tmp_path):
  files = _render(str(tmp_path))
  assert files['rgb'].shape == (6, 1080, 1920, 3)
  for key in ('depth', 'masked'):
    assert files[key].shape == (6, 424, 512, 1)
    assert files[key].dtype == np.uint16
  # Full depth sees the room: a reading almost everywhere, up to the walls.
  full = files['depth']
  assert (full > 0).mean() > 0.95
  assert full.max() > 4000
  # Masked depth: the background is zero, the body a few metres away, and
  # every masked reading is the full depth's.
  masked = files['masked']
  body = masked[masked > 0]
  assert 0.005 < body.size / masked.size < 0.2
  assert 2000 < np.median(body) < 4500
  np.testing.assert_array_equal(masked[masked > 0], full[masked > 0])
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
  # Tracked joints sit inside the body seen in the (noisy) depth image.
  depth = files['masked'][..., 0].astype(np.float64) / 1000.0
  u, v = np.floor(actor.depth_xy).astype(int).transpose(2, 0, 1)
  t = np.arange(len(depth))[:, None]
  tracked = actor.tracking_state == 2
  surface = depth[t, v, u][tracked]
  assert np.mean(surface > 0) > 0.9  # Holes and flying pixels aside.
  near = np.abs(surface - z[tracked]) < 0.3  # Flying pixels are not.
  assert near[surface > 0].mean() > 0.95
  # Tracked joints land on the person in the colour image: there the clean
  # rendering differs from the same scene without anyone in it.
  performance = render.perform(_SPEC, _SAMPLE)
  nobody = dataclasses.replace(performance, capsules=dataclasses.replace(
      performance.capsules, ends=performance.capsules.ends[:, :0],
      radii=performance.capsules.radii[:0]))
  scale = _SPEC.rgb_render_scale
  with_person = render.render_rgb(performance, scale)
  without = render.render_rgb(nobody, scale)
  cu, cv = np.floor(actor.color_xy * scale).astype(int).transpose(2, 0, 1)
  differs = np.abs(with_person[t, cv, cu] - without[t, cv, cu]).sum(-1) > 1
  assert differs[tracked].mean() > 0.95


def test_mirror_convention_left_joints_on_image_left(tmp_path):
  root = str(tmp_path)
  _render(root)  # Camera 1 faces the performer (turned by at most ~30 deg).
  actor = skeleton_file.main_actor(
      skeleton_file.read_skeleton(layout.skeleton_path(root, _SAMPLE.name)))
  left, right = body_model.SHOULDER_L, body_model.SHOULDER_R
  assert np.all(actor.color_xy[:, left, 0] < actor.color_xy[:, right, 0])
  assert np.all(actor.depth_xy[:, left, 0] < actor.depth_xy[:, right, 0])
  assert np.all(actor.joints_3d[:, left, 0] < actor.joints_3d[:, right, 0])


def test_camera_model_matches_real_files():
  folder = real_samples.samples_dir() / 'nturgbd_skeletons'
  for path in sorted(folder.glob('*.skeleton')):
    actor = skeleton_file.main_actor(skeleton_file.read_skeleton(path))
    joints = actor.joints_3d[actor.present].astype(np.float64)
    depth_err = kinect.DEPTH_CAMERA.project(joints) - actor.depth_xy[
        actor.present]
    color_err = kinect.COLOR_CAMERA.project(joints) - actor.color_xy[
        actor.present]
    # Distortion is not modelled: depth is within 1 px, colour a few px.
    assert np.abs(depth_err).max() < 1.5, path.name
    assert np.abs(color_err).max() < 8.0, path.name


def test_real_files_follow_the_mirror_convention():
  # S001C001P001R001A011 (reading) faces camera 1.
  path = (real_samples.samples_dir() / 'nturgbd_skeletons' /
          'S001C001P001R001A011.skeleton')
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(path))
  assert np.all(actor.color_xy[:, body_model.SHOULDER_L, 0] <
                actor.color_xy[:, body_model.SHOULDER_R, 0])


def test_two_person_action_writes_both_bodies_face_to_face(tmp_path):
  root = str(tmp_path)
  sample = layout.SampleId(1, 1, 1, 1, 58)  # Handshaking.
  spec = dataclasses.replace(_SPEC, actions=(58,), occluder_prob=0.0)
  _render(root, spec, sample)
  frames = skeleton_file.read_skeleton(layout.skeleton_path(root, sample.name))
  assert all(len(bodies) == 2 for bodies in frames)
  tracks = skeleton_file.body_tracks(frames)
  assert len(tracks) == 2
  a, b = (j[..., skeleton_file.XYZ] for j in tracks.values())
  gap = np.linalg.norm(a[:, body_model.SPINE_BASE] -
                       b[:, body_model.SPINE_BASE], axis=-1)
  assert np.all((0.6 < gap) & (gap < 1.6))
  # Face to face: each one's chest points towards the other.
  for me, other in ((a, b), (b, a)):
    across = me[:, body_model.SHOULDER_L] - me[:, body_model.SHOULDER_R]
    front = np.cross(across, [0.0, 1.0, 0.0])
    towards = other[:, body_model.SPINE_MID] - me[:, body_model.SPINE_MID]
    assert np.all(np.sum(front * towards, -1) > 0)
  # The right hands meet mid-shake.
  hands = np.linalg.norm(a[:, body_model.HAND_R] - b[:, body_model.HAND_R],
                         axis=-1)
  assert hands.min() < 0.25


def test_passing_object_hides_joints_as_inferred():
  sample = layout.SampleId(1, 1, 1, 1, 23)
  spec = dataclasses.replace(_SPEC, actions=(23,), num_frames=24)
  clear = render.perform(dataclasses.replace(spec, occluder_prob=0.0),
                            sample)
  crossed = render.perform(dataclasses.replace(spec, occluder_prob=1.0),
                              sample)
  np.testing.assert_array_equal(clear.actors[0].joints,
                                crossed.actors[0].joints)
  clear_depth, _ = render.render_depth(clear)
  crossed_depth, body = render.render_depth(crossed)
  before = render.tracking_states(clear, clear_depth)[0]
  after = render.tracking_states(crossed, crossed_depth)[0]
  newly = (after == 1) & (before == 2)
  assert np.all(after[before == 1] == 1)  # An object only hides more.
  assert newly.sum() >= 10
  # Where a joint became inferred, something nearer than the body (the
  # object) is what the depth camera sees.
  joints = crossed.actors[0].joints
  uv = np.floor(kinect.DEPTH_CAMERA.project(joints)).astype(int)
  t = np.arange(len(joints))[:, None]
  seen = crossed_depth[t, uv[..., 1], uv[..., 0]][newly]
  assert np.all(seen < joints[..., 2][newly] - 0.2)
  assert not body[t, uv[..., 1], uv[..., 0]][newly].any()


def test_sit_down_brings_a_chair_under_the_hips():
  sample = layout.SampleId(1, 1, 1, 1, 8)
  spec = dataclasses.replace(_SPEC, actions=(8,), num_frames=16)
  performance = render.perform(spec, sample)
  assert performance.props.lo.shape == (2, 3)  # Seat and back rest.
  seat_top = performance.props.hi[0, 1]
  hips = performance.actors[0].joints[:, body_model.HIP_L]
  # Seated at the end: hips lower than at the start, just above the seat.
  world_hip = (hips @ performance.view.rotation) + performance.view.centre
  assert world_hip[-1, 1] < world_hip[0, 1] - 0.25
  assert 0.0 < world_hip[-1, 1] - seat_top < 0.2


def test_render_dataset_layout_marker_and_stats(tmp_path):
  spec = dataclasses.replace(_SPEC, num_frames=3, actions=(23,),
                             modalities=('depth_masked',))
  root = str(tmp_path)
  samples = render.render_dataset(root, spec)
  assert [s.name for s in samples] == [
      f'S001C00{c}P00{p}R001A023' for c in (1, 2, 3) for p in (1, 3)]
  assert {layout.is_xsub_train(s) for s in samples} == {True, False}
  for s in samples:
    assert os.path.exists(layout.skeleton_path(root, s.name))
    assert os.path.exists(layout.depth_masked_frame_path(root, s.name, 2))
    assert not os.path.exists(layout.rgb_path(root, s.name))
    assert not os.path.exists(layout.depth_frame_path(root, s.name, 0))
  with open(os.path.join(root, render.STATS_FILE)) as f:
    stats = json.load(f)
  assert stats['samples'] == 6 and stats['frames'] == 18
  assert stats['actions'] == 1 and stats['two_person_samples'] == 0
  assert 0.0 <= stats['inferred_joint_fraction'] < 0.5
  assert stats['frames_per_second_per_core'] > 0
  stamp = os.path.getmtime(layout.skeleton_path(root, samples[0].name))
  render.render_dataset(root, spec)  # Already complete: nothing redone.
  assert os.path.getmtime(layout.skeleton_path(root, samples[0].name)) == stamp


def test_unknown_spec_values_are_named():
  spec = dataclasses.replace(_SPEC, actions=(23, 119), cameras=(4,))
  with pytest.raises(ValueError, match=r"'actions': \[119\].*'cameras': \[4\]"):
    spec.validate()


def test_every_embedded_sample_keeps_everyone_in_both_images():
  spec = tfds_ntu_dataset_builder.SYNTHETIC_SPEC
  assert len(spec.actions) >= 12
  assert sum(render.motions.MOTIONS[a].partner is not None
             for a in spec.actions) >= 3
  for sample in spec.sample_ids():
    for actor in render.perform(spec, sample).actors:
      for cam, (h, w) in ((kinect.DEPTH_CAMERA, layout.DEPTH_SIZE),
                          (kinect.COLOR_CAMERA, layout.RGB_SIZE)):
        uv = cam.project(actor.joints)
        assert uv.min() > 0 and uv[..., 0].max() < w and uv[
            ..., 1].max() < h, sample.name


def test_large_spec_keeps_its_tallest_performers_in_both_images():
  # The tallest performers are the ones whose raised hands and jumps leave
  # the images first; every sample of both specs was checked once (perform
  # + _check_in_view), this keeps the riskiest third of the large set.
  spec = tfds_ntu_dataset_builder.SYNTHETIC_LARGE_SPEC
  tall = sorted(spec.performers, key=lambda p: body_model.make_performer(
      spec.seed, p).stature)[-12:]
  check = render._check_in_view  # pylint: disable=protected-access
  for sample in spec.sample_ids():
    if sample.performer in tall:
      check(sample, render.perform(spec, sample))


def _performers(seed, numbers=range(1, 41)):
  return [body_model.make_performer(seed, p) for p in numbers]


@pytest.mark.parametrize('seed', [0, 1])
def test_performers_span_children_to_tall_adults(seed):
  people = _performers(seed)
  stature = np.array([p.stature for p in people])
  assert np.all((1.1 <= stature) & (stature <= 2.0))
  # Stratified: every block of 40 numbers reaches both ends.
  assert stature.min() < 1.2 and stature.max() > 1.9
  assert np.sum(stature < 1.4) >= 3  # Children.
  assert len({round(s, 4) for s in stature}) == len(people)
  for p in people:
    # The scale is set so that the body stands at its stature.
    assert abs(body_model.standing_stature(p) - p.stature) < 1e-6
    assert 0.8 <= p.girth <= 1.45 and 0.85 <= p.speed <= 1.15
    assert -3.0 <= p.slouch <= 12.0 and 0.0 <= p.head_forward <= 18.0
    assert abs(p.shoulder_drop) <= 0.015
    assert np.all((0.95 <= p.fit) & (p.fit <= 1.35))
  # Children have bigger heads and shorter legs for their stature.
  child = [p for p in people if p.stature < 1.4]
  adult = [p for p in people if p.stature > 1.65]
  assert min(p.head for p in child) > max(p.head for p in adult)
  assert np.mean([p.legs for p in child]) < np.mean([p.legs for p in adult])
  girth = [p.girth for p in people]
  assert min(girth) < 0.9 and max(girth) > 1.25
  assert max(p.fit.max() for p in people) > 1.25  # Loose clothes.
  assert {p.hair for p in people} == {body_model.NO_HAIR,
                                      body_model.SHORT_HAIR,
                                      body_model.LONG_HAIR}


def test_performers_are_deterministic():
  first, again = _performers(0, (7, 41)), _performers(0, (7, 41))
  for a, b in zip(first, again):
    for field in dataclasses.fields(body_model.Performer):
      np.testing.assert_array_equal(getattr(a, field.name),
                                    getattr(b, field.name))
  assert _performers(1, (7,))[0].stature != first[0].stature


def test_capsules_follow_hair_fit_and_head():
  people = _performers(0)
  by_hair = {p.hair: p for p in people}
  joints = body_model.pose_joints(people[0], {
      k: np.full(1, v) for k, v in body_model.POSE_DEFAULTS.items()})
  counts = {h: len(body_model.body_capsules(joints, p).radii)
            for h, p in by_hair.items()}
  assert counts[body_model.NO_HAIR] + 1 == counts[body_model.SHORT_HAIR]
  assert counts[body_model.SHORT_HAIR] + 1 == counts[body_model.LONG_HAIR]
  p = by_hair[body_model.LONG_HAIR]
  tight = dataclasses.replace(p, fit=np.ones(len(body_model.MATERIALS)))
  loose = dataclasses.replace(p, fit=np.full(len(body_model.MATERIALS), 1.3))
  ratio = (body_model.body_capsules(joints, loose).radii /
           body_model.body_capsules(joints, tight).radii)
  np.testing.assert_allclose(ratio, 1.3)
  # A joint's slack is the largest radius of its capsules: the head's is
  # its sphere, which grows with the head.
  slack = body_model.joint_slack(p)
  assert slack[body_model.HEAD] == pytest.approx(0.062 * p.height * p.head)
  assert np.all(body_model.joint_slack(loose) >= slack)


def test_left_handed_performers_wave_with_the_left_hand():
  spec = dataclasses.replace(_SPEC, performers=tuple(range(1, 41)),
                             actions=(23,), num_frames=12)
  people = dict(zip(range(1, 41), _performers(spec.seed)))
  left = next(n for n, p in people.items() if p.left_handed)
  right = next(n for n, p in people.items() if not p.left_handed)
  for number, hand, other in ((left, body_model.WRIST_L, body_model.WRIST_R),
                              (right, body_model.WRIST_R, body_model.WRIST_L)):
    joints = render.perform(
        spec, layout.SampleId(1, 1, number, 1, 23)).actors[0].joints
    head = joints[:, body_model.HEAD, 1]
    assert np.any(joints[:, hand, 1] > head), number
    assert np.all(joints[:, other, 1] < head), number


def test_a_performers_posture_is_theirs_in_every_setup():
  # Same performer and action in two setups: the sample's draws differ, the
  # performer's posture does not.
  spec = dataclasses.replace(_SPEC, setups=(1, 2), actions=(10,))
  lean = [render.perform(spec, layout.SampleId(s, 1, 1, 1, 10)).actors[0]
          .lean_y for s in (1, 2)]
  slouch = np.sin(np.radians(_performers(spec.seed, (1,))[0].slouch))
  np.testing.assert_allclose(lean, slouch)


def test_actions_per_performer_covers_every_action_on_both_sides():
  spec = tfds_ntu_dataset_builder.SYNTHETIC_SPEC
  samples = spec.sample_ids()
  assert 336 <= len(samples) <= 400 and spec.num_frames == 24
  performances = {}
  for s in samples:
    performances.setdefault((s.setup, s.performer, s.replication, s.action),
                            set()).add(s.camera)
  # Every performance is filmed by every camera.
  assert all(c == set(spec.cameras) for c in performances.values())
  for setup in spec.setups:
    for trains in (True, False):
      side = {(p, a) for (st, p, _, a) in performances
              if st == setup and (p in layout.XSUB_TRAIN_PERFORMERS_120)
              == trains}
      assert {a for _, a in side} == set(spec.actions), (setup, trains)
      assert len({p for p, _ in side}) >= 10
  for s, p, r, _ in performances:
    assert len(spec.performed_actions(s, p, r)) == spec.actions_per_performer
  assert len({s.performer for s in samples}) >= 20
  # Deterministic from the seed; another seed picks other actions.
  assert spec.sample_ids() == samples
  assert dataclasses.replace(spec, seed=1).sample_ids() != samples


def test_actions_per_performer_out_of_range_is_named():
  spec = dataclasses.replace(_SPEC, actions_per_performer=3)
  with pytest.raises(ValueError, match='actions_per_performer=3'):
    spec.validate()


def test_depth_sensor_faults():
  rng = np.random.default_rng(0)
  depth = np.full((424, 512), 4.0)
  depth[:, :256] = 1.0  # A step edge down the middle.
  noise = sensor.SensorNoise(hole_fraction=0.02, flying_pixel_prob=1.0)
  mm = sensor.degrade_depth(depth, rng, noise).astype(float)
  holes = mm == 0
  assert 0.01 < holes.mean() < 0.03
  edge = np.zeros_like(holes)
  edge[:, 254:258] = True
  # Flying pixels: mixed depths only along the edge.
  mixed = (mm > 1100) & (mm < 3600)  # Far noise std is 25 mm.
  assert mixed[edge & ~holes].mean() > 0.4
  assert not mixed[~edge].any()
  # Noise grows with distance.
  near, far = mm[:, :200][~holes[:, :200]], mm[:, 300:][~holes[:, 300:]]
  assert 0.5 < near.std() < far.std() < 60
  assert abs(near.mean() - 1000) < 1 and abs(far.mean() - 4000) < 5


def test_setups_span_the_real_camera_placements():
  # Real NTU: performers 2.8-3.9 m from the camera, which stands 0.5-1.2 m
  # above the floor (the feet's camera-space height).
  spec = dataclasses.replace(_SPEC, num_frames=2)
  distance, feet = [], []
  for setup in range(1, 31):
    joints = render.perform(
        spec, layout.SampleId(setup, 1, 1, 1, 10)).actors[0].joints
    distance.append(joints[:, body_model.SPINE_BASE, 2].mean())
    feet.append(joints[:, [body_model.FOOT_L, body_model.FOOT_R], 1].mean())
  folder = real_samples.samples_dir() / 'nturgbd_skeletons'
  for path in sorted(folder.glob('*.skeleton')):
    actor = skeleton_file.main_actor(skeleton_file.read_skeleton(path))
    joints = actor.joints_3d[actor.present]
    real_distance = joints[:, body_model.SPINE_BASE, 2].mean()
    real_feet = joints[:, [body_model.FOOT_L, body_model.FOOT_R], 1].mean()
    assert min(distance) - 0.3 < real_distance < max(distance) + 0.3, path
    assert min(feet) - 0.1 < real_feet < max(feet) + 0.1, path


def test_rgb_video_is_a_30fps_mjpg_avi(tmp_path):
  _render(str(tmp_path))
  capture = cv2.VideoCapture(layout.rgb_path(str(tmp_path), _SAMPLE.name))
  fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, 'little')
  assert fourcc == b'MJPG'
  assert capture.get(cv2.CAP_PROP_FPS) == 30
  assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == _SPEC.num_frames
  assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH),
          capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1920, 1080)
  capture.release()


def test_joint_tracking_without_a_depth_image_matches_the_image():
  sample = layout.SampleId(1, 1, 1, 1, 58)  # Two people and an object.
  spec = dataclasses.replace(_SPEC, actions=(58,), occluder_prob=1.0,
                             num_frames=12)
  performance = render.perform(spec, sample)
  depth, _ = render.render_depth(performance)
  np.testing.assert_array_equal(
      render.tracking_states(performance),
      render.tracking_states(performance, depth))


def _people_and_empty(appearance):
  performance = render.perform(_SPEC, _SAMPLE)
  nobody = dataclasses.replace(performance, capsules=dataclasses.replace(
      performance.capsules, ends=performance.capsules.ends[:, :0],
      radii=performance.capsules.radii[:0]))
  scale = _SPEC.rgb_render_scale
  return (render.render_rgb(performance, scale, appearance, seed=1),
          render.render_rgb(nobody, scale, appearance, seed=1))


def test_each_appearance_feature_changes_only_the_people():
  full = render.Appearance()
  on, empty = _people_and_empty(full)
  person = np.abs(on - empty).max(-1) > 0
  # Shading and texture recolour the people and nothing else.
  for field in ({'shading': False}, {'texture': 0.0}):
    off, _ = _people_and_empty(dataclasses.replace(full, **field))
    changed = np.abs(on - off).max(-1) > 0.5
    assert changed.sum() > 0.2 * person.sum(), field
    assert not changed[~person].any(), field
  # Soft edges change pixels along the outlines: mostly the silhouette's
  # border (capsules' edges inside the body move by up to half a pixel),
  # none away from the people.
  hard, _ = _people_and_empty(dataclasses.replace(full, soft_edges=False))
  changed = np.abs(on - hard).max(-1) > 0.5
  inside = (np.abs(hard - empty).max(-1) > 0).astype(np.uint8)
  ring = np.ones((3, 3), np.uint8)
  border = np.stack([cv2.dilate(m, ring) != cv2.erode(m, ring)
                     for m in inside])
  near = np.stack([cv2.dilate(m, ring) > 0 for m in inside])
  assert changed.sum() > 50
  assert changed[border].sum() > 0.5 * changed.sum()
  assert not changed[~near].any()
  # Motion blur: the waving hand smears, the still background does not.
  sharp, _ = _people_and_empty(dataclasses.replace(full, exposure=0.0))
  changed = np.abs(on - sharp).max(-1) > 0.5
  moving = person | (np.abs(sharp - empty).max(-1) > 0)
  assert changed.sum() > 50
  assert not changed[~moving].any()


def test_texture_is_deterministic_from_the_seed():
  performance = render.perform(_SPEC, _SAMPLE)
  scale = _SPEC.rgb_render_scale
  look = render.Appearance()
  first = render.render_rgb(performance, scale, look, seed=[1, 2])
  np.testing.assert_array_equal(
      first, render.render_rgb(performance, scale, look, seed=[1, 2]))
  assert not np.array_equal(
      first, render.render_rgb(performance, scale, look, seed=[1, 3]))


def test_progress_logs_samples_frames_per_second_and_eta(caplog):
  # absl's logger: an earlier test's absl.app may have lowered its verbosity.
  caplog.set_level(logging.INFO, logger='absl')
  times = iter([10.0, 12.0, 14.0, 16.0])
  done = [(f's{i}', {'frames': 24}) for i in range(4)]
  stats = render._log_progress(done, 4, 8.0, clock=lambda: next(times))
  assert sorted(stats) == ['s0', 's1', 's2', 's3']
  messages = [r.getMessage() for r in caplog.records]
  # After 2 of 4 samples in 4 s: 12 frames/s, 4 s to go.
  assert 'Rendered 2/4 samples (50%), 12.0 frames/s, ETA 0:00:04.' in messages
  assert messages[-1] == ('Rendered 4/4 samples (100%), 12.0 frames/s, ETA '
                          '0:00:00.')


def test_appearance_out_of_range_is_refused():
  spec = dataclasses.replace(
      _SPEC, appearance=render.Appearance(exposure=1.5))
  with pytest.raises(ValueError, match='exposure'):
    spec.validate()

"""Tests for tfds_ntu.skeleton_file against real NTU files and broken text."""

import numpy as np
import pytest

from tfds_ntu import skeleton_file

import real_samples



def _real_skeleton(name):
  return real_samples.samples_dir() / 'nturgbd_skeletons' / f'{name}.skeleton'


@pytest.mark.parametrize('name,num_frames', [
    ('S001C001P001R001A011', 82),
    ('S002C001P003R001A003', 100),
    ('S004C002P003R001A017', 124),
])
def test_real_files_parse_and_write_back_byte_for_byte(name, num_frames):
  path = _real_skeleton(name)
  frames = skeleton_file.read_skeleton(path)
  assert len(frames) == num_frames
  np.testing.assert_array_equal(skeleton_file.body_counts(frames),
                                np.ones(num_frames))
  assert path.read_bytes() == skeleton_file.format_skeleton(frames).encode()


def test_real_values_read_by_eye():
  frames = skeleton_file.read_skeleton(_real_skeleton('S001C001P001R001A011'))
  body = frames[0][0]
  assert body.body_id == 72057594037931648
  assert body.flags == (0, 1, 1, 1, 1, 0)
  assert body.lean == (-0.1159187, 0.1413209)
  # Joint 1 (spine base) and joint 6 (left elbow, inferred) of frame 1.
  np.testing.assert_array_equal(
      body.joints[0], [0.2058097, 0.1920515, 3.810989, 276.0976, 190.0662,
                       1032.328, 514.0889, -0.1705678, 0.04232755, 0.9718983,
                       -0.1566168, 2])
  assert body.joints[5, skeleton_file.TRACKING] == 1
  actor = skeleton_file.main_actor(frames)
  assert actor.joints_3d.shape == (82, 25, 3)
  assert actor.depth_xy.shape == actor.color_xy.shape == (82, 25, 2)
  assert actor.tracking_state.dtype == np.int32
  np.testing.assert_allclose(actor.color_xy[0, 0], [1032.328, 514.0889])


_JOINT = ' '.join(['0.1'] * 11) + ' 2'


def _body_text(body_id, joint=_JOINT):
  return [f'{body_id} 0 1 1 1 1 0 0.1 -0.2 2', '25'] + [joint] * 25


def _text(lines):
  return '\r\n'.join(lines) + '\r\n'


def test_truncated_text_names_file_and_line():
  lines = ['2', '1'] + _body_text(7) + ['1'] + _body_text(7)[:10]
  with pytest.raises(ValueError, match=r'clip\.skeleton: truncated at line 41'):
    skeleton_file.parse_skeleton_text(_text(lines), source='clip.skeleton')


@pytest.mark.parametrize('bad_line,index,message', [
    (' '.join(['0.1'] * 11), 5, r'clip\.skeleton:6: expected joint line'),
    ('0.1 nan_ 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 2', 5,
     r'clip\.skeleton:6: non-numeric'),
    ('0.1 inf 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 2', 7,
     r'clip\.skeleton:5-29: non-finite'),
    ('24', 3, r'clip\.skeleton:4: expected 25 joints'),
    ('x', 1, r'clip\.skeleton:2: body count is not an integer'),
])
def test_malformed_text_names_file_and_line(bad_line, index, message):
  lines = ['1', '1'] + _body_text(7)
  lines[index] = bad_line
  with pytest.raises(ValueError, match=message):
    skeleton_file.parse_skeleton_text(_text(lines), source='clip.skeleton')


def test_data_after_last_frame_is_an_error():
  lines = ['1', '0', '3']
  with pytest.raises(ValueError, match=r'clip\.skeleton:3: unexpected data'):
    skeleton_file.parse_skeleton_text(_text(lines), source='clip.skeleton')


def test_read_skeleton_error_names_path(tmp_path):
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_text('3\r\n0\r\n')
  with pytest.raises(ValueError, match='S001C001P001R001A001.skeleton'):
    skeleton_file.read_skeleton(path)


def _moving_body(body_id, num_frames, step):
  frames = []
  for t in range(num_frames):
    joints = np.zeros((25, 12))
    joints[:, 0] = step * t + np.arange(25) * 0.01
    joints[:, 2] = 3.0
    joints[:, skeleton_file.TRACKING] = 2
    frames.append(skeleton_file.Body(body_id, (0,) * 6, (0.0, 0.0), 2, joints))
  return frames


def test_main_actor_ignores_brief_noise_bodies_and_zeros_absent_frames():
  actor = _moving_body(11, 10, step=0.05)
  calm = _moving_body(22, 10, step=0.01)
  # A wildly moving "body" seen in 2 of 10 frames is noise.
  noise = _moving_body(33, 2, step=5.0)
  frames = [[actor[t], calm[t]] for t in range(10)]
  frames[3].append(noise[0])
  frames[4].append(noise[1])
  frames[9] = [calm[9]]
  assert skeleton_file.main_actor_id(frames) == 11
  main = skeleton_file.main_actor(frames)
  np.testing.assert_array_equal(main.present, [True] * 9 + [False])
  assert np.all(main.tracking_state[9] == 0)
  assert np.all(main.joints_3d[9] == 0)
  assert np.all(main.tracking_state[:9] == 2)
  np.testing.assert_array_equal(skeleton_file.body_counts(frames),
                                [2, 2, 2, 3, 3, 2, 2, 2, 2, 1])
  tracks = skeleton_file.body_tracks(frames)
  assert list(tracks) == [11, 22, 33]
  assert np.isnan(tracks[33][0]).all() and not np.isnan(tracks[33][3]).any()


def test_no_body_at_all_is_an_error():
  assert skeleton_file.main_actor_id([[], []]) is None
  with pytest.raises(ValueError, match='no body'):
    skeleton_file.main_actor([[], []])


def test_writer_formats_like_the_kinect_recorder(tmp_path):
  joints = np.zeros((25, 12))
  joints[0, :4] = [-7.257856e-05, 0.5, -0.0, 1032.3281]
  joints[:, skeleton_file.TRACKING] = 2
  body = skeleton_file.Body(72057594037931648, (0, 1, 1, 1, 1, 0),
                            (-0.1159187, 0.0), 2, joints)
  path = tmp_path / 'x.skeleton'
  skeleton_file.write_skeleton(path, [[body], []])
  lines = path.read_bytes().split(b'\r\n')
  assert lines[:4] == [b'2', b'1',
                       b'72057594037931648 0 1 1 1 1 0 -0.1159187 0 2', b'25']
  assert lines[4] == b'-7.257856E-05 0.5 0 1032.328 0 0 0 0 0 0 0 2'
  assert lines[-2:] == [b'0', b'']

"""The contact sheet, on a tiny NTU-format root written here file by file."""

import os
import re
import shutil

import cv2
import numpy as np
import pytest

import commands
from bodypose_jax.deploy import drawing
from bodypose_jax.model import skeleton
from bodypose_jax.tools import contact_sheet
from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu import video_io

NAME = "S001C002P003R001A010"
FRAMES = 3
RGB_LEVELS = (40, 120, 200)  # Grey level of each video frame.
# Far (dark blue) full depth and zeroed masked depth: unlike any joint colour.
FULL_MM, MASKED_MM = 4200, 0
J = skeleton.JOINT_INDEX
# Body 0 shows the joint states: no two visible joints share a bone, so no
# bone is drawn, and untracked joints sit apart at UNTRACKED_* pixels.
TRACKED_JOINT, INFERRED_JOINT = J["hand_tip_left"], J["head"]
COLOUR_XY = {TRACKED_JOINT: (500, 300), INFERRED_JOINT: (900, 300)}
DEPTH_XY = {TRACKED_JOINT: (120, 100), INFERRED_JOINT: (220, 100)}
UNTRACKED_COLOUR_XY, UNTRACKED_DEPTH_XY = (1400, 300), (380, 100)


def _body(body_id, colour_xy, depth_xy, states):
  joints = np.zeros((skeleton.NUM_JOINTS, skeleton_file.JOINT_FIELDS))
  joints[:, skeleton_file.XYZ] = (0.0, 0.0, 3.0)
  joints[:, skeleton_file.COLOR_XY] = colour_xy
  joints[:, skeleton_file.DEPTH_XY] = depth_xy
  joints[:, skeleton_file.TRACKING] = states
  return skeleton_file.Body(body_id, (0,) * 6, (0.0, 0.0), 2, joints)


def _bodies():
  """Body 0 as above; body 1 fully tracked, its joints along a row."""
  colour = np.tile(UNTRACKED_COLOUR_XY, (skeleton.NUM_JOINTS, 1))
  depth = np.tile(UNTRACKED_DEPTH_XY, (skeleton.NUM_JOINTS, 1))
  states = np.zeros(skeleton.NUM_JOINTS)
  for j in COLOUR_XY:
    colour[j], depth[j] = COLOUR_XY[j], DEPTH_XY[j]
  states[TRACKED_JOINT], states[INFERRED_JOINT] = 2, 1
  row = np.arange(skeleton.NUM_JOINTS)
  second = _body(
      2,
      np.stack([200 + 60 * row, np.full_like(row, 800)], -1),
      np.stack([60 + 16 * row, np.full_like(row, 320)], -1),
      2,
  )
  return [_body(1, colour, depth, states), second]


def _write_sample(root, name):
  os.makedirs(os.path.join(root, layout.RGB_DIR), exist_ok=True)
  video = cv2.VideoWriter(
      layout.rgb_path(root, name),
      cv2.VideoWriter_fourcc(*"MJPG"),
      layout.FPS,
      layout.RGB_SIZE[::-1],
  )
  for level in RGB_LEVELS:
    video.write(np.full((*layout.RGB_SIZE, 3), level, np.uint8))
  video.release()
  for path_fn, mm in (
      (layout.depth_frame_path, FULL_MM),
      (layout.depth_masked_frame_path, MASKED_MM),
  ):
    for t in range(FRAMES):
      path = path_fn(root, name, t)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      cv2.imwrite(path, np.full(layout.DEPTH_SIZE, mm, np.uint16))
  os.makedirs(os.path.join(root, layout.SKELETON_DIR), exist_ok=True)
  skeleton_file.write_skeleton(
      layout.skeleton_path(root, name), [_bodies()] * FRAMES
  )


@pytest.fixture
def root(tmp_path):
  _write_sample(str(tmp_path), NAME)
  return str(tmp_path)


def _at(image, xy, source_hw):
  """The pixel of `image` (a panel) nearest camera pixel `xy`."""
  h, w = image.shape[:2]
  x = (xy[0] + 0.5) * w / source_hw[1] - 0.5
  y = (xy[1] + 0.5) * h / source_hw[0] - 0.5
  return image[round(y), round(x)].astype(int)


def test_read_rgb_frame(root):
  path = layout.rgb_path(root, NAME)
  for index, level in enumerate(RGB_LEVELS):
    frame = video_io.read_rgb_frame(path, index)
    assert frame.shape == (*layout.RGB_SIZE, 3) and frame.dtype == np.uint8
    assert abs(frame.mean() - level) < 3
  for index in (FRAMES, -1):
    with pytest.raises(ValueError, match=re.escape(path)):
      video_io.read_rgb_frame(path, index)
  missing = os.path.join(root, "missing.avi")
  with pytest.raises(ValueError, match=re.escape(missing)):
    video_io.read_rgb_frame(missing, 0)


def test_skeletons_land_on_their_joints(root):
  # Panels of 640 pixels: joints are ~6 pixels wide, rings show a hole.
  drawn = contact_sheet.sample_panels(root, NAME, 1, _bodies(), 640)
  plain = contact_sheet.sample_panels(root, NAME, 1, [], 640)
  sources = (layout.RGB_SIZE, layout.DEPTH_SIZE, layout.DEPTH_SIZE)
  for image, background, source in zip(drawn, plain, sources):
    joints = COLOUR_XY if source == layout.RGB_SIZE else DEPTH_XY
    untracked = (
        UNTRACKED_COLOUR_XY if source == layout.RGB_SIZE else UNTRACKED_DEPTH_XY
    )
    scale = image.shape[1] / source[1]
    at = lambda xy, image=image, source=source: _at(image, xy, source)
    plain_at = lambda xy, b=background, source=source: _at(b, xy, source)
    # Tracked: a filled dot of its side's colour.
    np.testing.assert_allclose(
        at(joints[TRACKED_JOINT]), drawing.LEFT_COLOUR, atol=10
    )
    # Inferred: a ring around the unchanged image.
    x, y = joints[INFERRED_JOINT]
    np.testing.assert_array_equal(at((x, y)), plain_at((x, y)))
    px, py = round((x + 0.5) * scale - 0.5), round((y + 0.5) * scale - 0.5)
    window = np.s_[py - 8 : py + 9, px - 8 : px + 9]
    assert np.abs(image[window] - background[window].astype(int)).max() > 60
    # Untracked: not drawn.
    np.testing.assert_array_equal(at(untracked), plain_at(untracked))
    # The second body: every joint drawn, in a frame with the first.
    xys = _bodies()[1].joints[:, skeleton_file.COLOR_XY]
    if source != layout.RGB_SIZE:
      xys = _bodies()[1].joints[:, skeleton_file.DEPTH_XY]
    for xy in xys:
      assert np.abs(at(xy) - plain_at(xy)).max() > 60
  # The plain panels are the frame itself: the right RGB frame was read.
  np.testing.assert_allclose(plain[0][200, 100], RGB_LEVELS[1], atol=3)


def test_missing_modality_is_a_labelled_grey_panel(root):
  shutil.rmtree(os.path.join(root, layout.DEPTH_DIR))
  os.remove(layout.rgb_path(root, NAME))
  rgb, full, masked = contact_sheet.sample_panels(root, NAME, 0, _bodies(), 320)
  for image in (rgb, full):
    grey = np.all(image == contact_sheet.MISSING, axis=-1)
    assert 0.9 < grey.mean() < 1  # grey, with the label written on it
    assert np.all(grey[image.shape[0] // 2 :])  # and no skeleton drawn
  labelled = rgb.copy()
  labelled[...] = contact_sheet.MISSING
  drawing.put_text(labelled, "no rgb")
  np.testing.assert_array_equal(rgb, labelled)
  assert not np.all(masked == contact_sheet.MISSING)


def test_cli_writes_the_sheet(root, tmp_path):
  _write_sample(root, "S001C001P001R001A001")
  (tmp_path / layout.SKELETON_DIR / "not_a_sample.skeleton").write_text("0")
  out = tmp_path / "new" / "sheet.png"
  result = commands.run_module(
      "bodypose_jax.tools.contact_sheet",
      f"--root={root}",
      f"--out={out}",
      "--num_samples=6",
      "--panel_width=320",
      timeout=120,
  )
  assert "not_a_sample.skeleton: skipped" in result.stderr
  sheet = cv2.imread(str(out))
  # Two samples, each a 28-pixel label over 180-pixel panels: RGB 320 wide,
  # depth 217 (512:424), 2 pixels apart.
  assert sheet.shape == (2 * (28 + 180), 320 + 2 * (2 + 217), 3)


def test_errors_name_the_folder_or_file(tmp_path, root):
  folder = os.path.join(tmp_path / "empty", layout.SKELETON_DIR)
  with pytest.raises(ValueError, match=re.escape(folder)):
    contact_sheet.contact_sheet(str(tmp_path / "empty"))
  os.makedirs(folder)
  with pytest.raises(ValueError, match=re.escape(folder)):
    contact_sheet.contact_sheet(str(tmp_path / "empty"))
  path = layout.skeleton_path(root, NAME)
  with open(path, "a") as f:
    f.write("junk\n")
  with pytest.raises(ValueError, match=re.escape(path)):
    contact_sheet.contact_sheet(root)

"""Decodes NTU colour videos (whole, or one frame) and depth PNG sequences."""

import os
import re

import cv2
import numpy as np

_DEPTH_RE = re.compile(r'M?Depth-(\d{8})\.png')


def read_rgb_video(path, height, width):
  """Decodes an AVI into [T, height, width, 3] uint8 RGB (`read_video`)."""
  return read_video(path, height, width, grey=False)


def read_ir_video(path, height, width):
  """Decodes an infrared AVI into [T, height, width, 1] uint8 (`read_video`)."""
  return read_video(path, height, width, grey=True)


def read_video(path, height, width, grey):
  """Decodes an AVI into [T, height, width, 1 if grey else 3] uint8.

  Frames are shrunk with INTER_AREA (averages the pixels it merges, so small
  stored frames do not alias).

  Raises:
    ValueError: naming `path` when it cannot be opened or holds no frame.
  """
  capture = cv2.VideoCapture(os.fspath(path))
  if not capture.isOpened():
    raise ValueError(f'{path}: cv2 cannot open the video')
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    if grey:
      frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[..., None])
    else:
      frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
  capture.release()
  if not frames:
    raise ValueError(f'{path}: no decodable frame')
  return np.stack(frames)


def read_rgb_frame(path, index):
  """Decodes frame `index` (0-based) of a video into [H, W, 3] uint8 RGB.

  Frames before it are grabbed (decoded, never colour-converted) rather than
  skipped by a seek: OpenCV's CAP_PROP_POS_FRAMES seek is not reliably frame
  exact on inter-coded videos such as NTU's H.264 AVIs. Nothing after the
  frame is read.

  Raises:
    ValueError: naming `path` when it cannot be opened, `index` is negative,
      or the video ends before frame `index`.
  """
  if index < 0:
    raise ValueError(f'{path}: frame index {index} is negative')
  capture = cv2.VideoCapture(os.fspath(path))
  try:
    if not capture.isOpened():
      raise ValueError(f'{path}: cv2 cannot open the video')
    for count in range(index + 1):
      if not capture.grab():
        raise ValueError(f'{path}: no frame {index}: the video holds only '
                         f'{count} decodable frames')
    ok, frame = capture.retrieve()
  finally:
    capture.release()
  if not ok:
    raise ValueError(f'{path}: cannot decode frame {index}')
  return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def read_depth_png(path):
  """Reads one depth PNG as [H, W] uint16 millimetres.

  Raises:
    ValueError: naming `path` when it cannot be read or is not a
      single-channel uint16 PNG.
  """
  image = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
  if image is None:
    raise ValueError(f'{path}: not a readable PNG')
  if image.dtype != np.uint16 or image.ndim != 2:
    raise ValueError(f'{path}: not a single-channel uint16 PNG (got '
                     f'{image.dtype} {image.shape})')
  return image


def read_depth_frames(folder, height, width):
  """Reads the `(M)Depth-%08d.png` files of a folder, in frame order.

  Depth is resized with INTER_NEAREST: averaging would invent depths between
  the body and the zeroed background. Folders may have gaps (Kinect drops
  frames): the numbers say which frames are there.

  Returns:
    frames [T, height, width, 1] uint16 millimetres, and numbers [T] int64,
    the 1-based frame number of each (increasing; skeleton frame n - 1).

  Raises:
    ValueError: naming the folder or file when the folder is missing or
      holds no depth PNG, a frame is numbered 0, or a PNG is not a readable
      single-channel uint16.
  """
  if not os.path.isdir(folder):
    raise ValueError(f'{folder}: depth folder missing')
  matches = sorted((int(m.group(1)), m.group(0)) for m in map(
      _DEPTH_RE.fullmatch, os.listdir(folder)) if m)
  if not matches:
    raise ValueError(f'{folder}: no Depth-%08d.png / MDepth-%08d.png file')
  if matches[0][0] < 1:
    raise ValueError(f'{folder}/{matches[0][1]}: frame numbers start at 1')
  frames = []
  for _, f in matches:
    image = read_depth_png(os.path.join(folder, f))
    frames.append(cv2.resize(image, (width, height),
                             interpolation=cv2.INTER_NEAREST))
  numbers = np.array([n for n, _ in matches], np.int64)
  return np.stack(frames)[..., None], numbers


def iter_rgb_frames(path):
  """Yields a video's frames one at a time, [H, W, 3] uint8 RGB, full size.

  For long or large videos that need not sit in memory whole (the teacher
  labels 1080p clips frame by frame); any format OpenCV's FFmpeg reads (NTU's
  DIVX AVIs, MP4).

  Raises:
    ValueError: naming `path` when it cannot be opened or holds no frame.
  """
  capture = cv2.VideoCapture(os.fspath(path))
  try:
    if not capture.isOpened():
      raise ValueError(f'{path}: cv2 cannot open the video')
    count = 0
    while True:
      ok, frame = capture.read()
      if not ok:
        break
      count += 1
      yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    if not count:
      raise ValueError(f'{path}: no decodable frame')
  finally:
    capture.release()


def video_fps(path):
  """The frame rate a video's header states (0.0 when it states none).

  Raises:
    ValueError: naming `path` when it cannot be opened.
  """
  capture = cv2.VideoCapture(os.fspath(path))
  try:
    if not capture.isOpened():
      raise ValueError(f'{path}: cv2 cannot open the video')
    fps = capture.get(cv2.CAP_PROP_FPS)
  finally:
    capture.release()
  return float(fps) if np.isfinite(fps) and fps > 0 else 0.0


def letterbox_geometry(frame_hw, height, width):
  """Where a frame of size `frame_hw` lands when fitted, aspect kept, into
  height x width: ((h, w) it is resized to, (x, y) scale, (x, y) offset of
  its top-left corner). A point x of the frame lands at x * scale + offset.
  """
  full_h, full_w = frame_hw
  s = min(height / full_h, width / full_w)
  h = min(height, max(1, round(full_h * s)))
  w = min(width, max(1, round(full_w * s)))
  scale = np.array([w / full_w, h / full_h], np.float32)
  offset = np.array([(width - w) // 2, (height - h) // 2], np.float32)
  return (h, w), scale, offset


def read_video_letterboxed(path, height, width):
  """Decodes a video into [T, height, width, 3] uint8 RGB, each frame fitted
  in with its aspect kept and the rest black (NTU's 1920x1080 into 16:9
  fills it exactly).

  Frames are shrunk with INTER_AREA, enlarged with INTER_LINEAR.

  Returns:
    (frames, (h, w) of the source frames, scale [2], offset [2]) as
    `letterbox_geometry` gives them.

  Raises:
    ValueError: naming `path` when it cannot be opened, holds no frame, or
      changes frame size midway.
  """
  capture = cv2.VideoCapture(os.fspath(path))
  if not capture.isOpened():
    raise ValueError(f'{path}: cv2 cannot open the video')
  frames, native = [], None
  try:
    while True:
      ok, frame = capture.read()
      if not ok:
        break
      if native is None:
        native = frame.shape[:2]
        (h, w), scale, offset = letterbox_geometry(native, height, width)
        ox, oy = int(offset[0]), int(offset[1])
        shrink = h <= native[0]
      elif frame.shape[:2] != native:
        raise ValueError(f'{path}: frame {len(frames)} is {frame.shape[:2]}, '
                         f'the first was {native}')
      small = cv2.resize(frame, (w, h), interpolation=(
          cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
      canvas = np.zeros((height, width, 3), np.uint8)
      canvas[oy:oy + h, ox:ox + w] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
      frames.append(canvas)
  finally:
    capture.release()
  if not frames:
    raise ValueError(f'{path}: no decodable frame')
  return np.stack(frames), native, scale, offset

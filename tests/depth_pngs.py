"""A folder of small Kinect-style masked depth PNGs, for the commands that
read depth folders (demo, evaluate) in tests."""

import os

import cv2
import numpy as np


def write_depth_pngs(folder, count=5, hw=(106, 128)) -> str:
  """Writes `count` MDepth-%08d.png frames (uint16 mm, a box of 1.5-3 m
  depths on zero background) into `folder`; returns it."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(count):
    depth = np.zeros(hw, np.uint16)
    depth[20:90, 40:80] = rng.integers(1500, 3000, (70, 40), dtype=np.uint16)
    cv2.imwrite(os.path.join(folder, f"MDepth-{i + 1:08d}.png"), depth)
  return str(folder)

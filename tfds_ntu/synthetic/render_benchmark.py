"""Measures the synthetic renderer's throughput in frames/s per core.

Renders a one-person (23, hand waving) and a two-person (58, handshaking)
sample, colour only (the 1920x1080 MJPG AVI and the skeleton) and depth only
(full and masked PNGs and the skeleton), in this process with OpenCV held to
one thread, so that frames/s is per core. The machine may be shared: each
case is rendered `--repeats` times and the best is reported.

    python -m tfds_ntu.synthetic.render_benchmark [--repeats=3] [--num_frames=24]
"""

import dataclasses
import os
import tempfile
import time

from absl import app
from absl import flags
import cv2

from tfds_ntu import layout
from tfds_ntu.synthetic import render

_REPEATS = flags.DEFINE_integer('repeats', 3, 'Renders per case; the best '
                                'counts.')
_NUM_FRAMES = flags.DEFINE_integer('num_frames', 24, 'Frames per sample.')

_ACTIONS = (23, 58)
_MODALITIES = {'rgb': ('rgb',), 'depth': ('depth', 'depth_masked')}


def frames_per_second(modality, num_frames, repeats, spec=None):
  """Best frames/s over `repeats` renders of each benchmark sample.

  Args:
    modality: 'rgb' or 'depth' (a key of _MODALITIES).
    num_frames: frames per sample.
    repeats: renders per sample.
    spec: the `render.SyntheticSpec` to start from (default: defaults).

  Returns:
    Frames/s over all samples, each sample timed at its best.
  """
  spec = dataclasses.replace(
      spec or render.SyntheticSpec(), setups=(1,), cameras=(1,),
      performers=(3,), replications=(1,), actions=_ACTIONS,
      num_frames=num_frames, modalities=_MODALITIES[modality], num_workers=1)
  seconds = 0.0
  with tempfile.TemporaryDirectory() as root:
    for folder in (layout.SKELETON_DIR, layout.RGB_DIR):
      os.makedirs(os.path.join(root, folder))
    for sample in spec.sample_ids():
      best = float('inf')
      for _ in range(repeats):
        start = time.perf_counter()
        render.render_sample(root, spec, sample)
        best = min(best, time.perf_counter() - start)
      seconds += best
  return len(_ACTIONS) * num_frames / seconds


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cv2.setNumThreads(1)
  for modality in _MODALITIES:
    fps = frames_per_second(modality, _NUM_FRAMES.value, _REPEATS.value)
    print(f'{modality}: {fps:.1f} frames/s per core')


if __name__ == '__main__':
  app.run(main)

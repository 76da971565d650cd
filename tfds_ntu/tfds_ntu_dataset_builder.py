"""TFDS builder for NTU RGB+D (60/120): video or masked depth + 2D/3D joints.

One example per NTU sample: the frames resized to the config's stored size,
and the main actor's joints (see `skeleton_file.main_actor_id`) per frame.
Real data is read from `--manual_dir`; the `synthetic*` configs first render
an NTU-format dataset (`synthetic.render_dataset`) into the download dir and
then read it through the same code.

    tfds build tfds_ntu --config=synthetic_rgb --data_dir=DIR
    tfds build tfds_ntu --config=rgb --manual_dir=NTU_ROOT --data_dir=DIR

Splits: `xsub_train` / `xsub_test` (cross-subject: training performers are
`layout.XSUB_TRAIN_PERFORMERS_120`, which on NTU-60 data is exactly the
NTU-60 list) and `xview_train` / `xview_test` (cameras 2, 3 / camera 1).
"""

import collections
from concurrent import futures
import dataclasses
import os
from typing import Optional

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu import synthetic as synthetic_lib
from tfds_ntu import video_io

MODALITIES = ('rgb', 'depth_masked')
_CITATION = """@inproceedings{shahroudy2016ntu,
  title={NTU RGB+D: A Large Scale Dataset for 3D Human Activity Analysis},
  author={Shahroudy, Amir and Liu, Jun and Ng, Tian-Tsong and Wang, Gang},
  booktitle={CVPR},
  year={2016}
}"""


@dataclasses.dataclass(eq=False)
class NtuConfig(tfds.core.BuilderConfig):
  """Config: which modality, stored frame size, and real or synthetic data.

  Attributes:
    modality: 'rgb' (colour video) or 'depth_masked' (masked depth PNGs).
    height: stored frame height.
    width: stored frame width.
    synthetic: None to read real data from the manual dir, else the spec of
      the dataset to render.
  """
  modality: str = 'rgb'
  height: int = 144
  width: int = 256
  synthetic: Optional[synthetic_lib.SyntheticSpec] = None


# Cross-subject needs performers on both sides: 1, 4 train; 3, 7 test. Two
# setups give two rooms, lightings and camera placements. Sized to render
# and build in under 5 minutes on 2 CPU cores.
SYNTHETIC_SPEC = synthetic_lib.SyntheticSpec(
    seed=0, setups=(1, 2), cameras=(1, 2, 3), performers=(1, 3, 4, 7),
    replications=(1,), actions=tuple(sorted(synthetic_lib.ACTIONS)),
    num_frames=24, modalities=('rgb',))
_SMOKE = synthetic_lib.SyntheticSpec(
    seed=0, setups=(1,), cameras=(1, 2, 3), performers=(1, 3),
    replications=(1,), actions=(23, 58), num_frames=12, modalities=('rgb',))
# Depth configs render the full depth too, so the files are NTU's whole
# depth release (the builder stores the masked one).
_DEPTH_ONLY = dict(modalities=('depth', 'depth_masked'))
# Samples decoded at once: cv2 releases the GIL while decoding and resizing.
_READ_THREADS = 2


class Builder(tfds.core.GeneratorBasedBuilder):
  """NTU RGB+D pose sequences (real via manual_dir, or synthetic)."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'Synthetic configs: 14 actions (3 two-person), furnished '
               'rooms, passing objects, sensor noise; depth ones also '
               'render full depth.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Download NTU RGB+D (60 or 120) from
  https://rose1.ntu.edu.sg/dataset/actionRecognition/ and extract it so that `--manual_dir` holds:
    {layout.SKELETON_DIR}/<name>.skeleton            (every config)
    {layout.RGB_DIR}/<name>_rgb.avi                  (config `rgb`)
    {layout.DEPTH_MASKED_DIR}/<name>/MDepth-%08d.png (config `depth`)
  where <name> is SsssCcccPpppRrrrAaaa. The `synthetic*` configs need nothing.
  """
  BUILDER_CONFIGS = [
      NtuConfig(name='rgb', description='Real colour video, 144x256.',
                modality='rgb', height=144, width=256),
      NtuConfig(name='depth', description='Real masked depth, 212x256.',
                modality='depth_masked', height=212, width=256),
      NtuConfig(name='synthetic_rgb',
                description='Rendered NTU-format colour video, 144x256.',
                modality='rgb', height=144, width=256, synthetic=SYNTHETIC_SPEC),
      NtuConfig(name='synthetic_depth',
                description='Rendered NTU-format masked depth, 212x256.',
                modality='depth_masked', height=212, width=256,
                synthetic=dataclasses.replace(SYNTHETIC_SPEC, **_DEPTH_ONLY)),
      NtuConfig(name='synthetic_smoke_rgb',
                description='Tiny rendered colour set for tests, 72x128.',
                modality='rgb', height=72, width=128, synthetic=_SMOKE),
      NtuConfig(name='synthetic_smoke_depth',
                description='Tiny rendered masked depth set for tests, '
                '106x128.', modality='depth_masked', height=106, width=128,
                synthetic=dataclasses.replace(_SMOKE, **_DEPTH_ONLY)),
  ]

  def _info(self):
    config = self.builder_config
    if config.modality not in MODALITIES:
      raise ValueError(f'modality {config.modality!r} not in {MODALITIES}')
    size = (config.height, config.width)
    if config.modality == 'rgb':
      frames = tfds.features.Video(shape=(None, *size, 3),
                                   encoding_format='jpeg')
    else:
      frames = tfds.features.Video(shape=(None, *size, 1), dtype=np.uint16,
                                   encoding_format='png')
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'frames': frames,
            'joints_2d': tfds.features.Tensor(shape=(None, 25, 2),
                                              dtype=np.float32),
            'joints_3d': tfds.features.Tensor(shape=(None, 25, 3),
                                              dtype=np.float32),
            'tracking_state': tfds.features.Tensor(shape=(None, 25),
                                                   dtype=np.int32),
            'body_count': tfds.features.Tensor(shape=(None,), dtype=np.int32),
            'name': tfds.features.Text(),
            'setup': tfds.features.Scalar(np.int32),
            'camera': tfds.features.Scalar(np.int32),
            'performer': tfds.features.Scalar(np.int32),
            'replication': tfds.features.Scalar(np.int32),
            'action': tfds.features.ClassLabel(num_classes=layout.NUM_ACTIONS),
        }),
        homepage='https://rose1.ntu.edu.sg/dataset/actionRecognition/',
        citation=_CITATION,
    )

  def _split_generators(self, dl_manager):
    config = self.builder_config
    if config.synthetic is not None:
      root = os.path.join(os.fspath(dl_manager.download_dir), config.name)
      synthetic_lib.render_dataset(root, config.synthetic)
    else:
      root = os.fspath(dl_manager.manual_dir)
    samples = _find_samples(root, config.modality)
    protocols = {
        'xsub_train': layout.is_xsub_train,
        'xsub_test': lambda s: not layout.is_xsub_train(s),
        'xview_train': layout.is_xview_train,
        'xview_test': lambda s: not layout.is_xview_train(s),
    }
    splits = {}
    for split, is_in in protocols.items():
      chosen = [s for s in samples if is_in(s)]
      if not chosen:
        raise ValueError(f'{root}: no sample for split {split}')
      splits[split] = self._generate_examples(root, chosen, split)
    return splits

  def _generate_examples(self, root, samples, split):
    skipped = 0

    def read(sample):
      try:
        return _read_example(root, sample, self.builder_config)
      except (ValueError, OSError) as e:
        return e

    for sample, example in zip(samples, _bounded_map(read, samples)):
      if isinstance(example, Exception):
        logging.warning('Skipping %s: %s', sample.name, example)
        skipped += 1
        continue
      yield sample.name, example
    logging.info('Split %s: %d examples, %d skipped.', split,
                 len(samples) - skipped, skipped)
    if skipped == len(samples):
      raise ValueError(
          f'{root}: all {skipped} samples of split {split} are invalid '
          '(see the warnings above).')


def _bounded_map(fn, items):
  """fn over items in order on _READ_THREADS threads, with at most twice as
  many results waiting, so memory stays bounded on the full dataset."""
  with futures.ThreadPoolExecutor(_READ_THREADS) as pool:
    pending = collections.deque()
    for item in items:
      pending.append(pool.submit(fn, item))
      if len(pending) > 2 * _READ_THREADS:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()


def _modality_path(root, name, modality):
  if modality == 'rgb':
    return layout.rgb_path(root, name)
  return layout.depth_masked_dir(root, name)


def _find_samples(root, modality):
  """Samples with a skeleton file and the modality's file or folder.

  Names present on one side only, or not of the form SsssCcccPpppRrrrAaaa,
  are skipped with a warning.

  Raises:
    ValueError: when no sample has both, saying where it looked.
  """
  skeleton_dir = os.path.join(root, layout.SKELETON_DIR)
  suffix = '.skeleton'
  skeletons = set()
  if os.path.isdir(skeleton_dir):
    skeletons = {f[:-len(suffix)] for f in os.listdir(skeleton_dir)
                 if f.endswith(suffix)}
  found = {n for n in skeletons
           if os.path.exists(_modality_path(root, n, modality))}
  for name in sorted(skeletons - found):
    logging.warning('Skipping %s: %s missing.', name,
                    _modality_path(root, name, modality))
  samples = []
  for name in sorted(found):
    try:
      samples.append(layout.parse_name(name))
    except ValueError as e:
      logging.warning('Skipping %s', e)
  if not samples:
    wanted = _modality_path(root, 'SsssCcccPpppRrrrAaaa', modality)
    if modality == 'depth_masked':
      wanted = os.path.join(wanted, 'MDepth-%08d.png')
    raise ValueError(
        f'no NTU sample under {root}: looked for {skeleton_dir}/'
        f'SsssCcccPpppRrrrAaaa{suffix} with a matching {wanted}')
  logging.info('%d samples under %s (%d skeletons without %s data).',
               len(samples), root, len(skeletons) - len(found), modality)
  return samples


def _read_example(root, sample, config):
  """Decodes one sample into the feature dict.

  Raises:
    ValueError, OSError: on a missing, malformed or empty file.
  """
  name = sample.name
  frames_by_body = skeleton_file.read_skeleton(layout.skeleton_path(root, name))
  try:
    actor = skeleton_file.main_actor(frames_by_body)
  except ValueError as e:
    raise ValueError(f'{layout.skeleton_path(root, name)}: {e}') from None
  path = _modality_path(root, name, config.modality)
  if config.modality == 'rgb':
    frames = video_io.read_rgb_video(path, config.height, config.width)
    pixels, (full_h, full_w) = actor.color_xy, layout.RGB_SIZE
  else:
    frames = video_io.read_depth_frames(path, config.height, config.width)
    pixels, (full_h, full_w) = actor.depth_xy, layout.DEPTH_SIZE
  # Kinect drops or duplicates a few frames between streams; keep the
  # common prefix.
  n = min(len(frames), len(frames_by_body))
  scale = np.array([config.width / full_w, config.height / full_h], np.float32)
  return {
      'frames': frames[:n],
      'joints_2d': pixels[:n] * scale,
      'joints_3d': actor.joints_3d[:n],
      'tracking_state': actor.tracking_state[:n],
      'body_count': skeleton_file.body_counts(frames_by_body)[:n],
      'name': name,
      'setup': sample.setup,
      'camera': sample.camera,
      'performer': sample.performer,
      'replication': sample.replication,
      'action': sample.action - 1,
  }

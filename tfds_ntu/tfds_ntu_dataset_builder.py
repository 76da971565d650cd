"""TFDS builder for NTU RGB+D (60/120): video or depth + 2D/3D joints.

One example per NTU sample: the frames resized to the config's stored size,
and per frame the main actor's joints, and for two-person actions the second
actor's (see `skeleton_file.actor_ids`).
Real data is read from `--manual_dir`; the `synthetic*` configs first render
an NTU-format dataset (`synthetic.render_dataset`) into the download dir and
then read it through the same code.

    tfds build tfds_ntu --config=synthetic_rgb --data_dir=DIR
    tfds build tfds_ntu --config=rgb --manual_dir=NTU_ROOT --data_dir=DIR
    # Real video labelled by a teacher model (`teacher_videos.py`):
    tfds build tfds_ntu --config=teacher_rgb --manual_dir=VIDEOS --data_dir=DIR
    # The full dataset, on Apache Beam (here its local runner, 16 workers):
    tfds build tfds_ntu --config=rgb --manual_dir=NTU_ROOT --data_dir=DIR \
      --beam_pipeline_options="runner=DirectRunner,direct_num_workers=16,direct_running_mode=multi_processing"

Without Beam options the examples are generated in this process.

Splits, per protocol in the config's `protocols`: `xsub_train` / `xsub_test`
(cross-subject: training performers are `layout.XSUB_TRAIN_PERFORMERS_120`,
which on NTU-60 data is exactly the NTU-60 list), `xview_train` /
`xview_test` (cameras 2, 3 / camera 1) and `xset_train` / `xset_test`
(NTU-120's cross-setup: even / odd setups). Samples the dataset authors list
as missing skeletons are left out, and every sample that cannot be read is
skipped with a log line; `builder.info.metadata['build_summary']` counts them
(`build_summary.py`).

NTU ships per setup, so a manual dir may leave a split without any sample
(odd setups only: no `xset_train`). Such a split is built empty: TFDS writes
no split without an example (its writer fails, with or without Beam), so it is
left out of `builder.info.splits`, logged as a warning and listed in the build
summary's `empty_splits`. The build fails only when no split has a sample.

The `teacher_*` configs store real video labelled by a teacher model
(`teacher_format.py`, `teacher_videos.py`): the same frames as `rgb`, joints
in colour pixels, per-joint `confidence` (the loss weight) and no Kinect 3D
or second actor. Their splits are `train` and `test`: by performer for NTU
names (`layout.TEACHER_TEST_PERFORMERS` test), or by a `train/` / `test/`
folder; performer P001 never trains.
"""

import collections
from concurrent import futures
import dataclasses
import functools
import os
import time
from typing import Optional

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from tfds_ntu import build_summary
from tfds_ntu import kinect
from tfds_ntu import layout
from tfds_ntu import rgb_to_depth
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import render as synthetic_lib
from tfds_ntu import teacher_videos
from tfds_ntu import video_io

MODALITIES = ('rgb', 'depth_masked', 'depth', 'rgbd', 'ir')
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
    modality: 'rgb' (colour video), 'depth_masked' (masked depth PNGs),
      'depth' (full depth PNGs), 'rgbd' (colour brought into the depth
      camera's geometry, beside the masked depth; see `rgb_to_depth`) or
      'ir' (the infrared video, seen by the depth camera).
    height: stored frame height.
    width: stored frame width.
    synthetic: None to read real data from the manual dir, else the spec of
      the dataset to render.
    protocols: the `layout.PROTOCOLS` stored as `<protocol>_train` and
      `<protocol>_test` splits.
    exclude_missing_skeletons: leave out the samples in the authors' lists
      (`layout.MISSING_SKELETON_LISTS`, read from the manual dir).
    teacher: read teacher-labelled videos from the manual dir
      (`teacher_videos`) instead of NTU's skeletons; 'rgb' only, splits
      `train` and `test` (`protocols` is ignored).
    test_performers: with `teacher`, the NTU performers held out for the
      test split.
  """
  modality: str = 'rgb'
  height: int = 144
  width: int = 256
  synthetic: Optional[synthetic_lib.SyntheticSpec] = None
  protocols: tuple[str, ...] = ('xsub', 'xview', 'xset')
  exclude_missing_skeletons: bool = True
  teacher: bool = False
  test_performers: tuple[int, ...] = layout.TEACHER_TEST_PERFORMERS


# NTU's 40 performers (cross-subject: 20 train, 20 test) in three setups
# (rooms, lightings, camera placements), each performing one of the 14
# actions per setup, filmed by all three cameras: 3 x 40 x 1 x 3 = 360
# samples of 24 frames, about as many as when it had 4 performers doing
# every action (336), so it still renders and builds in ~5 minutes on 2 CPU
# cores. Each side has 20 performances per setup for the 14 actions, so
# every action is on both sides in every setup.
SYNTHETIC_SPEC = synthetic_lib.SyntheticSpec(
    seed=0, setups=(1, 2, 3), cameras=(1, 2, 3),
    performers=tuple(range(1, 41)), replications=(1,),
    actions=tuple(sorted(synthetic_lib.ACTIONS)), actions_per_performer=1,
    num_frames=24, modalities=('rgb',))
# For training at scale: every performer performs every action in two
# setups, 2 x 3 x 40 x 14 = 3360 samples. 24 frames as in the small set, so
# the motions play at the same pace per frame and models move between the
# two sets; ~10x its rendering (about half an hour on 2 cores, minutes on a
# 16-core machine).
SYNTHETIC_LARGE_SPEC = dataclasses.replace(
    SYNTHETIC_SPEC, setups=(1, 2), actions_per_performer=None)
# The large set stores the cross-subject splits only: every protocol decodes
# and stores each sample again (three protocols: 3x the build, ~20 minutes
# more on 2 cores), and the long variant trains and tests cross-subject.
_LARGE_PROTOCOLS = ('xsub',)
_SMOKE = synthetic_lib.SyntheticSpec(
    seed=0, setups=(1,), cameras=(1, 2, 3), performers=(1, 3),
    replications=(1,), actions=(23, 58), num_frames=12, modalities=('rgb',))
# Depth configs render the full depth too, so the files are NTU's whole
# depth release.
_DEPTH_ONLY = dict(modalities=('depth', 'depth_masked'))
# The smoke set has one setup, so no cross-setup split.
_SMOKE_PROTOCOLS = ('xsub', 'xview')
_BEAM_NAMESPACE = 'tfds_ntu'
# The teacher configs' one split rule (`teacher_videos`), stored as `train`
# and `test`; it stands where the NTU configs list their protocols.
_TEACHER_PROTOCOL = 'teacher'
# 'rgbd' decodes the colour video at this many colour pixels per stored
# pixel (before the warp resamples it), enough to keep detail without
# decoding full HD.
_RGBD_OVERSAMPLING = 1.5
# Samples decoded at once: cv2 releases the GIL while decoding and resizing.
_READ_THREADS = 2


class Builder(tfds.core.GeneratorBasedBuilder):
  """NTU RGB+D pose sequences (real via manual_dir, or synthetic)."""

  VERSION = tfds.core.Version('1.4.0')
  _use_beam = False  # set per build by `_download_and_prepare`
  _decoded = None
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'Synthetic configs: 14 actions (3 two-person), furnished '
               'rooms, passing objects, sensor noise; depth ones also '
               'render full depth.',
      '1.2.0': 'Cross-setup splits; full-depth, RGB+depth and infrared '
               'configs; the '
               'second actor of two-person actions; the authors\' '
               'missing-skeleton lists excluded; depth folders with gaps '
               'kept; a build summary in the metadata; Apache Beam.',
      '1.3.0': 'Frames stored at the resolution person crops need: colour '
               '360x640 (synthetic: 270x480, its rendered size), depth and '
               'infrared at the sensor\'s 424x512.',
      '1.4.0': 'Synthetic performers at NTU\'s scale: 40 distinct bodies '
               '(children to tall adults, thin to heavy, posture, loose or '
               'tight clothes, hair) with their own ways of moving; the '
               'embedded synthetic sets span all 40 (360 samples, one '
               'action per performer and setup); synthetic_large_* configs '
               '(3360 samples); the build summary counts performers, '
               'actions and frames per split.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  1. Request access and download from
     https://rose1.ntu.edu.sg/dataset/actionRecognition/ the skeletons
     (NTU-60: setups S001-S017; NTU-120 adds S018-S032) and, per setup, the
     archive of each modality you build: RGB videos for `rgb` and `rgbd`,
     masked depth for `depth` and `rgbd`, depth for `depth_full`, IR for `ir`.
  2. Download the authors' lists of samples with missing skeletons,
     {layout.MISSING_SKELETON_LISTS[0]} and (NTU-120)
     {layout.MISSING_SKELETON_LISTS[1]}, from
     https://github.com/shahroudy/NTURGB-D/tree/master/Matlab . They are read
     as published (a few lines of prose, a blank line, then the names); the
     count the first line states is checked, so a truncated copy is caught.
  3. Extract every archive into `--manual_dir` (NTU-60's and NTU-120's
     archives extract into the same folders) and put the lists beside them:
    {layout.SKELETON_DIR}/<name>.skeleton            (every config)
    {layout.RGB_DIR}/<name>_rgb.avi                  (`rgb`, `rgbd`)
    {layout.DEPTH_MASKED_DIR}/<name>/MDepth-%08d.png (`depth`, `rgbd`)
    {layout.DEPTH_DIR}/<name>/Depth-%08d.png          (`depth_full`)
    {layout.IR_DIR}/<name>_ir.avi                    (`ir`)
    {layout.MISSING_SKELETON_LISTS[0]}
    {layout.MISSING_SKELETON_LISTS[1]}
  where <name> is SsssCcccPpppRrrrAaaa. The `synthetic*` configs need
  nothing. The `teacher_*` configs read a folder of videos, each with its
  teacher annotation `<video stem>.teacher.npz` beside it or in
  `teacher_labels/` (see tfds_ntu/teacher_videos.py). A subset of the setups builds too: a split that none of its
  samples belongs to (one setup: one side of `xset`) is built empty, with a
  warning, and listed in the build summary's `empty_splits`.
  """
  BUILDER_CONFIGS = [
      NtuConfig(name='rgb', description='Real colour video, 360x640.',
                modality='rgb', height=360, width=640),
      NtuConfig(name='depth', description='Real masked depth, 424x512.',
                modality='depth_masked', height=424, width=512),
      NtuConfig(name='depth_full', description='Real full depth, 424x512.',
                modality='depth', height=424, width=512),
      NtuConfig(name='rgbd', description='Real colour in the depth camera\'s '
                'geometry and masked depth, 212x256.', modality='rgbd',
                height=212, width=256),
      NtuConfig(name='ir', description='Real infrared video, 424x512.',
                modality='ir', height=424, width=512),
      NtuConfig(name='teacher_rgb',
                description='Real colour video labelled by a teacher model '
                '(BlazePose), 360x640; splits train / test.',
                modality='rgb', height=360, width=640, teacher=True,
                protocols=(_TEACHER_PROTOCOL,),
                exclude_missing_skeletons=False),
      NtuConfig(name='synthetic_rgb',
                description='Rendered NTU-format colour video, 270x480.',
                modality='rgb', height=270, width=480, synthetic=SYNTHETIC_SPEC),
      NtuConfig(name='synthetic_depth',
                description='Rendered NTU-format masked depth, 424x512.',
                modality='depth_masked', height=424, width=512,
                synthetic=dataclasses.replace(SYNTHETIC_SPEC, **_DEPTH_ONLY)),
      NtuConfig(name='synthetic_depth_full',
                description='Rendered NTU-format full depth, 424x512.',
                modality='depth', height=424, width=512,
                synthetic=dataclasses.replace(SYNTHETIC_SPEC, **_DEPTH_ONLY)),
      NtuConfig(name='synthetic_rgbd',
                description='Rendered colour in the depth camera\'s geometry '
                'and masked depth, 212x256.', modality='rgbd', height=212,
                width=256, synthetic=dataclasses.replace(
                    SYNTHETIC_SPEC, modalities=('rgb', 'depth_masked'))),
      NtuConfig(name='synthetic_large_rgb',
                description='Large rendered NTU-format colour video, '
                '270x480: 3360 samples, 40 performers.',
                modality='rgb', height=270, width=480,
                synthetic=SYNTHETIC_LARGE_SPEC, protocols=_LARGE_PROTOCOLS),
      NtuConfig(name='synthetic_large_depth',
                description='Large rendered NTU-format masked depth, '
                '424x512: 3360 samples, 40 performers.',
                modality='depth_masked', height=424, width=512,
                synthetic=dataclasses.replace(SYNTHETIC_LARGE_SPEC,
                                              **_DEPTH_ONLY),
                protocols=_LARGE_PROTOCOLS),
      NtuConfig(name='synthetic_smoke_rgb',
                description='Tiny rendered colour set for tests, 108x192.',
                modality='rgb', height=108, width=192, synthetic=_SMOKE,
                protocols=_SMOKE_PROTOCOLS),
      NtuConfig(name='synthetic_smoke_depth',
                description='Tiny rendered masked depth set for tests, '
                '212x256.', modality='depth_masked', height=212, width=256,
                synthetic=dataclasses.replace(_SMOKE, **_DEPTH_ONLY),
                protocols=_SMOKE_PROTOCOLS),
  ]

  def _info(self):
    config = self.builder_config
    if config.teacher:
      return self._teacher_info()
    if config.modality not in MODALITIES:
      raise ValueError(f'modality {config.modality!r} not in {MODALITIES}')
    unknown = set(config.protocols) - set(layout.PROTOCOLS)
    if unknown:
      raise ValueError(f'protocols {sorted(unknown)} not in '
                       f'{tuple(layout.PROTOCOLS)}')
    size = (config.height, config.width)
    depth = tfds.features.Video(shape=(None, *size, 1), dtype=np.uint16,
                                encoding_format='png')
    if config.modality in ('rgb', 'rgbd', 'ir'):
      channels = 1 if config.modality == 'ir' else 3
      frames = tfds.features.Video(shape=(None, *size, channels),
                                   encoding_format='jpeg')
    else:
      frames = depth
    extra = {}
    if config.modality == 'rgbd':
      extra = {
          'depth': depth,
          # Depth pixel (x, y, 1) -> colour pixel, full resolutions.
          'depth_to_colour': tfds.features.Tensor(shape=(3, 3),
                                                  dtype=np.float32),
          'alignment_residual_px': tfds.features.Scalar(np.float32),
      }
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            **extra,
            'frames': frames,
            **_joint_features(),
            'body_count': tfds.features.Tensor(shape=(None,), dtype=np.int32),
            # Two-person actions' second actor, same frames; all zero (state
            # 0) for one-person actions and where the second actor is absent.
            'second_actor': tfds.features.FeaturesDict(_joint_features()),
            'name': tfds.features.Text(),
            'setup': tfds.features.Scalar(np.int32),
            'camera': tfds.features.Scalar(np.int32),
            'performer': tfds.features.Scalar(np.int32),
            'replication': tfds.features.Scalar(np.int32),
            'action': tfds.features.ClassLabel(num_classes=layout.NUM_ACTIONS),
        }),
        homepage='https://rose1.ntu.edu.sg/dataset/actionRecognition/',
        citation=_CITATION,
        metadata=tfds.core.MetadataDict(),
    )

  def _teacher_info(self):
    config = self.builder_config
    if config.modality != 'rgb':
      raise ValueError(f'teacher config {config.name!r}: modality must be '
                       f"'rgb', got {config.modality!r}")
    size = (config.height, config.width)
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'frames': tfds.features.Video(shape=(None, *size, 3),
                                          encoding_format='jpeg'),
            # Stored-frame pixels; (0, 0) where the teacher has no joint.
            'joints_2d': tfds.features.Tensor(shape=(None, 25, 2),
                                              dtype=np.float32),
            # 2 where the teacher found the joint, 0 where not.
            'tracking_state': tfds.features.Tensor(shape=(None, 25),
                                                   dtype=np.int32),
            # The teacher's confidence, 0 where absent: the loss weight.
            'confidence': tfds.features.Tensor(shape=(None, 25),
                                               dtype=np.float32),
            'person_score': tfds.features.Tensor(shape=(None,),
                                                 dtype=np.float32),
            # (height, width) of the video's own frames.
            'frame_size': tfds.features.Tensor(shape=(2,), dtype=np.int32),
            'name': tfds.features.Text(),
            'video': tfds.features.Text(),  # path under the manual dir
            'performer': tfds.features.Scalar(np.int32),  # 0: not NTU
            'teacher': tfds.features.Text(),  # the annotation's metadata
        }),
        homepage='https://rose1.ntu.edu.sg/dataset/actionRecognition/',
        citation=_CITATION,
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config):
    # Beam runs when the build was given a runner or pipeline options
    # (`tfds build --beam_pipeline_options=...`); `_generate_examples` reads
    # this to return a PTransform instead of a generator.
    self._use_beam = bool(download_config.beam_runner or
                          download_config.beam_options)
    # Pipeline -> the PCollection of decoded samples all splits share.
    self._decoded = {}
    start = time.perf_counter()
    super()._download_and_prepare(dl_manager, download_config)
    build_summary.add_timing(
        self._summary,
        time.perf_counter() - start - self._summary['render_seconds'],
        os.cpu_count())
    logging.info('Build summary (stored in metadata.json):\n%s',
                 build_summary.format_summary(self._summary))

  @property
  def _summary(self):
    return self.info.metadata['build_summary']

  def _split_generators(self, dl_manager):
    config = self.builder_config
    listed, render_seconds = set(), 0.0
    if config.teacher:
      root = os.fspath(dl_manager.manual_dir)
      samples, skipped = teacher_videos.find_samples(root,
                                                     config.test_performers)
    elif config.synthetic is not None:
      root = os.path.join(os.fspath(dl_manager.download_dir), config.name)
      start = time.perf_counter()
      synthetic_lib.render_dataset(root, config.synthetic)
      render_seconds = time.perf_counter() - start
    else:
      root = os.fspath(dl_manager.manual_dir)
      if config.exclude_missing_skeletons:
        listed = _missing_skeleton_list(root)
    if not config.teacher:
      samples, skipped = _find_samples(root, config.modality, listed)
    self.info.metadata['build_summary'] = build_summary.new(
        len(samples), skipped, render_seconds)
    splits = {}
    for protocol in config.protocols:
      for wanted in (True, False):
        split = _split_name(protocol, wanted)
        if any(_in_split(s, protocol, wanted) for s in samples):
          splits[split] = self._generate_examples(root, samples, protocol,
                                                  wanted)
          continue
        # NTU ships per setup and people start with a few, so one side of a
        # protocol may have no sample. TFDS's writer refuses a split with no
        # example (plain and Beam alike), so the split is left out of the
        # build and recorded instead.
        logging.warning(
            'Split %s is empty: none of the %d samples under %s is in it '
            '(%s trains on %s). It is not stored; the build summary lists it '
            'in empty_splits.', split, len(samples), root, protocol,
            layout.PROTOCOL_TRAIN_SIDES.get(
                protocol, 'the performers not in test_performers, or the '
                'videos under train/'))
        build_summary.add_empty_split(self._summary, split)
    if not splits:
      raise ValueError(
          f'{root}: no sample for any split of the protocols '
          f'{config.protocols}')
    return splits

  def _generate_examples(self, root, samples, protocol, wanted):
    read = functools.partial(_read_or_skip, root, self.builder_config)
    if self._use_beam:
      return self._beam_split(read, samples, protocol, wanted)
    chosen = [s for s in samples if _in_split(s, protocol, wanted)]
    return self._local_examples(read, chosen, _split_name(protocol, wanted),
                                root)

  def _beam_split(self, read, samples, protocol, wanted):
    """The split's PTransform. Every sample is decoded once for all splits:
    the first split's transform reads them all into a PCollection that each
    split then filters."""
    beam = tfds.core.lazy_imports.apache_beam

    @beam.ptransform_fn
    def select(pbegin):
      pipeline = pbegin.pipeline
      if pipeline not in self._decoded:
        self._decoded[pipeline] = (
            pipeline | 'ListSamples' >> beam.Create(samples)
            | 'Read' >> beam.Map(_beam_read, read))
      return self._decoded[pipeline] | beam.FlatMap(_beam_select, protocol,
                                                    wanted)

    return select()  # pylint: disable=no-value-for-parameter

  def _local_examples(self, read, samples, split, root):
    skipped = collections.Counter()
    stored, frames = [], 0
    for sample, (example, reason) in zip(samples, _bounded_map(read, samples)):
      if example is None:
        skipped[reason] += 1
        continue
      stored.append(sample)
      frames += len(example['frames'])
      yield _key(sample), example
    # Videos not named NTU's way have performer and action 0: not counted.
    build_summary.add_split(
        self._summary, split, len(stored), skipped, reads=len(samples),
        frames=frames, performers=[s.performer for s in stored if s.performer],
        actions=[s.action for s in stored if s.action])
    logging.info('Split %s: %d examples, skipped %s.', split,
                 len(samples) - sum(skipped.values()), dict(skipped))
    build_summary.check_nonempty(self._summary, root)

  def _process_pipeline_result(self, pipeline_result):
    beam = tfds.core.lazy_imports.apache_beam
    query = pipeline_result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(_BEAM_NAMESPACE))
    counters = {c.key.metric.name: c.committed if c.committed is not None
                else c.attempted for c in query['counters']}
    build_summary.from_counters(self._summary,
                                _split_names(self.builder_config), counters)
    build_summary.check_nonempty(self._summary, 'the Beam build')


def _joint_features():
  """An actor's per-frame joints: 2D in the stored frame, 3D in metres."""
  return {
      'joints_2d': tfds.features.Tensor(shape=(None, 25, 2), dtype=np.float32),
      'joints_3d': tfds.features.Tensor(shape=(None, 25, 3), dtype=np.float32),
      'tracking_state': tfds.features.Tensor(shape=(None, 25), dtype=np.int32),
  }


def _split_names(config):
  return [_split_name(p, wanted) for p in config.protocols
          for wanted in (True, False)]


def _split_name(protocol, wanted):
  side = 'train' if wanted else 'test'
  return side if protocol == _TEACHER_PROTOCOL else f'{protocol}_{side}'


def _in_split(sample, protocol, wanted):
  if protocol == _TEACHER_PROTOCOL:
    return sample.train == wanted
  return layout.PROTOCOLS[protocol](sample) == wanted


def _key(sample):
  """The example's key: the NTU name, or a teacher video's path."""
  return getattr(sample, 'key', None) or sample.name


def _counter(name, n=1):
  beam = tfds.core.lazy_imports.apache_beam
  beam.metrics.Metrics.counter(_BEAM_NAMESPACE, name).inc(n)


def _beam_read(sample, read):
  """Beam's Map: (sample, example or None, skip reason or None)."""
  _counter(build_summary.counter_name('all', 'reads'))
  return (sample, *read(sample))


def _beam_select(decoded, protocol, wanted):
  """Beam's FlatMap: a split's (key, example), or nothing, counted."""
  sample, example, reason = decoded
  if not _in_split(sample, protocol, wanted):
    return
  split = _split_name(protocol, wanted)
  _counter(build_summary.counter_name(split, reason or 'examples'))
  if example is not None:
    _counter(build_summary.counter_name(split, 'frames'),
             len(example['frames']))
    if sample.performer:  # 0: a teacher video not named NTU's way
      _counter(build_summary.counter_name(split,
                                          f'performer_{sample.performer}'))
    if sample.action:
      _counter(build_summary.counter_name(split, f'action_{sample.action}'))
    yield _key(sample), example


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


_MODALITY_FILES = {
    'rgb': (layout.rgb_path,),
    'depth_masked': (layout.depth_masked_dir,),
    'depth': (layout.depth_dir,),
    'rgbd': (layout.rgb_path, layout.depth_masked_dir),
    'ir': (layout.ir_path,),
}


def _wanted_files(root, modality):
  """What every sample needs besides its skeleton, for error messages."""
  inside = {layout.rgb_path: '', layout.ir_path: '',
            layout.depth_masked_dir: '/MDepth-%08d.png',
            layout.depth_dir: '/Depth-%08d.png'}
  return ' and '.join(f(root, 'SsssCcccPpppRrrrAaaa') + inside[f]
                      for f in _MODALITY_FILES[modality])


def _modality_names(root, modality):
  """Sample names of the files or folders of the modality's first kind."""
  path_fn = _MODALITY_FILES[modality][0]
  folder, suffix = os.path.split(path_fn(root, 'NAME'))
  suffix = suffix[len('NAME'):]
  if not os.path.isdir(folder):
    return set()
  return {f[:len(f) - len(suffix)] for f in os.listdir(folder)
          if f.endswith(suffix)}


def _missing_modality_file(root, name, modality):
  """The first file or folder of the modality `name` lacks, or None."""
  for path_fn in _MODALITY_FILES[modality]:
    if not os.path.exists(path_fn(root, name)):
      return path_fn(root, name)
  return None


def _missing_skeleton_list(root):
  """The names in the authors' missing-skeleton lists found in `root`.

  Raises:
    ValueError: when neither list is there, saying where to get them.
  """
  paths = [os.path.join(root, f) for f in layout.MISSING_SKELETON_LISTS]
  present = [p for p in paths if os.path.exists(p)]
  if not present:
    raise ValueError(
        f'{root}: none of {layout.MISSING_SKELETON_LISTS} found. Download '
        'them from https://github.com/shahroudy/NTURGB-D/tree/master/Matlab '
        'into the manual dir, or build a config with '
        'exclude_missing_skeletons=False.')
  names = set()
  for path in present:
    names |= layout.read_sample_list(path)
  logging.info('%d samples listed as missing skeletons in %s.', len(names),
               present)
  return names


def _find_samples(root, modality, listed=frozenset()):
  """Samples with a skeleton file and the modality's file or folder.

  Names present on one side only, not of the form SsssCcccPpppRrrrAaaa, or
  in `listed`, are skipped with a warning and counted by reason.

  Returns:
    The samples, sorted, and {reason: count} of those skipped.

  Raises:
    ValueError: when no sample has both, saying where it looked.
  """
  skeleton_dir = os.path.join(root, layout.SKELETON_DIR)
  suffix = '.skeleton'
  skeletons = set()
  if os.path.isdir(skeleton_dir):
    skeletons = {f[:-len(suffix)] for f in os.listdir(skeleton_dir)
                 if f.endswith(suffix)}
  names = _modality_names(root, modality)
  skipped = collections.Counter()
  for name in sorted((skeletons | names) & listed):
    logging.warning('Skipping %s: listed as missing skeletons.', name)
    skipped['listed_missing_skeleton'] += 1
  for name in sorted(names - skeletons - listed):
    logging.warning('Skipping %s: no %s', name,
                    layout.skeleton_path(root, name))
    skipped['no_skeleton'] += 1
  skeletons -= listed
  found = set()
  for name in sorted(skeletons):
    missing = _missing_modality_file(root, name, modality)
    if missing is None:
      found.add(name)
    else:
      logging.warning('Skipping %s: %s missing.', name, missing)
      skipped[f'no_{modality}'] += 1
  samples = []
  for name in sorted(found):
    try:
      samples.append(layout.parse_name(name))
    except ValueError as e:
      logging.warning('Skipping %s', e)
      skipped['bad_name'] += 1
  if not samples:
    wanted = _wanted_files(root, modality)
    raise ValueError(
        f'no NTU sample under {root}: looked for {skeleton_dir}/'
        f'SsssCcccPpppRrrrAaaa{suffix} with a matching {wanted}'
        + (f' ({skipped["listed_missing_skeleton"]} listed as missing '
           'skeletons)' if listed else ''))
  logging.info('%d samples under %s; skipped before reading: %s.',
               len(samples), root, dict(skipped))
  return samples, skipped


def _read_or_skip(root, config, sample):
  """(example, None), or (None, reason) after logging why it is skipped."""
  try:
    if config.teacher:
      return teacher_videos.read_example(sample, config.height,
                                         config.width), None
    return _read_example(root, sample, config), None
  except build_summary.SampleError as e:
    logging.warning('Skipping %s: %s', _key(sample), e)
    return None, e.reason


def _read_example(root, sample, config):
  """Decodes one sample into the feature dict.

  Images are matched to skeleton frames by number: a depth folder with gaps
  keeps the frames it has, and frames past the end of the other stream are
  dropped.

  Raises:
    build_summary.SampleError: naming the file, on a missing, malformed or
      empty file.
  """
  name = sample.name
  skeleton = layout.skeleton_path(root, name)
  frames_by_body = build_summary.stage(
      build_summary.SKELETON, skeleton_file.read_skeleton,
      skeleton)
  actors = [skeleton_file.actor_arrays(frames_by_body, body_id)
            for body_id in skeleton_file.actor_ids(frames_by_body)]
  if not actors:
    raise build_summary.SampleError(build_summary.NO_BODY,
                                    f'{skeleton}: no body in any frame')
  # One-person actions keep one actor: any other body is a bystander.
  actor = actors[0]
  second = (actors[1] if len(actors) > 1 and
            sample.action in layout.TWO_PERSON_ACTIONS else None)
  if config.modality == 'rgb':
    images = {'frames': build_summary.stage(
        build_summary.VIDEO, video_io.read_rgb_video,
        layout.rgb_path(root, name), config.height,
        config.width)}
    indices = np.arange(len(images['frames']))
  elif config.modality == 'ir':
    images = {'frames': build_summary.stage(
        build_summary.VIDEO, video_io.read_ir_video,
        layout.ir_path(root, name), config.height,
        config.width)}
    indices = np.arange(len(images['frames']))
  else:
    folder = (layout.depth_dir if config.modality == 'depth' else
              layout.depth_masked_dir)(root, name)
    depth, numbers = build_summary.stage(
        build_summary.DEPTH, video_io.read_depth_frames,
        folder, config.height, config.width)
    images, indices = {'frames': depth}, numbers - 1
    if config.modality == 'rgbd':
      images, indices = _colour_in_depth_geometry(root, name, config,
                                                  frames_by_body, depth,
                                                  indices)
  keep = indices < len(frames_by_body)
  if not keep.any():
    raise build_summary.SampleError(
        build_summary.NO_FRAMES,
        f'{name}: none of its {len(indices)} images has a skeleton frame in '
        f'{skeleton} ({len(frames_by_body)} frames)')
  indices = indices[keep]
  per_frame = {k: v[keep] for k, v in images.items() if k in ('frames',
                                                              'depth')}
  joints = functools.partial(_actor_joints, config=config, indices=indices)
  return {
      **images,
      **per_frame,
      **joints(actor),
      'second_actor': joints(second),
      'body_count': skeleton_file.body_counts(frames_by_body)[indices],
      'name': name,
      'setup': sample.setup,
      'camera': sample.camera,
      'performer': sample.performer,
      'replication': sample.replication,
      'action': sample.action - 1,
  }


def _actor_joints(actor, config, indices):
  """An actor's joints at skeleton frames `indices`, 2D in the stored frame.

  Args:
    actor: a `skeleton_file.Actor`, or None for all-zero arrays (state 0).
  """
  n = len(indices)
  if actor is None:
    return {'joints_2d': np.zeros((n, 25, 2), np.float32),
            'joints_3d': np.zeros((n, 25, 3), np.float32),
            'tracking_state': np.zeros((n, 25), np.int32)}
  if config.modality == 'rgb':
    pixels, (full_h, full_w) = actor.color_xy, layout.RGB_SIZE
  else:
    pixels, (full_h, full_w) = actor.depth_xy, layout.DEPTH_SIZE
  scale = np.array([config.width / full_w, config.height / full_h], np.float32)
  return {
      'joints_2d': pixels[indices] * scale,
      'joints_3d': actor.joints_3d[indices],
      'tracking_state': actor.tracking_state[indices],
  }


def _colour_in_depth_geometry(root, name, config, frames_by_body, depth,
                              indices):
  """The 'rgbd' images: colour warped onto the depth frames, and the depth.

  The depth-to-colour homography is fitted to every body's tracked joints
  (`rgb_to_depth.fit_depth_to_colour`).

  Returns:
    ({'frames': [T, h, w, 3] uint8, 'depth': [T, h, w, 1] uint16,
      'depth_to_colour': [3, 3], 'alignment_residual_px': float}, the
    skeleton frame of each), for the depth frames that have a colour frame.
  """
  tracks = np.stack(list(skeleton_file.body_tracks(frames_by_body).values()))
  try:
    homography, residual = rgb_to_depth.fit_depth_to_colour(
        tracks[..., skeleton_file.DEPTH_XY],
        tracks[..., skeleton_file.COLOR_XY],
        np.nan_to_num(tracks[..., skeleton_file.TRACKING]).astype(np.int32))
  except ValueError as e:
    raise build_summary.SampleError(
        build_summary.ALIGNMENT,
        f'{layout.skeleton_path(root, name)}: {e}') from None
  colour_per_depth_px = kinect.COLOR_CAMERA.fx / kinect.DEPTH_CAMERA.fx
  read_scale = min(1.0, _RGBD_OVERSAMPLING * config.width /
                   (layout.DEPTH_SIZE[1] * colour_per_depth_px))
  colour = build_summary.stage(build_summary.VIDEO, video_io.read_rgb_video,
                               layout.rgb_path(root, name),
                               round(layout.RGB_SIZE[0] * read_scale),
                               round(layout.RGB_SIZE[1] * read_scale))
  # Colour frame i and skeleton frame i are the same instant.
  has_colour = indices < len(colour)
  indices = indices[has_colour]
  warped = rgb_to_depth.warp_colour_to_depth(
      colour[indices], homography, (config.height, config.width))
  return {
      'frames': warped,
      'depth': depth[has_colour],
      'depth_to_colour': homography.astype(np.float32),
      'alignment_residual_px': np.float32(residual),
  }, indices

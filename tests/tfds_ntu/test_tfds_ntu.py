"""Tests for the tfds_ntu builder: names, protocols, end-to-end builds."""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_ntu
from tfds_ntu import build_summary
from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import render
from tfds_ntu import video_io

import manual_builds
import real_samples

_SPLITS = ('xsub_train', 'xsub_test', 'xview_train', 'xview_test')


def test_parse_name():
  sample = layout.parse_name('S017C003P020R002A060')
  assert sample == layout.SampleId(17, 3, 20, 2, 60)
  assert sample.name == 'S017C003P020R002A060'


@pytest.mark.parametrize('name', [
    'S001C001P001R001', 'S001C001P001R001A001_rgb', 's001c001p001r001a001',
    'S001C000P001R001A001', 'S001C001P001R001A121'])
def test_parse_bad_name_names_it(name):
  with pytest.raises(ValueError, match=f'bad NTU sample name {name!r}'):
    layout.parse_name(name)


def test_paths_and_protocols():
  name = 'S001C002P003R001A010'
  assert layout.rgb_path('/d', name) == f'/d/nturgb+d_rgb/{name}_rgb.avi'
  assert layout.depth_masked_frame_path('/d', name, 0) == (
      f'/d/nturgb+d_depth_masked/{name}/MDepth-00000001.png')
  assert layout.depth_frame_path('/d', name, 9) == (
      f'/d/nturgb+d_depth/{name}/Depth-00000010.png')
  assert layout.skeleton_path('/d', name) == (
      f'/d/nturgbd_skeletons/{name}.skeleton')
  assert len(layout.XSUB_TRAIN_PERFORMERS_60) == 20
  sample = layout.parse_name(name)
  assert not layout.is_xsub_train(sample)  # Performer 3 tests.
  assert layout.is_xview_train(sample)  # Camera 2 trains.
  assert layout.is_xsub_train(layout.parse_name('S001C001P038R001A001'))
  assert not layout.is_xview_train(layout.parse_name('S001C001P038R001A001'))


# The first lines of the authors' lists as published, before the names.
_HEADER = ('{n} of the captured samples in the "NTU RGB+D" dataset have '
           'missing or incomplete skeleton data.\n'
           'If you are working on skeleton-based analysis, please ignore '
           'these files in your training and testing procedures.\n\n')


@pytest.mark.parametrize('list_name,count', [
    (layout.MISSING_SKELETON_LISTS[0], 302),
    (layout.MISSING_SKELETON_LISTS[1], 535),
])
def test_read_sample_list_reads_the_published_lists(list_name, count):
  names = layout.read_sample_list(real_samples.sample_file(list_name))
  assert len(names) == count
  assert 'S001C002P005R002A008' in names


@pytest.mark.parametrize('text,expected', [
    (_HEADER.format(n=2) + 'S001C002P005R002A008\nS001C002P006R001A008\n',
     2),
    # Windows line ends, no count stated, blank lines among the names.
    ('Samples with missing skeletons.\r\n\r\nS001C002P005R002A008\r\n'
     '\r\nS001C002P006R001A008\r\n', 2),
    ('\nS001C002P005R002A008\nS001C002P006R001A008\n\n', 2),
    ('', 0),
])
def test_read_sample_list_skips_a_prose_header(tmp_path, text, expected):
  path = tmp_path / 'list.txt'
  path.write_bytes(text.encode())
  assert len(layout.read_sample_list(path)) == expected


@pytest.mark.parametrize('text,line', [
    # A malformed name at the top has no spaces: a name, not header prose.
    ('S001C002P005R002A08\nS001C002P006R001A008\n', 1),
    ('S001C002P005R002A008 S001C002P006R001A008\n', 1),
    (_HEADER.format(n=2) + 'S001C002P005R002A008\nS001C002P006R001A08\n',
     5),
    # After the header's blank line, prose is not a name.
    (_HEADER.format(n=1) + 'S001C002P005R002A008\nsee the paper\n', 5),
    (_HEADER.format(n=1) + 'More prose after the blank line.\n'
     'S001C002P005R002A008\n', 4),
])
def test_read_sample_list_names_the_line_of_a_bad_name(tmp_path, text, line):
  path = tmp_path / 'list.txt'
  path.write_text(text)
  with pytest.raises(ValueError, match=f'{path}:{line}: bad NTU sample name'):
    layout.read_sample_list(path)


def test_read_sample_list_catches_a_truncated_download(tmp_path):
  path = tmp_path / layout.MISSING_SKELETON_LISTS[0]
  path.write_text(_HEADER.format(n=302) + 'S001C002P005R002A008\n')
  with pytest.raises(ValueError, match=f'{path}: line 1 says 302 samples '
                     'but 1 names follow.*truncated'):
    layout.read_sample_list(path)


def test_real_video_decodes():
  video = (real_samples.samples_dir() / 'nturgb+d_rgb' /
           'S001C001P001R001A001_rgb.avi')
  frames = video_io.read_rgb_video(video, 144, 256)
  assert frames.shape == (103, 144, 256, 3) and frames.dtype == np.uint8


def _check_split(data_dir, config, split, channels, dtype):
  ds = tfds.load(f'tfds_ntu/{config}', split=split, data_dir=data_dir)
  builder = tfds.builder(f'tfds_ntu/{config}', data_dir=data_dir)
  height, width = builder.builder_config.height, builder.builder_config.width
  count = 0
  for ex in tfds.as_numpy(ds):
    count += 1
    n = len(ex['frames'])
    assert ex['frames'].shape == (n, height, width, channels)
    assert ex['frames'].dtype == dtype
    assert ex['joints_2d'].shape == (n, 25, 2)
    assert ex['joints_2d'].dtype == np.float32
    assert ex['joints_3d'].shape == (n, 25, 3)
    assert ex['tracking_state'].shape == (n, 25)
    assert ex['tracking_state'].dtype == np.int32
    sample = layout.parse_name(ex['name'].decode())
    people = 1 + (render.motions.MOTIONS[sample.action].partner is not None)
    np.testing.assert_array_equal(ex['body_count'], np.full(n, people))
    second = ex['second_actor']
    assert second['joints_2d'].shape == (n, 25, 2)
    if people == 2:
      # Both people are stored, and they are different people.
      assert np.all(second['tracking_state'] > 0)
      assert np.all(second['joints_2d'] >= 0)
      assert np.all(np.abs(second['joints_3d'] - ex['joints_3d']).max(
          axis=(1, 2)) > 0.1)
    else:
      assert not np.any(second['tracking_state'])
      assert not np.any(second['joints_2d']) and not np.any(
          second['joints_3d'])
    assert np.all(ex['joints_2d'] >= 0)
    assert np.all(ex['joints_2d'][..., 0] < width)
    assert np.all(ex['joints_2d'][..., 1] < height)
    assert np.all(ex['frames'].max(axis=(1, 2, 3)) > 0)
    assert ex['action'] == sample.action - 1
    assert (ex['setup'], ex['camera'], ex['performer'], ex['replication']) == (
        sample.setup, sample.camera, sample.performer, sample.replication)
  return count


@pytest.mark.parametrize('config,channels,dtype', [
    ('synthetic_smoke_rgb', 3, np.uint8),
    ('synthetic_smoke_depth', 1, np.uint16),
])
def test_build_and_load_smoke(smoke_builder, smoke_data_dir, config,
                              channels, dtype):
  # The session's build (conftest), which the trainer's tests read too.
  builder = smoke_builder(config.removeprefix('synthetic_smoke_'))
  data_dir = smoke_data_dir
  assert isinstance(builder, tfds_ntu.Builder)
  counts = {s: builder.info.splits[s].num_examples for s in _SPLITS}
  # 3 cameras x 2 performers (1 trains, 3 tests) x 2 actions.
  assert counts == {'xsub_train': 6, 'xsub_test': 6, 'xview_train': 8,
                    'xview_test': 4}
  assert _check_split(data_dir, config, 'xview_test', channels, dtype) == 4
  # The summary says who and what each split holds.
  splits = builder.info.metadata['build_summary']['splits']
  assert splits['xsub_train']['performers'] == [1]
  assert splits['xsub_test']['performers'] == [3]
  assert splits['xview_test']['performers'] == [1, 3]
  assert splits['xview_test']['actions'] == [23, 58]
  assert splits['xview_test']['frames'] == 4 * 12


def test_synthetic_configs_are_sized_for_their_purpose():
  def spec(name):
    return tfds.builder(f'tfds_ntu/{name}').builder_config.synthetic

  for name in ('synthetic_rgb', 'synthetic_depth', 'synthetic_depth_full',
               'synthetic_rgbd', 'synthetic_large_rgb',
               'synthetic_large_depth'):
    samples = spec(name).sample_ids()
    performers = {s.performer for s in samples}
    train = {p for p in performers if p in layout.XSUB_TRAIN_PERFORMERS_60}
    assert len(performers) >= 20 and min(len(train),
                                         len(performers - train)) >= 10
    assert {s.action for s in samples} == set(render.ACTIONS), name
    assert spec(name).num_frames == 24
    if 'large' in name:
      assert len(samples) >= 2000 and len(performers) == 40, name
      assert {s.camera for s in samples} == {1, 2, 3}
    else:
      # About as quick to render as the 336 samples of 4 performers were.
      assert 336 <= len(samples) <= 400, name
  for name in ('synthetic_smoke_rgb', 'synthetic_smoke_depth'):
    assert len(spec(name).sample_ids()) == 12
    assert spec(name).num_frames == 12


def test_build_summary_prints_performers_actions_and_frames_per_split():
  summary = build_summary.new(5, {})
  build_summary.add_split(summary, 'xsub_train', 3, {'video': 1}, frames=72,
                          performers=[1, 2, 4, 2], actions=[23, 24, 23])
  build_summary.add_empty_split(summary, 'xset_train')
  text = build_summary.format_summary(summary)
  assert ("xsub_train: 3 examples, 72 frames, 3 performers (1-2, 4), "
          "2 actions (23-24), skipped {'video': 1}") in text
  assert 'xset_train: empty' in text


def _render_manual_dir(tmp_path, **spec_changes):
  """A tiny synthetic set in the real layout, with an empty missing list."""
  manual = str(tmp_path / 'ntu')
  spec = dataclasses.replace(
      tfds.builder('tfds_ntu/synthetic_smoke_rgb').builder_config.synthetic,
      **{'num_frames': 4, 'setups': (1, 2), 'cameras': (1, 2),
         **spec_changes})
  samples = render.render_dataset(manual, spec)
  pathlib.Path(manual, layout.MISSING_SKELETON_LISTS[0]).write_text('')
  return manual, samples


# Under Beam in the slow run only: the default run builds this config through
# Beam in test_one_setup_builds_with_the_empty_splits_reported; the slow run
# also counts skipped samples through Beam in test_teacher_rgb's messy-folder
# build.
@pytest.mark.parametrize(
    'beam', [False, pytest.param(True, marks=pytest.mark.slow)])
def test_manual_dir_skips_bad_samples_and_stores_a_summary(
    tmp_path, caplog, beam):
  manual, samples = _render_manual_dir(tmp_path)
  names = [s.name for s in samples]
  bad = {}
  # Cut off where a joint line should start.
  path = layout.skeleton_path(manual, names[0])
  with open(path, newline='') as f:
    lines = f.readlines()
  with open(path, 'w', newline='') as f:
    f.writelines(lines[:-3])
  bad[names[0]] = f'{names[0]}.skeleton: truncated'
  pathlib.Path(layout.skeleton_path(manual, names[1])).write_bytes(b'')
  bad[names[1]] = f'{names[1]}.skeleton'
  os.remove(layout.rgb_path(manual, names[2]))
  bad[names[2]] = f'{names[2]}_rgb.avi missing'
  pathlib.Path(layout.rgb_path(manual, names[3])).write_bytes(b'\0' * 4096)
  bad[names[3]] = f'{names[3]}_rgb.avi: cv2 cannot open'
  # A valid file whose frames hold no body.
  pathlib.Path(layout.skeleton_path(manual, names[4])).write_text(
      '2\r\n0\r\n0\r\n')
  bad[names[4]] = 'no body in any frame'
  pathlib.Path(manual, layout.MISSING_SKELETON_LISTS[0]).write_text(
      f'{names[5]}\n\n')
  bad[names[5]] = 'listed as missing skeletons'
  os.symlink(layout.rgb_path(manual, names[6]),
             layout.rgb_path(manual, 'S001C001P001R001A999'))
  pathlib.Path(layout.skeleton_path(manual, 'S001C001P001R001A999')).write_text(
      '')
  bad['S001C001P001R001A999'] = "bad NTU sample name 'S001C001P001R001A999'"

  builder = manual_builds.build(tmp_path, 'rgb', manual, beam)
  assert builder._use_beam == beam  # pylint: disable=protected-access
  counts = {s: info.num_examples for s, info in builder.info.splits.items()}
  good = [layout.parse_name(n) for n in names if n not in bad]
  expected = {}
  for protocol, trains in layout.PROTOCOLS.items():
    expected[f'{protocol}_train'] = sum(trains(s) for s in good)
    expected[f'{protocol}_test'] = sum(not trains(s) for s in good)
  assert counts == expected
  messages = ' '.join(r.getMessage() for r in caplog.records)
  for name, reason in bad.items():
    assert reason in messages, name

  # The summary is stored with the dataset: a fresh builder reads it back.
  summary = tfds.builder('tfds_ntu/rgb', data_dir=str(tmp_path / 'data')
                         ).info.metadata['build_summary']
  assert summary['samples_found'] == len(names) - 2
  assert summary['skipped_before_reading'] == {
      'bad_name': 1, 'listed_missing_skeleton': 1, 'no_rgb': 1}
  skipped = {}
  for split in counts:
    assert summary['splits'][split]['examples'] == counts[split]
    for reason, n in summary['splits'][split]['skipped'].items():
      skipped[reason] = skipped.get(reason, 0) + n
  # Each decoding fault is met once per protocol.
  assert skipped == {'skeleton': 6, 'video': 3, 'no_body': 3}
  # Who and what each split stores, under Beam (from its counters) too.
  for split, trains in (('xsub_train', True), ('xsub_test', False)):
    stored = [s for s in good if layout.is_xsub_train(s) == trains]
    record = summary['splits'][split]
    assert record['performers'] == sorted({s.performer for s in stored})
    assert record['actions'] == sorted({s.action for s in stored})
    assert record['frames'] == 4 * len(stored)
  # Beam decodes each sample once for all splits, the local path once per
  # protocol.
  assert summary['sample_reads'] == (1 if beam else 3) * summary[
      'samples_found']
  timing = summary['timing']
  assert timing['generate_seconds'] > 0 and timing['samples_per_s'] > 0


def test_depth_folders_with_gaps_keep_their_frames(tmp_path, caplog):
  # One setup: its camera 2 alone gives the 4 xview_train samples needed.
  manual, samples = _render_manual_dir(
      tmp_path, modalities=('depth', 'depth_masked'), setups=(1,))
  names = [s.name for s in samples if layout.is_xview_train(s)]
  assert len(names) == 4
  os.remove(layout.depth_frame_path(manual, names[0], 1))
  pathlib.Path(layout.depth_frame_path(manual, names[1], 2)).write_bytes(
      b'\x89PNG broken')
  builder = manual_builds.build(tmp_path, 'depth_full', manual)
  ds = tfds.as_numpy(builder.as_dataset(split='xview_train'))
  examples = {ex['name'].decode(): ex for ex in ds}
  assert set(examples) == set(names) - {names[1]}
  assert {len(ex['frames']) for n, ex in examples.items()} == {3, 4}
  # Frames 1, 3 and 4 remain, each with its own skeleton frame.
  gap = examples[names[0]]
  assert len(gap['frames']) == 3
  actor = skeleton_file.main_actor(
      skeleton_file.read_skeleton(layout.skeleton_path(manual, names[0])))
  # depth_full is stored at the sensor's own 512x424.
  np.testing.assert_allclose(gap['joints_2d'], actor.depth_xy[[0, 2, 3]],
                             atol=1e-4)
  messages = ' '.join(r.getMessage() for r in caplog.records)
  assert f'{names[1]}/Depth-00000003.png: not a readable PNG' in messages
  summary = builder.info.metadata['build_summary']
  assert summary['splits']['xview_train']['skipped'] == {'depth': 1}


def test_manual_dir_without_samples_says_what_it_looked_for(tmp_path):
  builder = tfds.builder('tfds_ntu/depth', data_dir=str(tmp_path / 'data'))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(ValueError, match='NTU_RGBD_samples_with_missing_skel.*'
                     'github.com/shahroudy'):
    builder.download_and_prepare(download_config=config)
  (tmp_path / layout.MISSING_SKELETON_LISTS[1]).write_text('S001C001P001R001A001\n')
  with pytest.raises(ValueError, match='no NTU sample under .*nturgbd_skeletons'
                     '.*MDepth'):
    builder.download_and_prepare(download_config=config)
  (tmp_path / layout.MISSING_SKELETON_LISTS[1]).write_text('S001C001\n')
  with pytest.raises(ValueError, match='NTU_RGBD120.*txt:1: bad NTU sample'):
    builder.download_and_prepare(download_config=config)


@pytest.mark.slow
def test_tfds_cli_builds_smoke_config(tmp_path):
  tfds_cli = pathlib.Path(sys.executable).parent / 'tfds'
  result = subprocess.run(
      [str(tfds_cli), 'build', 'tfds_ntu', '--config=synthetic_smoke_rgb',
       f'--data_dir={tmp_path}'],
      cwd=real_samples.REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  info = (tmp_path / 'tfds_ntu' / 'synthetic_smoke_rgb' /
          str(tfds_ntu.Builder.VERSION))
  assert (info / 'dataset_info.json').exists()


def test_rgbd_stores_colour_in_the_depth_cameras_geometry(tmp_path):
  manual, samples = _render_manual_dir(
      tmp_path, modalities=('rgb', 'depth_masked'), actions=(23,))
  builder = manual_builds.build(tmp_path, 'rgbd', manual)
  examples = list(tfds.as_numpy(builder.as_dataset(split='xsub_train')))
  assert len(examples) == sum(layout.is_xsub_train(s) for s in samples)
  for ex in examples:
    n = len(ex['joints_2d'])
    assert ex['frames'].shape == (n, 212, 256, 3) and n == 4
    assert ex['depth'].shape == (n, 212, 256, 1)
    assert ex['alignment_residual_px'] < 1.0
    # Depth pixels to colour pixels: about the ratio of focal lengths.
    assert 2.6 < ex['depth_to_colour'][0, 0] < 3.2
    # The joints are in depth pixels: on the masked person, and the colour
    # warped there is not the black outside the colour view.
    xy = np.round(ex['joints_2d'] - 0.5).astype(int)
    t = np.arange(n)[:, None]
    tracked = ex['tracking_state'] == 2
    on_body = ex['depth'][t, xy[..., 1], xy[..., 0], 0] > 0
    assert on_body[tracked].mean() > 0.9
    assert (ex['frames'][t, xy[..., 1], xy[..., 0]].max(-1) > 0)[tracked].all()


def test_ir_video_is_stored_with_depth_camera_joints(tmp_path):
  manual, samples = _render_manual_dir(
      tmp_path, modalities=('depth',), actions=(23,))
  # NTU's infrared videos are 512x424 8-bit, in the depth camera: stand-ins
  # made from the rendered depth, so the person is where the depth says.
  os.makedirs(os.path.join(manual, layout.IR_DIR))
  for sample in samples:
    writer = cv2.VideoWriter(layout.ir_path(manual, sample.name),
                             cv2.VideoWriter_fourcc(*'MJPG'), layout.FPS,
                             layout.DEPTH_SIZE[::-1])
    for index in range(4):
      depth = video_io.read_depth_png(
          layout.depth_frame_path(manual, sample.name, index))
      grey = np.clip(depth / 32, 0, 255).astype(np.uint8)
      writer.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    writer.release()
  builder = manual_builds.build(tmp_path, 'ir', manual)
  ex = next(iter(tfds.as_numpy(builder.as_dataset(split='xsub_test'))))
  assert ex['frames'].shape == (4, 424, 512, 1)
  assert ex['frames'].dtype == np.uint8
  depth, _ = video_io.read_depth_frames(
      layout.depth_dir(manual, ex['name'].decode()), 424, 512)
  # Stored IR is area-averaged, depth nearest-sampled: they differ at
  # edges and sensor holes only.
  diff = np.abs(ex['frames'][..., 0] - np.clip(depth[..., 0] / 32, 0, 255))
  assert np.median(diff) < 4 and np.mean(diff > 40) < 0.02
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(
      layout.skeleton_path(manual, ex['name'].decode())))
  np.testing.assert_allclose(ex['joints_2d'], actor.depth_xy[:4],
                             atol=1e-3)



@pytest.fixture(scope='module')
def one_setup_dir(tmp_path_factory):
  """A tiny manual dir of setup 1 only (2 cameras x 2 performers), rendered
  once; tests copy it."""
  root = tmp_path_factory.mktemp('one_setup')
  manual, samples = _render_manual_dir(root, setups=(1,), actions=(23,))
  return manual, samples


def _copy_manual_dir(tmp_path, one_setup_dir):
  source, samples = one_setup_dir
  manual = str(tmp_path / 'ntu')
  shutil.copytree(source, manual)
  return manual, samples


@pytest.mark.parametrize('beam', [False, True])
def test_one_setup_builds_with_the_empty_splits_reported(
    tmp_path, caplog, one_setup_dir, beam):
  # NTU ships per setup: setup 1 alone has no even setup, so no xset_train.
  manual, samples = _copy_manual_dir(tmp_path, one_setup_dir)
  listed = samples[0].name
  # The authors' list as published: header, blank line, names.
  pathlib.Path(manual, layout.MISSING_SKELETON_LISTS[0]).write_text(
      _HEADER.format(n=1) + f'{listed}\n')
  builder = manual_builds.build(tmp_path, 'rgb', manual, beam)
  good = [s for s in samples if s.name != listed]
  counts = {s: info.num_examples for s, info in builder.info.splits.items()}
  assert counts == {
      'xsub_train': sum(map(layout.is_xsub_train, good)),
      'xsub_test': sum(not layout.is_xsub_train(s) for s in good),
      'xview_train': sum(map(layout.is_xview_train, good)),
      'xview_test': sum(not layout.is_xview_train(s) for s in good),
      'xset_test': len(good),
  }
  assert all(counts.values())
  assert 'Split xset_train is empty' in caplog.text
  # Stored: a fresh builder reads the summary back.
  summary = tfds.builder('tfds_ntu/rgb', data_dir=str(tmp_path / 'data')
                         ).info.metadata['build_summary']
  assert summary['empty_splits'] == ['xset_train']
  assert summary['splits']['xset_train'] == {
      'examples': 0, 'skipped': {}, 'frames': 0, 'performers': [],
      'actions': []}
  assert summary['splits']['xset_test']['examples'] == len(good)
  assert summary['skipped_before_reading'] == {'listed_missing_skeleton': 1}

  # The trainer names the empty split and the summary.
  from bodypose_jax.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  input_pipeline.check_split(builder, 'xset_test[:50%]')
  config = default.get_config()
  config.dataset.train_split = 'xset_train'
  with pytest.raises(ValueError, match=r"Split 'xset_train' of "
                     r'tfds_ntu/rgb/.* is empty.*metadata.json: '
                     r"empty_splits \['xset_train'\]"):
    input_pipeline.train_dataset(config, builder, 2)


def test_a_build_with_no_sample_in_any_split_fails(tmp_path, one_setup_dir):
  manual, samples = _copy_manual_dir(tmp_path, one_setup_dir)
  pathlib.Path(manual, layout.MISSING_SKELETON_LISTS[0]).write_text(
      _HEADER.format(n=len(samples))
      + ''.join(f'{s.name}\n' for s in samples))
  with pytest.raises(ValueError, match=r'no NTU sample under .*ntu.*'
                     rf'\({len(samples)} listed as missing skeletons\)'):
    manual_builds.build(tmp_path, 'rgb', manual)
  # Samples, but no protocol split to put them in.
  config = dataclasses.replace(
      tfds.builder('tfds_ntu/rgb').builder_config, name='rgb_no_protocol',
      protocols=())
  builder = tfds_ntu.Builder(config=config, data_dir=str(tmp_path / 'data'))
  pathlib.Path(manual, layout.MISSING_SKELETON_LISTS[0]).write_text('')
  with pytest.raises(ValueError, match='no sample for any split'):
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual))

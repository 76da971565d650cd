"""Tests for the tfds_ntu builder: names, protocols, end-to-end builds."""

import dataclasses
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_ntu
from tfds_ntu import layout
from tfds_ntu import synthetic
from tfds_ntu import video_io

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
    people = 1 + (synthetic.motions.MOTIONS[sample.action].partner is not None)
    np.testing.assert_array_equal(ex['body_count'], np.full(n, people))
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
def test_build_and_load_smoke(tmp_path, config, channels, dtype):
  data_dir = str(tmp_path)
  builder = tfds.builder(f'tfds_ntu/{config}', data_dir=data_dir)
  assert isinstance(builder, tfds_ntu.Builder)
  builder.download_and_prepare()
  counts = {s: builder.info.splits[s].num_examples for s in _SPLITS}
  # 3 cameras x 2 performers (1 trains, 3 tests) x 2 actions.
  assert counts == {'xsub_train': 6, 'xsub_test': 6, 'xview_train': 8,
                    'xview_test': 4}
  assert _check_split(data_dir, config, 'xview_test', channels, dtype) == 4


def test_manual_dir_skips_bad_samples_with_a_warning(tmp_path, caplog):
  manual = str(tmp_path / 'ntu')
  spec = dataclasses.replace(
      tfds.builder('tfds_ntu/synthetic_smoke_rgb').builder_config.synthetic,
      num_frames=4)
  samples = synthetic.render_dataset(manual, spec)
  broken = layout.skeleton_path(manual, samples[0].name)
  with open(broken, newline='') as f:
    lines = f.readlines()
  with open(broken, 'w', newline='') as f:
    f.writelines(lines[:-3])  # Cut off where a joint line should start.
  os.remove(layout.rgb_path(manual, samples[1].name))
  builder = tfds.builder('tfds_ntu/rgb', data_dir=str(tmp_path / 'data'))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual))
  total = sum(builder.info.splits[s].num_examples for s in _SPLITS)
  assert total == 2 * (len(samples) - 2)
  messages = ' '.join(r.getMessage() for r in caplog.records)
  assert f'{samples[0].name}.skeleton: truncated' in messages
  assert f'{samples[1].name}_rgb.avi missing' in messages


def test_manual_dir_without_samples_says_what_it_looked_for(tmp_path):
  builder = tfds.builder('tfds_ntu/depth', data_dir=str(tmp_path / 'data'))
  with pytest.raises(ValueError, match='no NTU sample under .*nturgbd_skeletons'
                     '.*MDepth'):
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(tmp_path)))


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

"""TFDS's own builder checks (`DatasetBuilderTestCase`) over every real-data
config, on a small manual dir in the real NTU layout: a rendered synthetic
set, the authors' missing-skeleton list naming one of its samples, and the
real sample files from ../shared/ntu_samples when present (their skeletons
have no video or depth there, and the real video no skeleton, so each is
skipped and counted), with the authors' NTU-120 list as published (its
header is skipped; its 535 names are none of the rendered samples)."""

import os
import shutil
import tempfile

import pytest
import tensorflow_datasets as tfds

import tfds_ntu
from tfds_ntu import layout
from tfds_ntu.synthetic import render

import real_samples

# TFDS's standard builder checks build the smoke set from scratch again.
pytestmark = pytest.mark.slow

_SPEC = render.SyntheticSpec(
    seed=1, setups=(1, 2), cameras=(1, 2), performers=(1, 3), actions=(23,),
    num_frames=3, modalities=('rgb', 'depth', 'depth_masked'))
_LISTED = 'S001C001P001R001A023'


def _write_manual_dir(root):
  render.render_dataset(root, _SPEC)
  with open(os.path.join(root, layout.MISSING_SKELETON_LISTS[0]), 'w') as f:
    f.write(f'{_LISTED}\n')
  real = real_samples.REPO.parent / 'shared' / 'ntu_samples'
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR):
    if (real / folder).is_dir():
      for path in (real / folder).iterdir():
        os.symlink(path, os.path.join(root, folder, path.name))
  published = real / layout.MISSING_SKELETON_LISTS[1]
  if published.is_file():
    os.symlink(published, os.path.join(root, published.name))


class NtuBuilderTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = tfds_ntu.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ['rgb', 'depth', 'depth_full', 'rgbd']
  # Every sample of the 2 setups x 2 cameras x 2 performers but the listed
  # one (setup 1, camera 1, performer 1: a training performer, a test camera
  # and a test setup).
  SPLITS = {
      'xsub_train': 3, 'xsub_test': 4,
      'xview_train': 4, 'xview_test': 3,
      'xset_train': 4, 'xset_test': 3,
  }
  # The protocols split the same samples three ways.
  OVERLAPPING_SPLITS = list(SPLITS)
  # The builder lists the manual dir with `os` and decodes with OpenCV,
  # which reads local files only.
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False
  SKIP_CHECKSUMS = True  # nothing is downloaded

  @classmethod
  def setUpClass(cls):
    cls._manual_dir = tempfile.mkdtemp()
    _write_manual_dir(cls._manual_dir)
    cls.EXAMPLE_DIR = cls._manual_dir
    super().setUpClass()

  @classmethod
  def tearDownClass(cls):
    super().tearDownClass()
    shutil.rmtree(cls._manual_dir)


if __name__ == '__main__':
  tfds.testing.test_main()

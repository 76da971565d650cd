"""Where the real NTU RGB+D sample files are, for tests that read them."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def samples_dir() -> pathlib.Path:
  """Real NTU files: NTU_SAMPLES_DIR, else <repo>/../shared/ntu_samples.

  Skips the calling test when they are absent: they are the dataset authors'
  data and are never shipped with the project.
  """
  path = pathlib.Path(os.environ.get('NTU_SAMPLES_DIR',
                                     REPO.parent / 'shared' / 'ntu_samples'))
  if not (path / 'nturgbd_skeletons').is_dir():
    pytest.skip(f'real NTU sample files not found at {path} (they are the '
                'dataset authors\' data and are not shipped; set '
                'NTU_SAMPLES_DIR)')
  return path

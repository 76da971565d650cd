"""Where the real NTU RGB+D sample files are, for tests that read them."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _root() -> pathlib.Path:
  return pathlib.Path(os.environ.get('NTU_SAMPLES_DIR',
                                     REPO.parent / 'shared' / 'ntu_samples'))


def samples_dir() -> pathlib.Path:
  """Real NTU files: NTU_SAMPLES_DIR, else <repo>/../shared/ntu_samples.

  Skips the calling test when they are absent: they are the dataset authors'
  data and are never shipped with the project.
  """
  path = _root()
  if not (path / 'nturgbd_skeletons').is_dir():
    pytest.skip(f'real NTU sample files not found at {path} (they are the '
                'dataset authors\' data and are not shipped; set '
                'NTU_SAMPLES_DIR)')
  return path


def sample_file(name: str) -> pathlib.Path:
  """The real NTU file `name` beside the sample folders (e.g. one of the
  authors' missing-skeleton lists); skips the calling test when absent."""
  path = _root()
  if not (path / name).is_file():
    pytest.skip(f'real NTU file {path / name} not found (the dataset '
                'authors\' data is not shipped; set NTU_SAMPLES_DIR)')
  return path / name

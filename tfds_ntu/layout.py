"""NTU RGB+D sample names, folder layout and evaluation protocols."""

import dataclasses
import os
import re

# Folders of the released archives, relative to the dataset root.
RGB_DIR = 'nturgb+d_rgb'
DEPTH_MASKED_DIR = 'nturgb+d_depth_masked'
DEPTH_DIR = 'nturgb+d_depth'
IR_DIR = 'nturgb+d_ir'
SKELETON_DIR = 'nturgbd_skeletons'

RGB_SIZE = (1080, 1920)  # (height, width) of the colour videos.
DEPTH_SIZE = (424, 512)  # (height, width) of the depth frames.
FPS = 30
NUM_ACTIONS = 120

# Cross-subject training performers: NTU-60's 20, then those NTU-120 adds.
# NTU-60 samples only have performers 1-40, so on NTU-60 this set is exactly
# the NTU-60 protocol.
XSUB_TRAIN_PERFORMERS_60 = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
XSUB_TRAIN_PERFORMERS_120 = XSUB_TRAIN_PERFORMERS_60 | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81,
     82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103))
# Performers whose footage no training split may hold, whatever the config
# or folder says: P001's real clip is the project's test clip (DESIGN.md).
NEVER_TRAIN_PERFORMERS = frozenset((1,))
# Teacher-labelled real NTU video (the `teacher_*` configs) is split by
# performer: these are held out for testing, every other performer trains.
# For the real clips at hand (performers 3, 4, 6, 7, 11) that tests three
# people (4, 7, 11) and trains on two (3, 6); P001 is listed so that its
# clip, when labelled, lands on the test side.
TEACHER_TEST_PERFORMERS = (1, 4, 7, 11)
# Cross-view: cameras 2 and 3 train, camera 1 tests.
XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
# The dataset authors' lists of samples without usable skeletons (302 in
# NTU-60, 535 in NTU-120), as published beside the dataset at
# https://github.com/shahroudy/NTURGB-D/tree/master/Matlab .
MISSING_SKELETON_LISTS = ('NTU_RGBD_samples_with_missing_skeletons.txt',
                          'NTU_RGBD120_samples_with_missing_skeletons.txt')

_NAME_RE = re.compile(r'S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})')


@dataclasses.dataclass(frozen=True, order=True)
class SampleId:
  """The five numbers in a sample name `SsssCcccPpppRrrrAaaa` (1-based)."""
  setup: int
  camera: int
  performer: int
  replication: int
  action: int

  @property
  def name(self):
    return (f'S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}'
            f'R{self.replication:03d}A{self.action:03d}')


def parse_name(name):
  """Parses `SsssCcccPpppRrrrAaaa` into a `SampleId`.

  Raises:
    ValueError: naming `name` when it does not match the pattern, or a number
      is out of range (all are >= 1; actions <= 120).
  """
  match = _NAME_RE.fullmatch(name)
  if match is None:
    raise ValueError(
        f'bad NTU sample name {name!r}: expected SsssCcccPpppRrrrAaaa, '
        'e.g. S001C002P003R001A010')
  sample = SampleId(*(int(g) for g in match.groups()))
  if min(dataclasses.astuple(sample)) < 1 or sample.action > NUM_ACTIONS:
    raise ValueError(
        f'bad NTU sample name {name!r}: numbers start at 1 and actions end '
        f'at A{NUM_ACTIONS:03d}')
  return sample


def rgb_path(root, name):
  """`<root>/nturgb+d_rgb/<name>_rgb.avi`."""
  return os.path.join(root, RGB_DIR, f'{name}_rgb.avi')


def ir_path(root, name):
  """`<root>/nturgb+d_ir/<name>_ir.avi`, infrared in the depth camera."""
  return os.path.join(root, IR_DIR, f'{name}_ir.avi')


def depth_masked_dir(root, name):
  """`<root>/nturgb+d_depth_masked/<name>`, holding MDepth-%08d.png."""
  return os.path.join(root, DEPTH_MASKED_DIR, name)


def depth_masked_frame_path(root, name, index):
  """Masked depth PNG of 0-based frame `index` (files count from 1)."""
  return os.path.join(depth_masked_dir(root, name),
                      f'MDepth-{index + 1:08d}.png')


def depth_dir(root, name):
  """`<root>/nturgb+d_depth/<name>`, holding Depth-%08d.png."""
  return os.path.join(root, DEPTH_DIR, name)


def depth_frame_path(root, name, index):
  """Full depth PNG of 0-based frame `index` (files count from 1)."""
  return os.path.join(depth_dir(root, name), f'Depth-{index + 1:08d}.png')


def skeleton_path(root, name):
  """`<root>/nturgbd_skeletons/<name>.skeleton`."""
  return os.path.join(root, SKELETON_DIR, f'{name}.skeleton')


# Actions performed by two people: NTU-60's A050-A060, NTU-120's A106-A120.
TWO_PERSON_ACTIONS = frozenset((*range(50, 61), *range(106, 121)))


def is_xsub_train(sample):
  """Whether a sample is in the cross-subject training side."""
  return sample.performer in XSUB_TRAIN_PERFORMERS_120


def is_xview_train(sample):
  """Whether a sample is in the cross-view training side."""
  return sample.camera in XVIEW_TRAIN_CAMERAS


def is_xset_train(sample):
  """Whether a sample is in NTU-120's cross-setup training side (even setups)."""
  return sample.setup % 2 == 0


# Protocol -> whether a sample trains; the rest test.
PROTOCOLS = {
    'xsub': is_xsub_train,
    'xview': is_xview_train,
    'xset': is_xset_train,
}
# Protocol -> which samples train, for messages about a split.
PROTOCOL_TRAIN_SIDES = {
    'xsub': 'the training performers',
    'xview': 'cameras 2 and 3',
    'xset': 'even setups',
}


# The count the authors' lists state in their first line, "302 of the
# captured samples in the "NTU RGB+D" dataset have missing or incomplete
# skeleton data.", checked so that a truncated download is caught.
_HEADER_COUNT_RE = re.compile(r'(\d+) of the (?:captured )?samples\b', re.I)
# A line that starts like a sample name is never header prose, so a
# malformed name at the top of a file is reported, not skipped.
_NAME_START_RE = re.compile(r's\d+c\d+', re.I)


def _is_header_prose(line):
  """Whether a stripped, non-blank line is prose rather than a sample name:
  prose has spaces and does not start like a name."""
  return len(line.split()) > 1 and not _NAME_START_RE.match(line)


def read_sample_list(path):
  """The sample names listed in a text file, one per line (blank lines ok).

  Reads the authors' missing-skeleton lists as published: two lines of prose
  ("302 of the captured samples in the "NTU RGB+D" dataset have missing or
  incomplete skeleton data." ...), a blank line, then the names. A header of
  prose lines at the top, ended by a blank line, is skipped; after it every
  non-blank line must be a sample name. A file of names alone is read too.

  Raises:
    ValueError: naming the file and line of anything that is not a name, or
      naming the file when its header states a count of samples that the
      names that follow do not match (a truncated or edited download).
  """
  names = set()
  listed = 0
  stated = None  # (count, line number) stated by the header, if any
  in_header, header_lines = True, 0
  # utf-8-sig: a byte-order mark some editors add is not part of line 1.
  with open(path, encoding='utf-8-sig', errors='replace') as f:
    for number, line in enumerate(f, 1):
      line = line.strip()
      if not line:
        # Blank lines before the header are skipped; one after it ends it.
        in_header = in_header and not header_lines
        continue
      if in_header and _is_header_prose(line):
        header_lines += 1
        match = _HEADER_COUNT_RE.match(line)
        if match and stated is None:
          stated = int(match.group(1)), number
        continue
      in_header = False
      try:
        names.add(parse_name(line).name)
      except ValueError as e:
        raise ValueError(f'{path}:{number}: {e}') from None
      listed += 1
  if stated is not None and stated[0] != listed:
    raise ValueError(
        f'{path}: line {stated[1]} says {stated[0]} samples but {listed} '
        'names follow; the file is truncated or edited: download it again '
        'from https://github.com/shahroudy/NTURGB-D/tree/master/Matlab')
  return names

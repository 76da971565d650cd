"""Why samples were left out of a build, counted and stored with the dataset.

Every skipped sample is logged with its file and reason where it is found and
counted here by reason. The summary goes into the dataset's metadata
(`builder.info.metadata['build_summary']`), so whoever loads the dataset can
see what the build left out:

    {'samples_found': 56880,
     'sample_reads': 56880,
     'render_seconds': 0.0,
     'skipped_before_reading': {'listed_missing_skeleton': 302, ...},
     'empty_splits': [],
     'splits': {'xsub_train': {'examples': 40091,
                               'skipped': {'skeleton': 2, ...},
                               'frames': 3951224,
                               'performers': [1, 2, 4, ...],
                               'actions': [1, 2, 3, ...]}, ...},
     'timing': {'generate_seconds': ..., 'samples_per_s_per_core': ...}}

Each split records what it stores: its examples, their frames, and which
performers and actions they show (so a cross-subject split shows how many
people it trains or tests on). Reasons found while listing the files
(`skipped_before_reading`) are counted once per sample; reasons found while
decoding are counted per split, since a sample is read once for each
protocol split it belongs to.

A protocol split that no sample of the build belongs to (NTU ships per setup:
a manual dir of odd setups only has no `xset_train`) is listed in
`empty_splits` and recorded with `examples: 0`. TFDS writes no split without
an example, so such a split is absent from `builder.info.splits`.
"""

import collections

# Reasons for skipping a sample while decoding it.
SKELETON = 'skeleton'  # the .skeleton file is empty, truncated or malformed
NO_BODY = 'no_body'  # a valid .skeleton file with no body in any frame
VIDEO = 'video'  # the colour video is missing or undecodable
DEPTH = 'depth'  # a depth folder or PNG is missing or corrupt
NO_FRAMES = 'no_frames'  # no frame has both an image and a skeleton
ALIGNMENT = 'alignment'  # too few joints to map colour onto depth
# Teacher-labelled video (the `teacher_*` configs):
ANNOTATION = 'annotation'  # the .teacher.npz is unreadable or malformed
# The annotation's frame count or frame size is not the video's.
ANNOTATION_MISMATCH = 'annotation_mismatch'
READ_REASONS = (SKELETON, NO_BODY, VIDEO, DEPTH, NO_FRAMES, ALIGNMENT,
                ANNOTATION, ANNOTATION_MISMATCH)


class SampleError(ValueError):
  """A sample that cannot be stored; `reason` is one of READ_REASONS."""

  def __init__(self, reason, message):
    if reason not in READ_REASONS:
      raise ValueError(f'unknown skip reason {reason!r}')
    super().__init__(message)
    self.reason = reason


def new(samples_found, skipped_before_reading, render_seconds=0.0):
  """A summary before any split is generated.

  Args:
    samples_found: samples that will be read.
    skipped_before_reading: {reason: count} of samples left out while
      listing the files.
    render_seconds: time spent rendering a synthetic set first (0 on real
      data); `add_timing` leaves it out of the throughput.
  """
  return {
      'samples_found': int(samples_found),
      # Samples decoded: once per protocol without Beam, once under Beam.
      'sample_reads': 0,
      'render_seconds': round(render_seconds, 2),
      'skipped_before_reading': dict(
          sorted(collections.Counter(skipped_before_reading).items())),
      # Splits no sample belongs to: recorded, not generated.
      'empty_splits': [],
      'splits': {},
  }


def add_split(summary, split, examples, skipped, reads=0, frames=0,
              performers=(), actions=()):
  """Records one generated split: `examples` stored, {reason: count} skipped,
  `reads` samples decoded for it, and the stored examples' total `frames`,
  `performers` and `actions` (numbers, 1-based; repeats are fine)."""
  summary['sample_reads'] += reads
  summary['splits'][split] = {
      'examples': int(examples),
      'skipped': {r: int(n) for r, n in sorted(skipped.items()) if n},
      'frames': int(frames),
      'performers': sorted({int(p) for p in performers}),
      'actions': sorted({int(a) for a in actions}),
  }


def add_empty_split(summary, split):
  """Records a split that no sample belongs to: 0 examples, not stored."""
  summary['empty_splits'].append(split)
  add_split(summary, split, 0, {})


def counter_name(split, reason):
  """The Beam counter for `reason` in `split` (reason 'examples': stored;
  'frames': their frames; 'performer_P' / 'action_A': examples of performer
  P / action A)."""
  return f'{split}/{reason}'


def from_counters(summary, split_names, counters):
  """Fills the splits of `summary` from Beam counters {counter_name: value};
  the empty splits, never generated, keep their record."""
  summary['sample_reads'] = counters.get(counter_name('all', 'reads'), 0)
  for split in split_names:
    if split in summary['empty_splits']:
      continue
    skipped = {r: counters.get(counter_name(split, r), 0)
               for r in READ_REASONS}
    seen = {'performer': [], 'action': []}
    for name, value in counters.items():
      prefix, _, rest = name.partition('/')
      kind, _, number = rest.partition('_')
      if prefix == split and kind in seen and value:
        seen[kind].append(int(number))
    add_split(summary, split, counters.get(counter_name(split, 'examples'), 0),
              skipped, frames=counters.get(counter_name(split, 'frames'), 0),
              performers=seen['performer'], actions=seen['action'])


def add_timing(summary, generate_seconds, cores):
  """Records the generation's wall time and throughput.

  Args:
    summary: from `new`, its splits filled.
    generate_seconds: wall time of listing, decoding and writing the splits
      (rendering a synthetic set excluded).
    cores: CPU cores the build could use.
  """
  summary['timing'] = {
      'generate_seconds': round(generate_seconds, 2),
      'cores': cores,
      'samples_per_s': round(summary['samples_found'] / generate_seconds, 3),
      'samples_per_s_per_core': round(
          summary['samples_found'] / generate_seconds / cores, 3),
  }


def format_summary(summary):
  """The summary as log lines."""
  lines = [f'{summary["samples_found"]} samples found; left out before '
           f'reading: {summary["skipped_before_reading"] or "none"}']
  if 'timing' in summary:
    t = summary['timing']
    lines.append(
        f'generated in {t["generate_seconds"]:.1f} s on {t["cores"]} cores '
        f'({summary["sample_reads"]} samples decoded): '
        f'{t["samples_per_s"]:.2f} samples/s, '
        f'{t["samples_per_s_per_core"]:.2f} samples/s per core')
  for split, counts in summary['splits'].items():
    if split in summary['empty_splits']:
      lines.append(f'{split}: empty, no sample belongs to it (not stored)')
      continue
    performers, actions = counts['performers'], counts['actions']
    lines.append(
        f'{split}: {counts["examples"]} examples, {counts["frames"]} frames, '
        f'{len(performers)} performers ({_ranges(performers)}), '
        f'{len(actions)} actions ({_ranges(actions)}), skipped '
        f'{counts["skipped"] or "none"}')
  return '\n'.join(lines)


def _ranges(numbers):
  """[1, 2, 3, 5, 7, 8] -> '1-3, 5, 7-8'."""
  runs = []
  for n in numbers:
    if runs and n == runs[-1][1] + 1:
      runs[-1][1] = n
    else:
      runs.append([n, n])
  return ', '.join(f'{a}-{b}' if b > a else f'{a}' for a, b in runs)


def check_nonempty(summary, root):
  """Raises ValueError, naming `root`, for any split that had samples and
  stored none of them (each was skipped while decoding).

  Splits no sample belongs to (`empty_splits`) are expected to be empty.
  """
  for split, counts in summary['splits'].items():
    if counts['examples'] == 0 and split not in summary['empty_splits']:
      raise ValueError(
          f'{root}: no valid sample for split {split}; skipped '
          f'{counts["skipped"]} (the log names each file and reason).')


def stage(reason, fn, *args):
  """fn(*args), with its ValueError or OSError turned into a SampleError."""
  try:
    return fn(*args)
  except (ValueError, OSError) as e:
    raise SampleError(reason, str(e)) from e

"""Fuzzes tfds_ntu.skeleton_file's reader with damaged copies of real files.

Each real NTU sample under ../shared/ntu_samples (the tests skip, saying why,
when it is absent) is damaged by a numpy generator seeded per file, so every
run tries the same cases:

  * truncations of the whole file: at random bytes, at random line ends,
    exactly at frame boundaries (a file that still parses there would hold
    fewer frames than its count says), and of its final LF or CRLF;
  * damage to excerpts of 2-4 consecutive real frames (recounted, cheap to
    parse, so hundreds of cases take a second or two) and, a few times, to the
    whole file:
      - characters flipped (one bit, ASCII or not), replaced, inserted or
        deleted, from an alphabet of digits, signs, exponents, separators,
        line ends, letters of nan/inf, '_', control characters, non-ASCII
        digits and Unicode line and space separators; one to three at a time;
      - lines swapped, duplicated, deleted, or blank lines inserted;
      - numbers replaced by 'nan', 'inf', values beyond single precision,
        thousands of digits, or other numbers;
      - the frame, body and joint counts changed;
      - tracking states, flags and body IDs out of range or not integers;
      - line ends: CR only, one LF or CR among CRLF, a stray CR, the final
        line end dropped; data after the last frame;
      - harmless respellings that must read back unchanged: LF line ends,
        extra spaces and tabs, '+' signs, leading zeros, 'e' for 'E',
        trailing blank lines;
  * files that are not ASCII text (random bytes, UTF-16, gzip, a BOM, one
    high byte), read through read_skeleton.

Each case must raise ValueError whose message starts with the source name and
a line, or return frames that are not silently wrong: read exactly (each
returned count, flag and value equals the number at its place in the text,
checked against the text independently of the parser), within the format's
ranges (tracking states integers 0-2, flags in their Kinect enum ranges,
bodyID an unsigned 64-bit integer, floats finite in single precision), and
that survive format_skeleton -> parse_skeleton_text and main_actor.  Damage
the format cannot reveal (a changed digit, two joint lines swapped) may read
back. Truncations, count changes, out-of-range or non-finite values, bad line
ends and trailing data must be errors. Anything but ValueError is a crash.
"""

import gzip
import re

import numpy as np
import pytest

from tfds_ntu import skeleton_file

import real_samples

_NAMES = ['S001C001P001R001A011', 'S002C001P003R001A003',
          'S004C002P003R001A017']
_F32_MAX = float(np.finfo(np.float32).max)
_FLAG_RANGES = [(0, 15), (0, 1), (0, 4), (0, 1), (0, 4), (0, 1)]
# What damage inserts or writes over a character.
_ALPHABET = (list('0123456789.-+eE \t\r\n,_xnaifNI') +
             ['\x00', '\x0b', '\x0c', '\x1a', '\x1c', '\x7f', '\x85', '\xa0',
              '\u2028', '\ufeff', '\u0663', '\uff11', '\xe9'])
_NOT_FINITE = ['nan', 'NaN', '-nan', 'inf', '-inf', 'Infinity', '1e39',
               '-4E+38', '1E400', '9' * 400]
_INT = re.compile(r'[+-]?[0-9]+')
_FLOAT = re.compile(r'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')


def _real_frames(name):
  path = real_samples.samples_dir() / 'nturgbd_skeletons' / f'{name}.skeleton'
  return path.read_bytes().decode('ascii'), skeleton_file.read_skeleton(path)


# --- The oracle: is a returned result exactly what the text says? -----------


def _expected_lines(frames):
  """[(kind, value)] per line that `frames` says the text holds."""
  out = [[('int', len(frames))]]
  for bodies in frames:
    out.append([('int', len(bodies))])
    for body in bodies:
      out.append([('int', body.body_id)] + [('int', f) for f in body.flags] +
                 [('float', v) for v in body.lean] +
                 [('int', body.tracking_state)])
      out.append([('int', body.joints.shape[0])])
      for row in body.joints:
        out.append([('float', v) for v in row[:skeleton_file.TRACKING]] +
                   [('int', row[skeleton_file.TRACKING])])
  return out


def _exactness_problem(text, frames):
  """Why `frames` is not exactly what `text` says, or None."""
  sep = '\r\n' if '\r\n' in text else '\n'
  if not text.endswith(sep):
    return 'accepted a text without a final line end'
  lines = text[:-len(sep)].split(sep)
  if any('\r' in line or '\n' in line for line in lines):
    return 'accepted mixed or CR-only line ends'
  while lines and not lines[-1].strip(' \t'):
    lines.pop()
  expected = _expected_lines(frames)
  if len(lines) != len(expected):
    return (f'text has {len(lines)} lines, the result accounts for '
            f'{len(expected)}')
  for number, (line, row) in enumerate(zip(lines, expected), 1):
    tokens = re.split('[ \t]+', line.strip(' \t'))
    if len(tokens) != len(row):
      return f'line {number}: {len(tokens)} fields, result has {len(row)}'
    for token, (kind, value) in zip(tokens, row):
      if kind == 'int':
        ok = _INT.fullmatch(token) and int(token) == value
      else:
        ok = _FLOAT.fullmatch(token) and float(token) == value
      if not ok:
        return f'line {number}: text {token!r}, result {kind} {value!r}'
  return None


def _range_problem(frames):
  """Why `frames` holds something the format cannot, or None."""
  for t, bodies in enumerate(frames):
    for body in bodies:
      where = f'frame {t}, body {body.body_id}'
      if type(body.body_id) is not int or not 0 <= body.body_id < 2**64:
        return f'{where}: bodyID {body.body_id!r}'
      if len(body.flags) != 6 or not all(
          type(f) is int and lo <= f <= hi
          for f, (lo, hi) in zip(body.flags, _FLAG_RANGES)):
        return f'{where}: flags {body.flags!r}'
      if len(body.lean) != 2 or not all(
          type(v) is float and abs(v) <= _F32_MAX for v in body.lean):
        return f'{where}: lean {body.lean!r}'
      if body.tracking_state not in (0, 1, 2):
        return f'{where}: trackingState {body.tracking_state!r}'
      joints = body.joints
      shape = (skeleton_file.NUM_JOINTS, skeleton_file.JOINT_FIELDS)
      if joints.shape != shape or joints.dtype != np.float64:
        return f'{where}: joints {joints.shape} {joints.dtype}'
      if not np.all(np.abs(joints) <= _F32_MAX):
        return f'{where}: non-finite or beyond single precision joint value'
      states = joints[:, skeleton_file.TRACKING]
      if not np.all(np.isin(states, (0, 1, 2))):
        return f'{where}: joint tracking states {states}'
  return None


def _round_trip_problem(frames, source):
  """Why formatting `frames` and reading them back differs, or None."""
  again = skeleton_file.parse_skeleton_text(
      skeleton_file.format_skeleton(frames), source)
  if [len(b) for b in again] != [len(b) for b in frames]:
    return 'round trip changed the body counts'
  for bodies, bodies_again in zip(frames, again):
    for body, other in zip(bodies, bodies_again):
      # The writer prints 7 significant digits, like the recorder.
      if (body.body_id, body.flags, body.tracking_state) != (
          other.body_id, other.flags, other.tracking_state) or not (
              np.allclose(body.lean, other.lean, rtol=1e-6, atol=0) and
              np.allclose(body.joints, other.joints, rtol=1e-6, atol=0)):
        return f'round trip changed body {body.body_id}'
  if any(bodies for bodies in frames):
    actor = skeleton_file.main_actor(frames)
    if not all(np.all(np.isfinite(a)) for a in
               (actor.joints_3d, actor.depth_xy, actor.color_xy)):
      return 'main_actor arrays are not finite'
    if not np.all(np.isin(actor.tracking_state, (0, 1, 2))):
      return 'main_actor tracking states out of range'
  return None


def _error_problem(message, source):
  if re.match(re.escape(source) + r'(:\d+(-\d+)?: |: truncated at line \d+: )',
              message):
    return None
  return f'error does not start with the source and a line: {message[:200]!r}'


def _frames_equal(a, b):
  return len(a) == len(b) and all(
      len(x) == len(y) and all(
          (p.body_id, p.flags, p.lean, p.tracking_state) ==
          (q.body_id, q.flags, q.lean, q.tracking_state) and
          np.array_equal(p.joints, q.joints) for p, q in zip(x, y))
      for x, y in zip(a, b))


class _Harness:
  """Runs cases, collecting every problem so one failure shows them all."""

  def __init__(self, source):
    self.source = source
    self.problems = []
    self.raised = self.read = self.changed = 0

  def case(self, label, text, outcome='any', original=None):
    """outcome: 'error' (must raise), 'same' (must read as `original`), any."""
    try:
      frames = skeleton_file.parse_skeleton_text(text, self.source)
    except ValueError as e:
      self.raised += 1
      problem = _error_problem(str(e), self.source)
      if outcome == 'same':
        problem = f'harmless respelling refused: {str(e)[:200]}'
    except Exception as e:  # pylint: disable=broad-except
      problem = f'crashed: {type(e).__name__}: {e}'[:300]
    else:
      self.read += 1
      problem = (_exactness_problem(text, frames) or _range_problem(frames) or
                 _round_trip_problem(frames, self.source))
      if outcome == 'error' and not problem:
        problem = 'damage read back without an error'
      if original is not None and not _frames_equal(frames, original):
        self.changed += 1
        if outcome == 'same' and not problem:
          problem = 'harmless respelling read back different values'
    if problem:
      self.problems.append(f'{label}: {problem}')

  def check(self):
    assert not self.problems, (
        f'{len(self.problems)} bad cases:\n' + '\n'.join(self.problems[:20]))


# --- Damage ------------------------------------------------------------------


def _roles(frames):
  """The kind of each line of format_skeleton(frames)."""
  roles = ['frames']
  for bodies in frames:
    roles.append('bodies')
    for _ in bodies:
      roles += ['body', 'joints'] + ['joint'] * skeleton_file.NUM_JOINTS
  return roles


def _join(lines, sep='\r\n'):
  return ''.join(line + sep for line in lines)


def _set_token(rng, lines, roles, role, index, value):
  """Writes `value` over field `index` of a random line of kind `role`."""
  out = list(lines)
  i = rng.choice([k for k, r in enumerate(roles) if r == role])
  parts = out[i].split(' ')
  parts[index] = value
  out[i] = ' '.join(parts)
  return _join(out), i + 1


def _char_damage(rng, text, count):
  for _ in range(count):
    i = int(rng.integers(len(text)))
    op = rng.integers(4)
    if op == 0:
      text = text[:i] + _ALPHABET[rng.integers(len(_ALPHABET))] + text[i + 1:]
    elif op == 1:
      text = text[:i] + _ALPHABET[rng.integers(len(_ALPHABET))] + text[i:]
    elif op == 2:
      text = text[:i] + text[i + 1:]
    else:
      flipped = chr(ord(text[i]) ^ (1 << int(rng.integers(8))))
      text = text[:i] + flipped + text[i + 1:]
  return text


def _line_damage(rng, lines):
  """A random line-level edit: (label, text, must it be an error)."""
  out = list(lines)
  i, j = (int(k) for k in rng.choice(len(out), 2, replace=False))
  op = rng.integers(4)
  if op == 0:
    out[i], out[j] = out[j], out[i]
    return f'swap lines {i + 1} and {j + 1}', _join(out), 'any'
  if op == 1:
    out.insert(i, out[i])
    return f'duplicate line {i + 1}', _join(out), 'error'
  if op == 2:
    del out[i]
    return f'delete line {i + 1}', _join(out), 'error'
  # Not after the last line: trailing blank lines are harmless.
  i = min(i, len(out) - 1)
  out.insert(i, rng.choice(['', ' ', '\t']))
  return f'blank line before line {i + 1}', _join(out), 'error'


def _targeted_damage(rng, frames, lines, roles):
  """Damage the format can always see: (label, text) pairs, all errors."""
  num_frames = len(frames)
  cases = []
  delta = int(rng.choice([-2, -1, 1, 2, 5]))
  cases.append((f'frame count {num_frames + delta}',
                _join([str(num_frames + delta)] + lines[1:])))
  cases.append(('frame count -1', _join(['-1'] + lines[1:])))
  for value in ['-1', '0', '2', '3']:
    cases.append((f'a body count {value}',
                  *_set_token(rng, lines, roles, 'bodies', 0, value)))
  cases.append(('joint count', *_set_token(
      rng, lines, roles, 'joints', 0,
      str(rng.choice(['24', '26', '0', '-25', '250', '2.5e1', '25.0'])))))
  for value in ['3', '7', '-1', '1.5', '2.0', '2e0', '+3', 'nan', '9' * 30]:
    cases.append((f'joint trackingState {value[:10]}',
                  *_set_token(rng, lines, roles, 'joint', 11, value)))
  for value in ['3', '-1', '1.5', '2.0']:
    cases.append((f'body trackingState {value}',
                  *_set_token(rng, lines, roles, 'body', 9, value)))
  flag = int(rng.integers(6))
  low, high = _FLAG_RANGES[flag]
  for value in [str(high + 1), str(low - 1), '0.5']:
    cases.append((f'flag {flag + 1} = {value}',
                  *_set_token(rng, lines, roles, 'body', 1 + flag, value)))
  for value in ['-1', str(2**64), '7.2e16', '9' * 5000]:
    cases.append((f'bodyID {value[:10]}',
                  *_set_token(rng, lines, roles, 'body', 0, value)))
  for value in _NOT_FINITE:
    cases.append((f'lean {value[:10]}', *_set_token(
        rng, lines, roles, 'body', 7 + int(rng.integers(2)), value)))
    cases.append((f'joint value {value[:10]}', *_set_token(
        rng, lines, roles, 'joint', int(rng.integers(11)), value)))
  text = _join(lines)
  cases.append(('CR-only line ends', _join(lines, '\r')))
  i = int(rng.integers(len(lines)))
  for label, end in [('LF', '\n'), ('CR', '\r'), ('CRCRLF', '\r\r\n'),
                     ('no', ' ')]:
    cases.append((f'{label} line end on line {i + 1}',
                  _join(lines[:i]) + lines[i] + end + _join(lines[i + 1:])))
  cases.append(('final LF dropped', text[:-1]))
  cases.append(('final CRLF dropped', text[:-2]))
  for tail in ['x\r\n', '0\r\n', '\x1a', '1', ' 2\r\n', lines[-1] + '\r\n',
               _join(lines[-27:])]:
    cases.append((f'data after the last frame {tail[:12]!r}', text + tail))
  return [(label, text) for label, text, *_ in cases]


def _respellings(rng, lines):
  """Harmless edits that must read back unchanged: (label, text) pairs."""
  i = int(rng.integers(len(lines)))
  parts = lines[i].split(' ')
  k = int(rng.integers(len(parts)))
  plus = list(parts)
  if not plus[k].startswith('-'):
    plus[k] = '+' + plus[k]
  zero = list(parts)
  zero[k] = zero[k].replace('-', '-0') if zero[k][0] == '-' else '0' + zero[k]
  swapped = list(lines)
  swapped[i] = '\t '.join(parts)
  spaced = list(lines)
  spaced[i] = '  ' + '   '.join(parts) + ' \t'
  signed, zeroed = list(lines), list(lines)
  signed[i], zeroed[i] = ' '.join(plus), ' '.join(zero)
  return [
      ('LF line ends', _join(lines, '\n')),
      ('trailing blank lines', _join(lines) + '\r\n \r\n\t\r\n'),
      (f'tabs on line {i + 1}', _join(swapped)),
      (f'extra spaces on line {i + 1}', _join(spaced)),
      (f'plus sign on line {i + 1}', _join(signed)),
      (f'leading zero on line {i + 1}', _join(zeroed)),
      ('lower-case exponents', _join(lines).replace('E', 'e')),
  ]


# --- Tests -------------------------------------------------------------------


@pytest.mark.parametrize('index', range(len(_NAMES)))
def test_truncated_real_files_are_errors(index):
  name = _NAMES[index]
  text, frames = _real_frames(name)
  rng = np.random.default_rng([20240611, index, 0])
  harness = _Harness(f'{name}.skeleton')
  line_ends = [m.end() for m in re.finditer('\r\n', text)][:-1]
  # Offsets just after each frame's last line.
  frame_ends, line = [], 1
  for bodies in frames:
    line += 1 + (2 + skeleton_file.NUM_JOINTS) * len(bodies)
    frame_ends.append(line_ends[line - 1] if line - 1 < len(line_ends)
                      else len(text))
  cuts = ([('byte', int(c)) for c in rng.integers(0, len(text), 15)] +
          [('line end', int(c)) for c in rng.choice(line_ends, 10)] +
          [('frame end', int(c)) for c in rng.choice(frame_ends[:-1], 4)] +
          [('frame end', frame_ends[-2]), ('final LF', len(text) - 1),
           ('final CRLF', len(text) - 2), ('empty', 0)])
  for kind, cut in cuts:
    harness.case(f'cut at {kind} offset {cut}', text[:cut], 'error')
  harness.check()
  assert harness.raised == len(cuts)


@pytest.mark.parametrize('index', range(len(_NAMES)))
def test_damaged_real_files_are_errors_or_read_exactly(index):
  name = _NAMES[index]
  text, all_frames = _real_frames(name)
  rng = np.random.default_rng([20240611, index, 1])
  harness = _Harness(f'{name}.skeleton')
  total = 0

  def excerpt():
    # format_skeleton writes the real bytes back (test_skeleton_file checks
    # it), so an excerpt is the file's own text under a new frame count.
    size = int(rng.integers(2, 5))
    start = int(rng.integers(len(all_frames) - size))
    frames = all_frames[start:start + size]
    return frames, skeleton_file.format_skeleton(frames).split('\r\n')[:-1]

  for n in range(60):
    frames, lines = excerpt()
    count = 1 + int(rng.integers(3))
    harness.case(f'{count} character edits #{n}',
                 _char_damage(rng, _join(lines), count), original=frames)
  for n in range(30):
    frames, lines = excerpt()
    label, damaged, outcome = _line_damage(rng, lines)
    harness.case(label, damaged, outcome, original=frames)
  for n in range(10):
    frames, lines = excerpt()
    i = int(rng.integers(len(lines)))
    parts = lines[i].split(' ')
    k = int(rng.integers(len(parts)))
    parts[k] = str(rng.choice(
        ['0', '-0', '1', '+1', '1.', '.5', '1e38', '-3.4e38', '1e-50', '00',
         str(rng.normal()), str(int(rng.integers(-9, 99)))]))
    harness.case(f'line {i + 1} field {k + 1} = {parts[k]}',
                 _join(lines[:i] + [' '.join(parts)] + lines[i + 1:]),
                 original=frames)
  total += 100
  frames, lines = excerpt()
  for label, damaged in _targeted_damage(rng, frames, lines, _roles(frames)):
    harness.case(label, damaged, 'error')
    total += 1
  frames, lines = excerpt()
  for label, damaged in _respellings(rng, lines):
    harness.case(label, damaged, 'same', original=frames)
    total += 1
  # A few edits of the whole file, where a frame or value count can only be
  # checked against the far end of the text.
  for n in range(3):
    harness.case(f'whole file, character edit #{n}',
                 _char_damage(rng, text, 1), original=all_frames)
  total += 3
  harness.check()
  assert total >= 150
  # The fuzzer reaches both outcomes: most edits are caught, and some that
  # the format cannot reveal (a changed digit) read back changed.
  assert harness.raised > total // 2 and harness.changed > 0


def test_files_that_are_not_ascii_are_errors_naming_the_path(tmp_path):
  text, _ = _real_frames(_NAMES[0])
  data = text.encode('ascii')
  rng = np.random.default_rng(20240611)
  at = int(rng.integers(len(data)))
  cases = {
      'random_bytes': rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
      'utf16': text.encode('utf-16'),
      'gzip': gzip.compress(data, mtime=0),
      'bom': b'\xef\xbb\xbf' + data,
      'high_byte': data[:at] + bytes([int(rng.integers(128, 256))]) +
                   data[at + 1:],
      'nul': data[:at] + b'\x00' + data[at:],
      'empty': b'',
  }
  for label, content in cases.items():
    path = tmp_path / f'{label}.skeleton'
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
      skeleton_file.read_skeleton(path)
    assert _error_problem(str(e.value), str(path)) is None, label


# --- Holes the fuzzer found in the reader, pinned on a small made-up file ----
# (these run without the real files).

_JOINT = ' '.join(['0.1'] * 11) + ' 2'


def _clip_lines():
  """Lines of a one-frame, one-body file; line k + 1 is index k."""
  return ['1', '1', '7 0 1 1 1 1 0 0.1 -0.2 2', '25'] + [_JOINT] * 25


def _with(index, field, value):
  lines = _clip_lines()
  parts = lines[index].split(' ')
  parts[field] = value
  lines[index] = ' '.join(parts)
  return _join(lines)


@pytest.mark.parametrize('text,message', [
    # Read as a tracking state of 7, 1.5 or -1.
    (_with(6, 11, '7'), r':7: joint trackingState 7 is outside 0\.\.2'),
    (_with(6, 11, '1.5'), r':7: joint trackingState is not an integer'),
    (_with(2, 9, '-1'), r':3: body trackingState -1 is outside 0\.\.2'),
    # Flags and body IDs outside their Kinect types.
    (_with(2, 3, '5'), r':3: handLeftState 5 is outside 0\.\.4'),
    (_with(2, 0, '-7'), r':3: bodyID -7 is outside'),
    (_with(2, 0, str(2**64)), r':3: bodyID 18446744073709551616 is outside'),
    # Read as NaN, inf, or a float32 inf in main_actor's arrays.
    (_with(2, 7, 'nan'), r':3: lean is non-finite'),
    (_with(2, 8, '-inf'), r':3: lean is non-finite'),
    (_with(5, 2, '1e39'),
     r':5-29: joint value beyond single precision at line 6, field 3'),
    # A negative frame count read as no frames.
    ('-1\r\n', r':1: frame count -1 is below 0'),
    # A file cut just before its final line end read as whole.
    (_join(_clip_lines())[:-2], r': truncated at line 29: the line has no'),
    # CR-only or mixed line ends, read line by line by str.splitlines().
    (_join(_clip_lines(), '\r'), r':1: carriage return without line feed'),
    (_join(_clip_lines()[:9]) + _join(_clip_lines()[9:], '\n'),
     r':10: line feed without carriage return'),
    # Spellings int() and float() accept but the format has none for: '_'
    # between digits, non-ASCII digits, control characters as separators.
    (_with(5, 0, '0.1_5'), r":6: non-numeric character '_' at column 4"),
    (_with(5, 0, '0.\u06635'), r":6: non-numeric character '\u0663'"),
    (_with(5, 0, '0.1\x0b0.1'), r":6: non-numeric character '\\x0b'"),
    (_with(5, 0, '0.1\x1c0.1'), r":6: non-numeric character '\\x1c'"),
], ids=['joint_state_7', 'joint_state_1.5', 'body_state_-1', 'hand_state_5',
        'negative_body_id', 'body_id_2**64', 'lean_nan', 'lean_-inf',
        'joint_1e39', 'frame_count_-1', 'no_final_line_end', 'cr_only',
        'mixed_lf', 'underscore', 'arabic_digit', 'vertical_tab',
        'file_separator'])
def test_holes_found_by_fuzzing_are_errors(text, message):
  with pytest.raises(ValueError, match=r'^clip\.skeleton' + message):
    skeleton_file.parse_skeleton_text(text, source='clip.skeleton')


def test_binary_file_is_an_error_naming_the_path_not_a_decode_error(tmp_path):
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_bytes(_join(_clip_lines()).encode() + b'\xff\xfe\r\n')
  with pytest.raises(ValueError, match=(
      re.escape(str(path)) + r':30: not ASCII text \(byte 0xff')):
    skeleton_file.read_skeleton(path)


def test_harmless_spellings_still_read():
  lines = _clip_lines()
  lines[5] = '\t+0.1  0.10 1E-1 1e-1 .1 00.1 0.1 0.1 0.1 0.1 0.1 2 '
  frames = skeleton_file.parse_skeleton_text(
      _join(lines, '\n') + '\n \n', source='clip.skeleton')
  np.testing.assert_array_equal(frames[0][0].joints[1, :11], [0.1] * 11)

"""Writes Motion-JPEG AVI files from JPEG-encoded frames.

cv2.VideoWriter's MJPG encoders (FFMPEG's or OpenCV's own) take 15-30 ms for
a 1920x1080 frame on one core; cv2.imencode (libjpeg-turbo) takes about 6.
This muxer lets the renderer encode with the latter: an AVI 1.0 file (RIFF
'AVI ', one 'vids' stream with handler and compression 'MJPG', an 'idx1'
index marking every frame a key frame), as cv2.VideoWriter writes it.
"""

import struct

_AVIF_HASINDEX = 0x10
_AVIIF_KEYFRAME = 0x10
# AVI 1.0 offsets are 32 bits; stay well clear of the RIFF size limit.
_MAX_BYTES = 1 << 30


class Writer:
  """Appends JPEG frames to an MJPG AVI; `close` writes the index.

  Usage: `with Writer(path, width, height, fps) as w: w.write(jpeg_bytes)`.
  """

  def __init__(self, path, width, height, fps):
    self._file = open(path, 'wb')
    self._size = (width, height)
    self._fps = fps
    self._index = []  # (offset from 'movi', length) per frame.
    self._largest = 0
    self._file.write(self._headers())
    self._movi = self._file.tell() - 4  # Position of the 'movi' fourcc.

  def _headers(self):
    width, height = self._size
    frames = len(self._index)
    avih = struct.pack('<14I', round(1e6 / self._fps), 0, 0, _AVIF_HASINDEX,
                       frames, 0, 1, self._largest, width, height, 0, 0, 0, 0)
    strh = struct.pack('<4s4sI2H8I4h', b'vids', b'MJPG', 0, 0, 0, 0, 1,
                       self._fps, 0, frames, self._largest, 0xFFFFFFFF, 0, 0,
                       0, width, height)
    strf = struct.pack('<I2i2H4sI2i2I', 40, width, height, 1, 24, b'MJPG',
                       width * height * 3, 0, 0, 0, 0)
    strl = _list(b'strl', _chunk(b'strh', strh) + _chunk(b'strf', strf))
    hdrl = _list(b'hdrl', _chunk(b'avih', avih) + strl)
    movi_size = 4 + sum(8 + _even(n) for _, n in self._index)
    riff_size = 4 + len(hdrl) + 8 + movi_size + 8 + 16 * frames
    return (struct.pack('<4sI4s', b'RIFF', riff_size, b'AVI ') + hdrl +
            struct.pack('<4sI4s', b'LIST', movi_size, b'movi'))

  def write(self, jpeg):
    """Appends one frame, `jpeg` the bytes of a JPEG image."""
    offset = self._file.tell() - self._movi
    if offset + len(jpeg) > _MAX_BYTES:
      raise ValueError(f'{self._file.name}: over {_MAX_BYTES} bytes, more '
                       'than an AVI 1.0 file holds')
    self._file.write(_chunk(b'00dc', bytes(jpeg)))
    self._index.append((offset, len(jpeg)))
    self._largest = max(self._largest, len(jpeg))

  def close(self):
    """Writes the index and the final sizes and closes the file."""
    index = b''.join(struct.pack('<4s3I', b'00dc', _AVIIF_KEYFRAME, offset,
                                 length) for offset, length in self._index)
    self._file.write(_chunk(b'idx1', index))
    self._file.seek(0)
    self._file.write(self._headers())
    self._file.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def _even(n):
  return n + (n & 1)


def _chunk(fourcc, data):
  """A RIFF chunk, padded to an even length."""
  return struct.pack('<4sI', fourcc, len(data)) + data + b'\0' * (len(data) & 1)


def _list(kind, data):
  return struct.pack('<4sI4s', b'LIST', 4 + len(data), kind) + data

"""Reader for Qt binary resource archives (.rcc), the container GCompris ships its sounds in.

Layout (qtbase src/tools/rcc): magic b"qres", then big-endian u32 version, tree offset, data
offset, names offset (version >= 3 adds u32 flags). The tree is an array of nodes: u32 name
offset, u16 flags (1 compressed zlib, 2 directory, 4 compressed zstd), then either u32 child
count + u32 first child index (directory) or u16 country, u16 language, u32 data offset (file);
version >= 2 appends a u64 modification time. A name is u16 length, u32 hash, UTF-16BE text;
a data blob is u32 size then bytes, zlib blobs starting with a u32 uncompressed size.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_COMPRESSED, _DIRECTORY, _ZSTD = 1, 2, 4


class RccArchive:
    """Random access to the files of one .rcc archive (read fully into memory: they are small)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.buf = self.path.read_bytes()
        if self.buf[:4] != b"qres":
            raise ValueError(f"{path}: not a Qt resource archive (magic {self.buf[:4]!r})")
        self.version, self.tree, self.data, self.names = struct.unpack(">IIII", self.buf[4:20])
        self.node_size = 14 if self.version < 2 else 22
        self.files: dict[str, tuple[int, int]] = {}  # path -> (flags, data offset)
        self._walk(0, "")

    def _name(self, off: int) -> str:
        (n,) = struct.unpack(">H", self.buf[self.names + off : self.names + off + 2])
        raw = self.buf[self.names + off + 6 : self.names + off + 6 + 2 * n]
        return raw.decode("utf-16-be")

    def _walk(self, index: int, prefix: str) -> None:
        pos = self.tree + index * self.node_size
        name_off, flags = struct.unpack(">IH", self.buf[pos : pos + 6])
        name = "" if index == 0 else self._name(name_off)
        path = f"{prefix}/{name}" if name else prefix
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", self.buf[pos + 6 : pos + 14])
            for child in range(first, first + count):
                self._walk(child, path)
        else:
            (data_off,) = struct.unpack(">I", self.buf[pos + 10 : pos + 14])
            self.files[path.lstrip("/")] = (flags, data_off)

    def read(self, name: str) -> bytes:
        """The bytes of one file, decompressed."""
        flags, off = self.files[name]
        (size,) = struct.unpack(">I", self.buf[self.data + off : self.data + off + 4])
        blob = self.buf[self.data + off + 4 : self.data + off + 4 + size]
        if flags & _ZSTD:
            raise ValueError(f"{self.path}:{name}: zstd-compressed entry, not supported")
        if flags & _COMPRESSED:
            return zlib.decompress(blob[4:])
        return blob

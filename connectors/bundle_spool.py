"""A bundle file too large to hold in memory: written to an anonymous temporary file as it
is produced, hashed as it goes, and copied into the bundle folder when the build commits.

series.csv of a day of 200 services is about a gigabyte of text; held as bytes from the
collect to the commit it was most of a build's peak memory. A :class:`SpooledFile` stands
where the bytes stood in the files a build handles (``name → bytes | SpooledFile``): the
manifest takes its SHA-256, the report's freshness digest and the bundle's writer read it
back in chunks. The temporary file has no name (it goes when the process does, even on a
crash) and lives in the system's temporary folder.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Mapping
from typing import BinaryIO

#: Bytes read at a time from a spooled file.
CHUNK = 1 << 20


class SpooledFile:
    """A file's bytes in an anonymous temporary file, with their SHA-256 and size."""

    def __init__(self) -> None:
        self._file: BinaryIO = tempfile.TemporaryFile(prefix="pmrecon-")  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def sha256(self) -> str:
        return self._hash.hexdigest()

    def chunks(self) -> Iterator[bytes]:
        """The bytes, from the first, a chunk at a time."""
        self._file.flush()
        self._file.seek(0)
        while chunk := self._file.read(CHUNK):
            yield chunk
        self._file.seek(0, 2)

    def __bytes__(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self._file.close()


#: A bundle file's content: its bytes, or a spooled file for a large one.
Data = bytes | SpooledFile
#: A bundle's files by name.
Files = Mapping[str, Data]


def sha256_of(data: bytes | SpooledFile) -> str:
    return data.sha256() if isinstance(data, SpooledFile) else hashlib.sha256(data).hexdigest()


def chunks_of(data: bytes | SpooledFile) -> Iterator[bytes]:
    if isinstance(data, SpooledFile):
        yield from data.chunks()
    else:
        yield data


def size_of(data: bytes | SpooledFile) -> int:
    return data.size if isinstance(data, SpooledFile) else len(data)

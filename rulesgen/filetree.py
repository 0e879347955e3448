"""Files by relative path, held compressed: what generate builds, writes and compares.

A spec of thousands of alerts generates gigabytes of promtool test files, and `generate`
holds the whole tree until it can write it all or nothing (and the tree already on disk,
to compare). Held as they are, both trees were most of the memory (3.1 GB at 5,000
alerts); generated YAML compresses about 20 to 1 at zlib's fastest level, at a fraction
of what rendering it cost. Each file's sha256 is taken once, when it is added: the
manifest, the known-tree cache and every comparison of two trees read the hashes, not
the bytes.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass

# Below this size a file is kept as it is: compressing it saves little and costs a call.
_COMPRESS_FROM = 4096


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    compressed: bool
    sha256: str


def sha256(content: bytes) -> str:
    """Hex sha256, as the manifest records it."""
    return hashlib.sha256(content).hexdigest()


def _entry(content: bytes) -> _Entry:
    digest = sha256(content)
    if len(content) < _COMPRESS_FROM:
        return _Entry(content, False, digest)
    return _Entry(zlib.compress(content, 1), True, digest)


class FileTree(MutableMapping[str, bytes]):
    """{relative path: content}, compressed in memory, in insertion order."""

    def __init__(self, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = ()) -> None:
        self._entries: dict[str, _Entry] = {}
        if isinstance(files, FileTree):
            self._entries.update(files._entries)
            return
        for rel, content in files.items() if isinstance(files, Mapping) else files:
            self[rel] = content

    def __getitem__(self, rel: str) -> bytes:
        entry = self._entries[rel]
        return zlib.decompress(entry.data) if entry.compressed else entry.data

    def __setitem__(self, rel: str, content: bytes) -> None:
        self._entries[rel] = _entry(content)

    def __delitem__(self, rel: str) -> None:
        del self._entries[rel]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, rel: object) -> bool:
        return rel in self._entries

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileTree):
            return self.digests() == other.digests()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def __repr__(self) -> str:
        return f"FileTree({len(self)} files)"

    def digest(self, rel: str) -> str:
        """The hex sha256 of the file at `rel`."""
        return self._entries[rel].sha256

    def digests(self) -> dict[str, str]:
        """{path: hex sha256} of every file, in this tree's order."""
        return {rel: entry.sha256 for rel, entry in self._entries.items()}

    def sorted(self) -> FileTree:
        """The same files, ordered by path (nothing is decompressed)."""
        out = FileTree()
        out._entries = dict(sorted(self._entries.items()))
        return out

    def add_from(self, other: FileTree, rel: str) -> None:
        """Take `other`'s file at `rel` as it is held (nothing is decompressed)."""
        self._entries[rel] = other._entries[rel]


def digest_of(files: Mapping[str, bytes], rel: str) -> str:
    """The hex sha256 of `files[rel]`, without decompressing a FileTree's file."""
    if isinstance(files, FileTree):
        return files.digest(rel)
    return sha256(files[rel])


def same_file(a: Mapping[str, bytes], b: Mapping[str, bytes], rel: str) -> bool:
    """Whether both hold `rel` with the same content (both lacking it counts as same)."""
    if (rel in a) != (rel in b):
        return False
    return rel not in a or digest_of(a, rel) == digest_of(b, rel)

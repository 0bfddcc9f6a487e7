"""Who this partition has seen before, after their state expired: a Bloom filter.

The state TTL forgets a customer who stays away long enough; when they come back they
must not be welcomed as new or thanked for a "first" order. Keeping their id would be
unbounded, so each partition keeps a fixed-size Bloom filter of expired user ids: 2^20
bits (128 KiB) and 7 hashes, about 1 % false positives at 100,000 expired users per
partition (a new user then counts as returning: no welcome, which errs on the quiet side).
It never says "new" for someone who was seen. An erased user is not added.

>>> seen = SeenBefore()
>>> seen.add("alice")
>>> "alice" in seen, "bob" in seen
(True, False)
>>> SeenBefore.from_bytes(seen.to_bytes()).__contains__("alice")
True
"""

from __future__ import annotations

import hashlib
from typing import Final

BITS: Final = 1 << 20
HASHES: Final = 7


class SeenBefore:
    __slots__ = ("bits", "changed")

    def __init__(self) -> None:
        self.bits = bytearray(BITS // 8)
        self.changed = False

    @staticmethod
    def _positions(user_id: str) -> list[int]:
        digest = hashlib.blake2b(user_id.encode("utf-8"), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little")
        step = int.from_bytes(digest[8:], "little") | 1  # double hashing (Kirsch–Mitzenmacher)
        return [(first + n * step) % BITS for n in range(HASHES)]

    def add(self, user_id: str) -> None:
        for position in self._positions(user_id):
            self.bits[position >> 3] |= 1 << (position & 7)
        self.changed = True

    def __contains__(self, user_id: str) -> bool:
        bits = self.bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(user_id))

    def to_bytes(self) -> bytes:
        return bytes(self.bits)

    @classmethod
    def from_bytes(cls, data: bytes) -> SeenBefore:
        """A saved filter; ValueError if it is not one (then start empty)."""
        if len(data) != BITS // 8:
            raise ValueError(f"a seen-before filter has {BITS // 8} bytes, not {len(data)}")
        seen = cls()
        seen.bits[:] = data
        return seen

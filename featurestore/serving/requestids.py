"""Request ids that prove where they came from, without storing them.

Each online answer gets a new UUID4 hex string whose last 8 bytes are a keyed hash of its first
8 (random) bytes, keyed by the project; the very last byte is XORed with the request's rollout
arm (0 when no canary served it; see :func:`featurestore.serving.rollouts.arm_code`), so
feedback learns which arm a request fell in from its id alone. Feedback can then tell an id this project handed out from
a typo or an id of another project, with no write per request: serving stays at one read-only
round trip to the online store. This is a check against mistakes, not a security boundary (a
caller with the ``write`` scope may send feedback anyway).
"""

from __future__ import annotations

import hashlib
import os
import random
import re

__all__ = ["is_request_id", "new_request_id", "request_arm"]

_HEX = re.compile(r"[0-9a-f]{32}")

# The random half of an id: a generator of our own, seeded from os.urandom (and again in a
# forked child, so workers never share a sequence), which no caller's random.seed() reaches.
# os.urandom per request was a system call each, the dearest step of starting an answer on a
# loaded machine; ids need to be unique, not secret (see the module docstring).
_RANDOM = random.Random()
os.register_at_fork(after_in_child=_RANDOM.seed)


def _tag(project: str, head: bytes) -> bytes:
    return hashlib.blake2b(head, key=project.encode()[:64], digest_size=8).digest()


def new_request_id(project: str, *, arm: int = 0) -> str:
    """A new UUID4 hex string carrying the project's tag (and the rollout ``arm`` byte)."""
    head = bytearray(_RANDOM.getrandbits(64).to_bytes(8, "big"))
    head[6] = (head[6] & 0x0F) | 0x40  # the UUID version nibble: 4
    tail = bytearray(_tag(project, bytes(head)))
    tail[0] = (tail[0] & 0x3F) | 0x80  # the RFC 4122 variant bits
    if arm:
        tail[7] ^= arm
    return (bytes(head) + bytes(tail)).hex()


def request_arm(project: str, request_id: object) -> int | None:
    """The rollout arm byte of a request id of ``project`` (0: no canary); None when
    ``request_id`` was not made by :func:`new_request_id` for ``project``."""
    if not isinstance(request_id, str) or not _HEX.fullmatch(request_id):
        return None
    raw = bytes.fromhex(request_id)
    tag = _tag(project, raw[:8])
    if raw[8] != ((tag[0] & 0x3F) | 0x80) or raw[9:15] != tag[1:7]:
        return None
    return raw[15] ^ tag[7]


def is_request_id(project: str, request_id: object) -> bool:
    """Whether ``request_id`` was made by :func:`new_request_id` for ``project``."""
    return request_arm(project, request_id) is not None

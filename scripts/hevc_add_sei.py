#!/usr/bin/env python3
"""Adds N prefix SEI NAL units (user data unregistered) in front of each
picture of a raw H.265 Annex-B stream read from stdin, written to stdout.
Decoders ignore them; RTP depacketizers must still count them as NAL units
of the access unit (scripts/make-test-media.sh uses it for a many-NAL-unit
test stream)."""
import re
import sys

n = int(sys.argv[1])
data = sys.stdin.buffer.read()
starts = [m.start() for m in re.finditer(b"\x00\x00\x01", data)]
nalus = []
for i, s in enumerate(starts):
    end = starts[i + 1] if i + 1 < len(starts) else len(data)
    nal = data[s + 3 : end]
    nalus.append(nal.rstrip(b"\x00") if i + 1 < len(starts) else nal)

uuid = bytes(range(0x11, 0x21))  # no zero bytes: no emulation prevention needed


def sei(k):
    payload = uuid + bytes([0x41 + k % 26]) * 8
    return bytes([39 << 1, 1, 5, len(payload)]) + payload + b"\x80"


out = bytearray()
for nal in nalus:
    typ = (nal[0] >> 1) & 0x3F
    first_slice = typ < 32 and len(nal) > 2 and nal[2] & 0x80
    if first_slice:
        for k in range(n):
            out += b"\x00\x00\x00\x01" + sei(k)
    out += b"\x00\x00\x00\x01" + nal
sys.stdout.buffer.write(out)

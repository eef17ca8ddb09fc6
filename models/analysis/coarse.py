"""Coarse then fine: decode only what the analysis needs, and every frame where a cut may be.

Most of a video's frames are non-reference frames (B-frames no other frame is predicted from);
the decoder may skip them (`skip_frame = NONREF`), which halves the decode of a typical export,
and the reference frames that remain (about every other frame) keep the motion curves at their
resolution. A cut must still be placed on its exact frame, so every frame is decoded where one
may be. The packet table says where, before any decoding: the first reference frame after a
cut cannot be predicted from the old shot and is coded far larger than the frames of its own
coding type around it; keyframes may open a new shot too. Windows around those are decoded in
full ("dense"). Should a hard cut still fall between two decoded frames (a cut the packet
sizes did not betray), `refine_cut` decodes just that stretch and places it.

Cut times therefore never depend on the encoder's GOP: it only changes how much is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import distance, signature

SURPRISE = 2.0  # a packet this many times its coding type's local median size may hold a cut
NEIGHBOURS = 12  # packets of the same coding type on each side that make that median
WINDOW_BEFORE_S = 0.3  # decoded in full before a suspect frame (the cut lies before it) ...
WINDOW_AFTER_S = 0.12  # ... and after it
MAX_REORDER = 64  # frames: how far back in presentation order a frame's references may lie (hierarchical GOPs)


@dataclass(frozen=True)
class PacketTable:
    """The video stream's packets over a range, in presentation order (media seconds)."""

    times_s: np.ndarray  # (p,) float64 presentation time of each frame
    sizes: np.ndarray  # (p,) int64 bytes
    keyframe: np.ndarray  # (p,) bool
    kind: np.ndarray  # (p,) int64 coding type: packets are compared with their own kind only
    decode_order: np.ndarray  # (p,) int64 position in the stream (decode order)


def _unescape(b: bytes) -> bytes:
    """A NAL unit's payload without emulation-prevention bytes (00 00 03 -> 00 00)."""
    return b.replace(b"\x00\x00\x03", b"\x00\x00")


def _ue(bits: str, pos: int) -> tuple[int, int]:
    """One unsigned Exp-Golomb number from a string of '0'/'1' at pos -> (value, next pos)."""
    zeros = 0
    while pos + zeros < len(bits) and bits[pos + zeros] == "0":
        zeros += 1
    start = pos + zeros + 1
    value = (1 << zeros) - 1 + (int(bits[start : start + zeros], 2) if zeros else 0)
    return value, start + zeros


def _nal_units(data: memoryview, length_size: int):
    """The first bytes of each NAL unit of one packet: length-prefixed (MP4, MKV) or with start
    codes (MPEG-TS). Only headers are read: no copy of the coded picture."""
    if length_size:
        pos = 0
        while pos + length_size <= len(data):
            n = int.from_bytes(data[pos : pos + length_size], "big")
            yield bytes(data[pos + length_size : pos + length_size + min(n, 64)])
            pos += length_size + n
    else:
        for part in bytes(data[:4096]).split(b"\x00\x00\x01"):
            if part:
                yield part[:64]


def _h264_kind(data: memoryview, length_size: int) -> int:
    """Whether the first slice is referenced, and its slice type (P, B, I): the coding type."""
    for nal in _nal_units(data, length_size):
        if len(nal) < 2 or (nal[0] & 0x1F) not in (1, 5):
            continue
        bits = "".join(f"{x:08b}" for x in _unescape(nal[1:12]))
        try:
            _, pos = _ue(bits, 0)  # first_mb_in_slice
            slice_type, _ = _ue(bits, pos)
        except ValueError:
            return 0
        return 10 * (1 + (nal[0] >> 5 > 0)) + slice_type % 5
    return 0


def _hevc_kind(data: memoryview, length_size: int) -> int:
    """The first slice's NAL type and temporal layer (reference and non-reference types differ)."""
    for nal in _nal_units(data, length_size):
        if len(nal) >= 2 and (nal[0] >> 1) & 0x3F < 32:
            return 100 + 8 * ((nal[0] >> 1) & 0x3F) + (nal[1] & 7)
    return 0


def scan_packets(path: str, in_s: float, out_s: float | None) -> PacketTable | None:
    """The packet table of the video stream over [in_s - 1 s, out_s + 1 s] (media seconds), read
    without decoding. None when the stream gives no timestamps (decode everything then)."""
    from .decode import _stream_start
    from .probe import open_media, picture_stream

    try:
        container = open_media(path)
    except Exception:  # the decode reports unusable media in its own words
        return None
    try:
        stream = picture_stream(container)
        if stream is None or not stream.time_base:
            return None
        tb, t0 = float(stream.time_base), _stream_start(stream)
        name = stream.codec_context.name
        extra = bytes(stream.codec_context.extradata or b"")
        length_size = 0
        if name == "h264" and extra[:1] == b"\x01" and len(extra) > 4:
            length_size = (extra[4] & 3) + 1  # avcC
        elif name == "hevc" and len(extra) > 22 and extra[:1] == b"\x01":
            length_size = (extra[21] & 3) + 1  # hvcC
        if in_s > 1.5:
            container.seek(int((in_s - 1.0 + t0) / tb), stream=stream, backward=True, any_frame=False)
        rows = []  # in decode order
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            t = packet.pts * tb - t0
            if out_s is not None and t > out_s + 1.0 and packet.is_keyframe:
                break
            data = memoryview(packet)
            kind = (_h264_kind(data, length_size) if name == "h264" else
                    _hevc_kind(data, length_size) if name == "hevc" else int(packet.is_keyframe))
            rows.append((t, packet.size, packet.is_keyframe, kind, len(rows)))
    except Exception:  # a damaged index: decode everything instead
        return None
    finally:
        container.close()
    if not rows:
        return None
    rows.sort()  # presentation order
    arr = np.array(rows, np.float64)  # (p, 5)
    return PacketTable(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2] > 0, arr[:, 3].astype(np.int64),
                       arr[:, 4].astype(np.int64))


def suspects(table: PacketTable) -> np.ndarray:
    """(s,) times of frames that may open a new shot: keyframes, and packets far larger than
    the packets of their own coding type around them."""
    flagged = table.keyframe.copy()
    for kind in np.unique(table.kind):
        idx = np.flatnonzero(table.kind == kind)
        if len(idx) < 3:
            flagged[idx] = True  # too few to compare: decode around them
            continue
        sizes = table.sizes[idx].astype(np.float64)
        k = min(NEIGHBOURS, len(idx) - 1)
        padded = np.pad(sizes, k, mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)  # (n, 2k+1)
        local = np.median(windows, axis=1)  # (n,)
        flagged[idx] |= sizes >= SURPRISE * local
    return table.times_s[flagged]


def _is_reference(kind: np.ndarray) -> np.ndarray:
    """(p,) True where the coding type says other frames may be predicted from the frame, False
    where it says they may not, and True where the codec's kinds do not tell (decoded anyway)."""
    h264 = (kind >= 10) & (kind < 30)
    hevc = kind >= 100
    nal = (kind - 100) // 8
    return np.where(h264, kind >= 20, np.where(hevc, (nal % 2 == 1) | (nal >= 16), True))


def dense_windows(table: PacketTable) -> list[tuple[float, float]]:
    """Media-time ranges to decode in full (merged, sorted); elsewhere reference frames only.

    A suspect frame's window reaches back to the latest reference frame decoded before it: the
    frames it may be predicted from all lie at or before that one, so a cut that made it large
    lies after it, and every frame the cut may be on is decoded. (The reference frame just before
    it in presentation order is not enough: a B-frame kept as a reference sits between a P-frame
    and the anchor it is predicted from, is decoded after it, and may already show the new shot.)
    Where the coding types do not say which frames are references, WINDOW_BEFORE_S and
    WINDOW_AFTER_S are used instead.
    """
    ref = _is_reference(table.kind)
    known = bool(np.any(table.kind >= 10))
    flagged = np.flatnonzero(np.isin(table.times_s, suspects(table)))
    out: list[tuple[float, float]] = []
    for i in flagged:
        t = float(table.times_s[i])
        lo = max(0, i - MAX_REORDER)
        before = np.flatnonzero(ref[lo:i] & (table.decode_order[lo:i] < table.decode_order[i]))
        if known and len(before):
            a, b = float(table.times_s[lo + before[-1]]), t + 1e-4
        else:
            a, b = t - WINDOW_BEFORE_S, t + WINDOW_AFTER_S
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def frames_between(table: PacketTable | None, a_s: float, b_s: float) -> int:
    """How many of the stream's frames lie strictly between two frame times."""
    if table is None:
        return 0
    eps = 1e-6
    return int(np.sum((table.times_s > a_s + eps) & (table.times_s < b_s - eps)))


def refine_cut(path: str, before_s: float, after_s: float, cancel=None) -> float:
    """The exact first frame of a new shot known to start after the frame at `before_s` and by
    the one at `after_s`: decodes that stretch in full and returns the first frame that looks
    like the new shot rather than the old (media seconds)."""
    from .decode import iter_video

    eps = 1e-6
    frames = list(iter_video(path, before_s - eps, after_s + 1e-3, cancel=cancel,
                             dense=[(before_s - 0.05, after_s + 0.05)]))
    if len(frames) < 3:
        return after_s
    old, new = signature(frames[0][1]), signature(frames[-1][1])
    for t, rgb in frames[1:]:
        sig = signature(rgb)
        if distance(sig, new) < distance(sig, old):
            return float(t)
    return after_s

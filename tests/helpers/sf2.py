"""A tiny, real SoundFont 2 file written from scratch (RIFF 'sfbk', SoundFont 2.04 layout).

One looped sample of a known waveform (a fundamental and its 5th harmonic, nothing between), one
instrument over every key, and a preset for every General MIDI program in bank 0 plus kit 0 in
bank 128, so whatever the composer asks for plays this sample. A renderer that played anything
else would show harmonics 2-4.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44_100
ROOT_KEY = 69  # A4: the sample is recorded at 440 Hz
PERIOD = 100  # 441 Hz at 44.1 kHz... tuned by pitch correction below
FIFTH_HARMONIC = 0.6  # amplitude of harmonic 5 against the fundamental
LOOP_PERIODS = 200


def waveform() -> np.ndarray:
    """The sample: whole periods of f0 + 0.6 * 5 f0 at f0 = 441 Hz, int16."""
    t = np.arange(PERIOD * LOOP_PERIODS) / PERIOD
    x = np.sin(2 * np.pi * t) + FIFTH_HARMONIC * np.sin(2 * np.pi * 5 * t)
    return np.round(x / np.max(np.abs(x)) * 20000).astype(np.int16)


def _chunk(tag: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return tag + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, chunks: list[bytes]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def _gen(oper: int, amount: int | tuple[int, int]) -> bytes:
    if isinstance(amount, tuple):  # a range: low byte, high byte
        return struct.pack("<HBB", oper, *amount)
    return struct.pack("<Hh", oper, amount)


KEY_RANGE, VEL_RANGE, INSTRUMENT, SAMPLE_ID, SAMPLE_MODES, RELEASE_VOL_ENV = 43, 44, 41, 53, 54, 38


def write_sf2(path: Path) -> Path:
    wave = waveform()
    smpl = wave.tobytes() + b"\0" * (46 * 2)  # the spec's 46 zero samples after each sample
    n = len(wave)
    info = _list(b"INFO", [_chunk(b"ifil", struct.pack("<HH", 2, 4)), _chunk(b"isng", b"EMU8000\0"),
                           _chunk(b"INAM", b"Scorecut test font\0\0")])
    sdta = _list(b"sdta", [_chunk(b"smpl", smpl)])

    # One instrument: every key and velocity, the sample looped, a short release.
    igen = [_gen(KEY_RANGE, (0, 127)), _gen(VEL_RANGE, (0, 127)), _gen(RELEASE_VOL_ENV, -3600),
            _gen(SAMPLE_MODES, 1), _gen(SAMPLE_ID, 0)]
    inst = _name("known wave") + struct.pack("<H", 0) + _name("EOI") + struct.pack("<H", 1)
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", len(igen), 0)
    imod = b"\0" * 10
    # Presets: programs 0..127 in bank 0 and kit 0 in bank 128, each one zone -> the instrument.
    presets = [(p, 0) for p in range(128)] + [(0, 128)]
    phdr, pbag, pgen = b"", b"", b""
    for i, (program, bank) in enumerate(presets):
        phdr += _name(f"known {bank}:{program}") + struct.pack("<HHHIII", program, bank, i, 0, 0, 0)
        pbag += struct.pack("<HH", i, 0)
        pgen += _gen(INSTRUMENT, 0)
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, len(presets), 0, 0, 0)
    pbag += struct.pack("<HH", len(presets), 0)
    pgen += b"\0" * 4
    pmod = b"\0" * 10
    # The sample at 441 Hz played as A4 (440 Hz): -3.93 cents of pitch correction brings it to 440.
    loop_start, loop_end = PERIOD * 10, PERIOD * (LOOP_PERIODS - 10)
    shdr = (_name("known wave") + struct.pack("<IIIIIBbHH", 0, n, loop_start, loop_end, SAMPLE_RATE, ROOT_KEY,
                                               -4, 0, 1)
            + _name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    pdta = _list(b"pdta", [_chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", pmod),
                           _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag),
                           _chunk(b"imod", imod), _chunk(b"igen", igen_bytes(igen)), _chunk(b"shdr", shdr)])
    body = b"sfbk" + info + sdta + pdta
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return Path(path)


def igen_bytes(igen: list[bytes]) -> bytes:
    return b"".join(igen) + b"\0" * 4  # the terminal record

"""The composer's synthesizer: an Arrangement in, one stereo float32 array per stem out.

    render(arrangement, sample_rate, seed, stems=STEMS, cancel=None) -> {stem: (2, frames)}

- oscillators.py: band-limited wavetables with a filter axis (subtractive voices without a
  per-sample filter loop), FM pairs with a Bessel-bound index cap, Karplus–Strong strings.
- envelopes.py: click-free ADSR and percussive envelopes.
- instruments.py: bass / pad / strings / keys / pluck / lead / bell presets and their work rates.
- drums.py: synthesized kits (electronic, acoustic, lofi, cinematic), sample-accurate hits.
- mixing.py: pan law, filters, the shared convolution room, tempo-synced delay.
- engine.py: per stem, instruments -> inserts -> its own share of the room -> levelling; stems in
  parallel threads. The mix is the sum of the stems, always.
"""

from ...interface import STEMS
from .engine import render, render_stem

__all__ = ["STEMS", "render", "render_stem"]

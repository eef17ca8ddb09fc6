"""SoundFont rendering vs the synthesizer: x real time and peak memory, 4 stems at 48 kHz.

    .venv/bin/python bench/bench_soundfont.py [--seconds 60] [--font FILE]

The same arrangement (tests/synth_arrangements.dense: 16th hats, 8th bass, overlapping chords, a
melody) is rendered by models/composer/synth.render with and without a SoundFont, each in its own
child process so its peak RSS (ru_maxrss) is its own; the synthesizer is the baseline of the ratio.
Without --font the test font of tests/helpers/sf2.py is used (one small looped sample): a General
MIDI font with layered samples costs more per voice, so pass a real one when there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SR = 48_000
ROOT = Path(__file__).resolve().parent.parent


def child(seconds: float, font: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from scorecut.models.composer.synth import render
    from tests.synth_arrangements import dense

    arrangement = dense(duration_s=seconds, instruments={"drums": "acoustic", "bass": "fingered",
                                                         "harmony": "piano", "melody": "pluck"})
    t0 = time.perf_counter()
    stems = render(arrangement, SR, seed=0, soundfont=Path(font) if font else None)
    wall = time.perf_counter() - t0
    assert all(x.shape == (2, int(round(seconds * SR))) for x in stems.values())
    return {"wall_s": wall, "x_real_time": seconds / wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--font", default="")
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.seconds, args.child)))
        return
    font = args.font
    if not font:
        sys.path.insert(0, str(ROOT))
        from tests.helpers.sf2 import write_sf2

        font = str(write_sf2(Path(tempfile.mkdtemp()) / "known.sf2"))
    results = {}
    # The machine is shared: the load around the run says how far the absolute speeds can be trusted.
    print(f"font {font}; load average before {os.getloadavg()[0]:.2f}")
    for name, setting in (("synthesizer", ""), ("soundfont", font)):
        run = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--child", setting],
                             capture_output=True, text=True, check=True)
        results[name] = json.loads(run.stdout.strip().splitlines()[-1])
    base = results["synthesizer"]
    for name, r in results.items():
        print(f"{name:<12} {r['x_real_time']:7.1f}x real time  ({r['wall_s']:.2f} s for {args.seconds:.0f} s)  "
              f"peak RSS {r['peak_rss_mb']:.0f} MB  speed vs synth {r['x_real_time'] / base['x_real_time']:.2f}x")
    print(f"load average after {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()

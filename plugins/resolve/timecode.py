"""Frame rates and timecodes as DaVinci Resolve writes them.

Resolve gives the timeline frame rate as a string ("23.976", "29.97", "24", "25") and the
playhead as a timecode string ("01:00:05:12", drop-frame "01:00:05;12"). Frame arithmetic is
done on exact rationals: 23.976 is 24000/1001, never the float.
"""

from __future__ import annotations

from fractions import Fraction


def parse_frame_rate(text: object) -> Fraction:
    """The exact rate of a Resolve frame-rate setting, e.g. "29.97" -> 30000/1001.

    Rates within 0.01 of n*1000/1001 (23.976, 29.97, 47.952, 59.94, 119.88) are the NTSC
    rationals; anything else is taken as written ("24", "25", "48").
    """
    raw = str(text).strip().upper().replace("DF", "").replace("NDF", "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"cannot read the timeline frame rate {text!r}") from None
    if not value > 0:
        raise ValueError(f"the timeline frame rate {text!r} is not positive")
    nearest = round(value * 1001 / 1000)
    if abs(value - round(value)) > 1e-6 and abs(value - nearest * 1000 / 1001) < 0.01:
        return Fraction(nearest * 1000, 1001)
    return Fraction(raw).limit_denominator(1001)


def nominal_rate(fps: Fraction) -> int:
    """Frames per timecode second: 30 for 29.97, 24 for 23.976."""
    return int(round(fps))


def _drop_per_minute(fps: Fraction, drop_frame: bool) -> int:
    # SMPTE drop-frame exists for the NTSC rates 29.97 and 59.94: 2 (or 4) labels a minute.
    if not drop_frame or fps.denominator != 1001 or nominal_rate(fps) % 30:
        return 0
    return nominal_rate(fps) // 15


def timecode_to_frames(timecode: str, fps: Fraction, drop_frame: bool = False) -> int:
    """Absolute frame number of "HH:MM:SS:FF" (";" before FF marks drop-frame)."""
    text = timecode.strip()
    drop_frame = drop_frame or ";" in text
    parts = text.replace(";", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"cannot read the timecode {timecode!r}")
    hh, mm, ss, ff = (int(p) for p in parts)
    base = nominal_rate(fps)
    frames = ((hh * 60 + mm) * 60 + ss) * base + ff
    drop = _drop_per_minute(fps, drop_frame)
    if drop:
        minutes = hh * 60 + mm
        frames -= drop * (minutes - minutes // 10)
    return frames


def frames_to_timecode(frames: int, fps: Fraction, drop_frame: bool = False) -> str:
    """ "HH:MM:SS:FF" of an absolute frame number (drop-frame "HH:MM:SS;FF")."""
    base = nominal_rate(fps)
    drop = _drop_per_minute(fps, drop_frame)
    if drop:
        per_10min = base * 600 - drop * 9
        per_min = base * 60 - drop
        tens, rest = divmod(frames, per_10min)
        extra = 0 if rest < drop else (rest - drop) // per_min
        frames += drop * 9 * tens + drop * extra
    ff = frames % base
    total_s = frames // base
    sep = ";" if drop else ":"
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}{sep}{ff:02d}"

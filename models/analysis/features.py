"""Per-frame signatures of one clip, accumulated while frames stream past.

Every decoded frame gives a tiny signature (a 32x18 luma thumbnail and a 64-bin colour
histogram) and its distances to the BACK frames before it: enough to place a hard cut on the
exact source frame and to tell a cut from a flash or a picture that comes back, without keeping
any frame. Each frame also gives its luma change since the previous frame and how that change
lines up with the previous ones (a reversal: the motion going back the way it came, as a ball
hitting the floor does). At the analysis rate (about 10 per second of record time) we also keep
4x8 block-mean colours and the histogram, for gradual transitions, and the colour features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
HIST_BINS = 64  # 4 levels per RGB channel, joint
BACK = 6  # frames back each frame is compared with (a flash of up to 4 frames, then the picture)
STEP_NOISE = 0.03  # luma change (0..1) below which a pixel's step is grain or compression noise


@dataclass(frozen=True)
class Signature:
    luma: np.ndarray  # (18, 32) float32 0..1
    hist: np.ndarray  # (64,) float32, sums to 1


def _half(y: np.ndarray) -> np.ndarray:
    """(..., h, w) -> (..., h/2, w/2): means of 2x2 blocks (an odd last row or column dropped).
    Four strided adds: numpy's mean over two split axes costs several times more."""
    h, w = y.shape[-2:]
    y = y[..., : h - h % 2, : w - w % 2]
    return (y[..., 0::2, 0::2] + y[..., 1::2, 0::2] + y[..., 0::2, 1::2] + y[..., 1::2, 1::2]) * 0.25


def _hist_bins(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) intp joint colour bin 0..63 (4 levels per channel)."""
    q = rgb >> 6
    return (q[..., 0] << 4 | q[..., 1] << 2 | q[..., 2]).astype(np.intp)


def signature(rgb: np.ndarray) -> Signature:
    """rgb: (h, w, 3) uint8 analysis frame (h, w even) -> its signature."""
    y = _half((rgb.astype(np.float32) @ _LUMA) / 255.0)  # (h/2, w/2)
    idx = _hist_bins(rgb).ravel()
    hist = np.bincount(idx, minlength=HIST_BINS).astype(np.float32) / idx.size
    return Signature(y, hist)


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of two normalised histograms: 0 same colours .. 1 disjoint."""
    return float(np.abs(a - b).sum() * 0.5)


def distance(a: Signature, b: Signature) -> float:
    """Shot-change distance 0..1: mostly colour distribution (blind to motion), some structure."""
    mad = float(np.abs(a.luma - b.luma).mean())
    return 0.6 * hist_distance(a.hist, b.hist) + 0.4 * min(1.0, 3.0 * mad)


@dataclass
class ClipArrays:
    """Everything the detectors need from one clip. Times are source seconds."""

    frame_t: np.ndarray  # (f,) float64 decoded frame times
    back: np.ndarray  # (f, BACK) float32 distance to the frame k+1 back (0 where none)
    frame_brightness: np.ndarray  # (f,) float32 mean luma 0..1
    step_energy: np.ndarray  # (f,) float32 mean squared luma change since the previous frame (D_j),
    # at the analysis size, grain left out
    step_dot1: np.ndarray  # (f,) float32 mean of D_j * D_(j-1): negative where the motion reverses
    step_dot2: np.ndarray  # (f,) float32 mean of D_j * D_(j-2): a reversal straddled by frames
    sample_t: np.ndarray  # (s,) float64 analysis sample times
    sample_colour: np.ndarray  # (s, 4, 8, 3) uint8 block-mean colours (linear under blends)
    sample_luma: np.ndarray  # (s, h/2, w/2) uint8 luma thumbnails (18 x 32 for 16:9), to test for pans
    sample_hist: np.ndarray  # (s, 64) float32
    motion_mad: np.ndarray  # (s,) float32 luma change since the previous sample (0 for the first)
    brightness: np.ndarray  # (s,) float32 mean over the frames since the previous sample
    saturation: np.ndarray  # (s,) of the sample frame
    warmth: np.ndarray  # (s,) of the sample frame

    @property
    def d1(self) -> np.ndarray:
        """(f,) distance to the previous frame."""
        return self.back[:, 0]

    @property
    def d2(self) -> np.ndarray:
        return self.back[:, 1]

    @property
    def d3(self) -> np.ndarray:
        return self.back[:, 2]


class ClipAccumulator:
    """Feed frames in presentation order with `add`; `finish` returns the clip's arrays.

    sample_period_s: source seconds between analysis samples (record period x clip speed).
    Frames are processed in small batches (vectorised), holding at most `batch` thumbnails.
    """

    def __init__(self, sample_period_s: float, batch: int = 32):
        self.period = sample_period_s
        self.batch = batch
        self.pending_t: list[float] = []
        self.pending: list[np.ndarray] = []  # (h, w, 3) uint8 thumbnails not yet processed
        self.tail_luma: np.ndarray | None = None  # (<=BACK, h/2, w/2) the last frames processed
        self.tail_hist: np.ndarray | None = None  # (<=BACK, 64)
        self.tail_full: np.ndarray | None = None  # (<=3, h, w) full-size luma of the last frames
        self.frames: list[np.ndarray] = []  # per batch: (B, 5 + BACK) t, brightness, energy, dot1, dot2, back
        self.n_frames = 0
        self.samples_t: list[np.ndarray] = []  # per batch, (k,) and below (k, ...)
        self.samples_coarse: list[np.ndarray] = []
        self.samples_luma: list[np.ndarray] = []
        self.samples_hist: list[np.ndarray] = []
        self.samples_colour: list[np.ndarray] = []  # (k, 4): motion mad, brightness, saturation, warmth
        self.next_sample_t: float | None = None
        self.last_sample_luma: np.ndarray | None = None
        self.acc = np.zeros(2, np.float64)  # brightness sum, frame count since the last sample

    def add(self, t: float, rgb: np.ndarray) -> None:
        self.pending_t.append(t)
        self.pending.append(rgb)
        self.n_frames += 1
        if len(self.pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        x = np.stack(self.pending)  # (B, h, w, 3) uint8
        ts = self.pending_t
        self.pending, self.pending_t = [], []
        b, h, w, _ = x.shape
        full = (x.astype(np.float32) @ _LUMA) / 255.0  # (B, h, w)
        y = _half(full)  # (B, h/2, w/2)
        idx = _hist_bins(x).reshape(b, -1) + HIST_BINS * np.arange(b)[:, None]  # (B, h*w) bins, per frame
        hist = np.bincount(idx.ravel(), minlength=b * HIST_BINS).reshape(b, HIST_BINS).astype(np.float32)
        hist /= h * w  # (B, 64)
        tail = 0 if self.tail_luma is None else len(self.tail_luma)
        lum = y if not tail else np.concatenate([self.tail_luma, y])  # (tail+B, h/2, w/2)
        his = hist if not tail else np.concatenate([self.tail_hist, hist])
        out = np.zeros((b, 5 + BACK), np.float64)
        out[:, 0] = ts
        out[:, 1] = y.mean(axis=(1, 2))
        for k in range(1, BACK + 1):  # distance to the frame k back, where there is one
            i0 = max(0, k - tail)  # first batch index with a frame k back
            if i0 >= b:
                continue
            cur, prev = slice(tail + i0, tail + b), slice(tail + i0 - k, tail + b - k)
            hd = 0.5 * np.abs(his[cur] - his[prev]).sum(axis=1)
            md = np.abs(lum[cur] - lum[prev]).mean(axis=(1, 2))
            out[i0:, 4 + k] = 0.6 * hd + 0.4 * np.minimum(1.0, 3.0 * md)  # = distance() per pair
        # Steps D_j = frame j - frame j-1 at the full analysis size (small moving things stay
        # visible), grain below STEP_NOISE zeroed (its steps alternate and would read as turns),
        # and how each step lines up with the one or two before it.
        ftail = 0 if self.tail_full is None else len(self.tail_full)
        fl = full if not ftail else np.concatenate([self.tail_full, full])  # (ftail+B, h, w)
        steps = np.diff(fl, axis=0)  # (ftail+B-1, h, w); steps[m] ends at fl[m+1]
        steps[np.abs(steps) < STEP_NOISE] = 0.0
        first = ftail - 1  # index in `steps` of the step ending at this batch's first frame
        i0 = max(0, -first)
        if i0 < b:
            cur = steps[first + i0 : first + b]  # (b - i0, h, w)
            out[i0:, 2] = (cur * cur).mean(axis=(1, 2))
            j1 = max(i0, 1 - first)
            if j1 < b:
                out[j1:, 3] = (steps[first + j1 : first + b] * steps[first + j1 - 1 : first + b - 1]).mean(axis=(1, 2))
            j2 = max(i0, 2 - first)
            if j2 < b:
                out[j2:, 4] = (steps[first + j2 : first + b] * steps[first + j2 - 2 : first + b - 2]).mean(axis=(1, 2))
        self.frames.append(out)
        self.tail_luma, self.tail_hist = lum[-BACK:].copy(), his[-BACK:].copy()
        self.tail_full = fl[-3:].copy()

        picks, bright = [], []  # batch indices of this batch's analysis samples, their mean luma
        for i, t in enumerate(ts):
            self.acc += (out[i, 1], 1.0)
            if self.next_sample_t is None:
                self.next_sample_t = t
            if t < self.next_sample_t - 1e-6:
                continue
            picks.append(i)
            bright.append(self.acc[0] / self.acc[1])
            self.acc[:] = 0.0
            # Next sample one period on; a frame gap longer than a period (low fps) resyncs.
            self.next_sample_t = max(self.next_sample_t + self.period, t + 0.5 * self.period)
        if not picks:
            return
        # Colour changes slowly: measured on the sample frames only (it is the costly part).
        xs = x[picks].astype(np.float32)  # (k, h, w, 3)
        r, g, bl = xs[..., 0], xs[..., 1], xs[..., 2]  # (k, h, w) each
        # Pairwise maxima: numpy reduces a length-3 last axis some twenty times slower.
        mx, mn = np.maximum(np.maximum(r, g), bl), np.minimum(np.minimum(r, g), bl)
        sat = ((mx - mn) / np.maximum(mx, 1.0)).mean(axis=(1, 2))  # (k,)
        r, bl = r.mean(axis=(1, 2)), bl.mean(axis=(1, 2))
        warm = (r - bl) / np.maximum(r + bl, 1.0)  # (k,)
        lum = y[picks]  # (k, h/2, w/2)
        prev = np.concatenate([lum[:1] if self.last_sample_luma is None else self.last_sample_luma[None], lum[:-1]])
        mad = _motion_mad(prev, lum)  # (k,)
        if self.last_sample_luma is None:
            mad[0] = 0.0
        self.last_sample_luma = lum[-1]
        # Stored compactly (bytes where a byte is precise enough): these arrays grow with the video.
        self.samples_t.append(np.asarray(ts, np.float64)[picks])
        self.samples_coarse.append(np.round(_block_means(xs, 4, 8)).astype(np.uint8))  # (k, 4, 8, 3)
        self.samples_luma.append(np.round(lum * 255).astype(np.uint8))
        self.samples_hist.append(hist[picks].astype(np.float16))
        self.samples_colour.append(np.stack([mad, np.asarray(bright), sat, warm], axis=1).astype(np.float32))

    def finish(self) -> ClipArrays:
        self._flush()
        f = np.concatenate(self.frames) if self.frames else np.zeros((0, 5 + BACK))
        c = np.concatenate(self.samples_colour) if self.samples_colour else np.zeros((0, 4), np.float32)

        def joined(blocks, shape, dtype):
            return np.concatenate(blocks).astype(dtype) if blocks else np.zeros((0, *shape), dtype)

        return ClipArrays(
            frame_t=f[:, 0].copy(), back=f[:, 5:].astype(np.float32),
            frame_brightness=f[:, 1].astype(np.float32), step_energy=f[:, 2].astype(np.float32),
            step_dot1=f[:, 3].astype(np.float32), step_dot2=f[:, 4].astype(np.float32),
            sample_t=joined(self.samples_t, (), np.float64),
            sample_colour=joined(self.samples_coarse, (4, 8, 3), np.uint8),
            sample_luma=joined(self.samples_luma, (1, 1), np.uint8),
            sample_hist=joined(self.samples_hist, (HIST_BINS,), np.float32),
            motion_mad=c[:, 0].copy(), brightness=c[:, 1].copy(), saturation=c[:, 2].copy(),
            warmth=c[:, 3].copy(),
        )


def _motion_mad(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """(k, h, w) luma thumbnails -> (k,) change after matching each pair's overall gain.

    A fade scales the whole picture: that is a change of light, not motion, so it reads ~0.
    """
    gain = np.clip(cur.mean(axis=(1, 2)) / np.maximum(prev.mean(axis=(1, 2)), 0.02), 0.25, 4.0)
    return np.abs(cur - prev * gain[:, None, None]).mean(axis=(1, 2))


def _block_means(img: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(k, h, w, c) -> (k, rows, cols, c) means over a grid of nearly equal blocks (any h, w)."""
    h, w = img.shape[1:3]
    ys = np.linspace(0, h, rows + 1).astype(int)[:-1]
    xs = np.linspace(0, w, cols + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(img, ys, axis=1), xs, axis=2)  # (k, rows, cols, c)
    counts = np.diff(np.append(ys, h))[:, None] * np.diff(np.append(xs, w))[None, :]
    return sums / np.maximum(counts, 1)[None, :, :, None]

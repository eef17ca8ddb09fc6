"""Which windows each training step reads: a held-out split by video, epochs drawn without
replacement across all shards, no video twice in a batch, and random window offsets.

A batch is the contrastive loss's set of negatives: two windows of one video in it would be
"negatives" that match, so a batch holds at most one window per source video. Windows are drawn
from a permutation of the whole training set (every shard), one epoch after another, so every
window is seen once per epoch. Each epoch's order is a pure function of (seed, epoch), and a
step's offsets of (seed, draw): a resumed run reads exactly what an uninterrupted one would.

Window offsets: cached windows are cut at fixed times (0, W, 2W, ...). A window may instead
start `o` grains later, reading into the next window of the same video, so the model does not
learn that music starts at multiples of W. A grain is the shortest time that is a whole number
of both video frames and codec frames (1 s at 8 fps and 25 Hz, 0.5 s at 8 fps and 50 Hz).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction

import torch


@dataclass(frozen=True)
class WindowRef:
    """A window to read: `index` in the dataset, starting `offset` grains into it."""

    index: int
    offset: int = 0


def split_by_source(sources: list[str], holdout: float) -> tuple[list[int], list[int]]:
    """Window indices (train, held out): whole videos are held out, chosen by a hash of their name.

    holdout: share of the videos held out; at least one when it is > 0 and there are two or more
    videos, and never all of them.
    """
    names = sorted(set(sources), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    n_val = 0 if holdout <= 0 or len(names) < 2 else min(len(names) - 1, max(1, round(holdout * len(names))))
    held = set(names[:n_val])
    train = [i for i, s in enumerate(sources) if s not in held]
    val = [i for i, s in enumerate(sources) if s in held]
    return train, val


def grain(video_rate: float, audio_rate: float) -> tuple[int, int]:
    """(video frames, codec frames) per grain: the shortest span whole in both rates."""
    v, a = Fraction(video_rate).limit_denominator(1000), Fraction(audio_rate).limit_denominator(1000)
    g = Fraction(math.gcd(v.numerator * a.denominator, a.numerator * v.denominator), v.denominator * a.denominator)
    return int(v / g), int(a / g)


class EpochSampler:
    """Global batches of distinct videos, drawn without replacement epoch after epoch.

    indices: the training windows; sources[i]: the video of window i (all windows' sources);
    batch: windows per global batch (micro-batch x world size); `draw(n)` gives the n-th batch.
    """

    def __init__(self, indices: list[int], sources: list[str], batch: int, seed: int):
        if not indices:
            raise ValueError("no training windows to draw from")
        self.indices, self.sources, self.seed = list(indices), sources, seed
        self.n_videos = len({sources[i] for i in indices})
        self.batch = min(batch, self.n_videos)  # one window per video in a batch
        self._epochs: list[list[list[int]]] = []
        self._starts = [0]  # draw number of each epoch's first batch

    def _plan(self, epoch: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 7919 + epoch)
        queue = [self.indices[int(i)] for i in torch.randperm(len(self.indices), generator=g)]
        batches = []
        while queue:
            picked, seen, rest = [], set(), []
            for i in queue:
                if len(picked) < self.batch and self.sources[i] not in seen:
                    picked.append(i)
                    seen.add(self.sources[i])
                else:
                    rest.append(i)
            if len(picked) < self.batch:  # the epoch's tail repeats videos: start the next epoch
                break
            batches.append(picked)
            queue = rest
        return batches

    def draw(self, n: int) -> list[int]:
        """The n-th global batch (n from 0)."""
        while self._starts[-1] <= n:
            plan = self._plan(len(self._epochs))
            self._epochs.append(plan)
            self._starts.append(self._starts[-1] + len(plan))
        epoch = max(e for e in range(len(self._epochs)) if self._starts[e] <= n)
        return self._epochs[epoch][n - self._starts[epoch]]


def offsets(refs: list[int], n_grains: int, has_next: list[bool], seed: int, draw: int) -> list[WindowRef]:
    """Random offsets in [0, n_grains) for windows followed by the same video's next; 0 for others."""
    g = torch.Generator().manual_seed(seed * 104_729 + draw)
    picks = torch.randint(max(1, n_grains), (len(refs),), generator=g).tolist()
    return [WindowRef(i, o if has_next[i] else 0) for i, o in zip(refs, picks, strict=True)]

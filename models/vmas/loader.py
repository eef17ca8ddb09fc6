"""Reading training batches: windows at an offset, stacked, prepared ahead on a thread.

The cached shards hold fixed windows (data.py). A window read `offset` grains late is the tail of
its own window followed by the head of the same video's next one. Batches are assembled on a
background thread (`Prefetcher`) while the model trains on the previous one: shard reads
(memory-mapped, so page faults), slicing and stacking leave the training step's critical path.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable

import numpy as np
import torch

from .sampler import WindowRef

AUDIO_AXES = {"codes": 1, "music_beat": 0, "visual_beat": 0}  # tensors at the codec frame rate, time axis
# Every other tensor of a window (frames, cached features) runs at the video rate along axis 0.


class WindowReader:
    """Windows of a WindowDataset by global index, with their video and start time."""

    def __init__(self, dataset, window_s: float):
        self.ds, self.window_s = dataset, window_s
        self.sources: list[str] = []
        self.starts_s: list[float] = []
        for shard in range(len(dataset.counts)):
            for w in dataset._shard(shard):
                self.sources.append(str(w["source"]))
                self.starts_s.append(float(w["start_s"]))
        # Window i continues into window i+1 when both are consecutive pieces of one video.
        self.has_next = [i + 1 < len(self.sources) and self.sources[i + 1] == self.sources[i]
                         and abs(self.starts_s[i + 1] - self.starts_s[i] - window_s) < 1e-6
                         for i in range(len(self.sources))]

    def window(self, i: int) -> dict:
        ds = self.ds
        shard = int(np.searchsorted(ds.starts, i, side="right")) - 1
        return ds._shard(shard)[i - int(ds.starts[shard])]

    def rates(self) -> tuple[float, float]:
        """(video frames, codec frames) per second in the cached windows."""
        w = self.window(0)
        video = next(k for k, v in w.items() if torch.is_tensor(v) and k not in AUDIO_AXES)
        return len(w[video]) / self.window_s, w["codes"].shape[1] / self.window_s

    def read(self, ref: WindowRef, grain: tuple[int, int]) -> dict:
        """The window's tensors, `ref.offset` grains late (the next window supplies the tail)."""
        w = self.window(ref.index)
        tensors = {k: v for k, v in w.items() if torch.is_tensor(v)}
        if ref.offset == 0:
            return tensors
        nxt = self.window(ref.index + 1)
        out = {}
        for k, v in tensors.items():
            axis = AUDIO_AXES.get(k, 0)
            step = grain[1] if k in AUDIO_AXES else grain[0]
            start, n = ref.offset * step, v.shape[axis]
            out[k] = torch.cat([v, nxt[k]], dim=axis).narrow(axis, start, n)
        return out


def collate(windows: list[dict], device: str | torch.device = "cpu") -> dict:
    """Stack windows into a batch on `device`: codes as long, everything else as stored."""
    pin = torch.device(device).type == "cuda"
    out = {}
    for k in windows[0]:
        x = torch.stack([w[k] for w in windows])
        if k == "codes":
            x = x.long()
        if pin:
            x = x.pin_memory()
        out[k] = x.to(device, non_blocking=pin)
    return out


class Prefetcher:
    """Builds batches on a thread, `depth` ahead: iterate to get (draw, batch) in order.

    make(draw) -> batch. An exception on the thread is raised again in the consumer. depth 0 builds
    each batch when it is asked for, on the caller's thread (the baseline the bench compares with).
    """

    def __init__(self, draws: Iterable[int], make: Callable[[int], dict], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._inline = ((d, make(d)) for d in draws) if depth <= 0 else None  # depth 0: no thread (a baseline)
        self._thread = threading.Thread(target=self._run, args=(list(draws), make), daemon=True,
                                        name="scorecut-train-prefetch")
        if self._inline is None:
            self._thread.start()

    def _run(self, draws: list[int], make) -> None:
        try:
            for d in draws:
                if self._stop.is_set():
                    return
                self._put((d, make(d), None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put((None, None, exc))
            return
        self._put((None, None, None))

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        if self._inline is not None:
            yield from self._inline
            return
        while True:
            draw, batch, exc = self._queue.get()
            if exc is not None:
                raise exc
            if draw is None:
                return
            yield draw, batch

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

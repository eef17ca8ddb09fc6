"""Writing a job's files in the output layout, atomically.

    out_dir/name/mix.wav, out_dir/name/<stem>.wav, out_dir/name/score.json

Everything is written into a hidden temporary folder inside `out_dir` (same filesystem, so the
final rename is atomic) as the audio streams in; each stem's PCM is checked against the manifest's
sha256; score.json is written from the streamed Plan, Analysis and Manifest; the extras
(`before_land`) are made inside the same folder from the streamed analysis and plan; then
`landing.land_take` moves it to its folder by the one naming policy. On any failure or cancel the
temporary folder is removed and nothing is left in `out_dir`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from scorecut.v1 import DEFAULT_SAMPLE_FORMAT, sha256_file

from .bext import BextSource
from .landing import check_name, land_take, make_partial_folder
from .score_document import score_document
from .types import JobEvent, JobFailed, JobResult
from .wav import StreamingWav

MIDI_EXTRA = "score_mid_base64"  # models/composer/midi.MIDI_EXTRA: score.mid's bytes in the model's extras
_SAFE_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # stem names become file names: no paths from the wire


@dataclass(frozen=True)
class Draft:
    """A finished take before it lands: what the extras (preview, plot) are made from."""

    folder: Path  # the hidden temporary folder; files written here land with the audio
    score: dict  # score.json as written
    analysis: object  # the streamed scorecut.v1.Analysis (None if the server sent none)
    plan: object  # the streamed scorecut.v1.Plan (None if the server sent none)


EventCallback = Callable[[JobEvent], None]
BeforeLand = Callable[[Draft], None]  # adds files (preview.mp4, alignment.png) before landing


def _default_file_modes(folder: Path, reference: Path) -> None:
    """Give files made by private-temp-file writers (mkstemp) the mode `reference` got from open(),
    i.e. the umask's usual one (reading the umask itself is not thread-safe)."""
    mode = reference.stat().st_mode & 0o777
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)


class JobWriter:
    """Consumes one job's ScoreEvents and lands its folder. Use `abort()` on any failure."""

    def __init__(self, out_dir: str | os.PathLike, name: str, request: dict | None = None,
                 replace: bool = False, clips=(), timecode_start_s: float | None = None):
        self.out_dir = Path(out_dir)
        self.name = check_name(name)
        self.request = request  # recorded in score.json as "request" (see request.request_record)
        self.replace = replace  # land at `name` whatever it holds (see landing's naming policy)
        self._bext = BextSource(name, request, list(clips), timecode_start_s)  # each WAV's BWF chunk
        self._created_out_dir = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.temp = make_partial_folder(self.out_dir, name)
        self.job_id = ""
        self.cached = False
        self.fraction = 0.0
        self.analysis = None
        self.plan = None
        self.manifest = None
        self._wavs: dict[str, StreamingWav] = {}

    # -- events -------------------------------------------------------------------------------
    def handle(self, event) -> JobEvent:
        """Apply one scorecut.v1.ScoreEvent; returns what progress callbacks get."""
        self.job_id = event.job_id or self.job_id
        kind = event.WhichOneof("event") or ""
        stage, message = "", ""
        if kind == "accepted":
            self.cached = event.accepted.cached
            stage = "queued"
        elif kind == "progress":
            stage, message = event.progress.stage, event.progress.message
            self.fraction = max(self.fraction, min(max(event.progress.fraction, 0.0), 1.0))
        elif kind == "analysis":
            self.analysis = event.analysis
            self._bext.use_analysis(event.analysis)  # the clips' start timecodes, read by the server
        elif kind == "plan":
            self.plan = event.plan
        elif kind == "chunk":
            self._write_chunk(event.chunk)
            stage = "stream"
        elif kind == "manifest":
            self.manifest = event.manifest
            self.cached = self.cached or event.manifest.cached
            self.fraction = 1.0
        return JobEvent(self.job_id, kind, stage, self.fraction, message, event)

    def _write_chunk(self, chunk) -> None:
        stem = chunk.stem
        if not _SAFE_NAME.fullmatch(stem):
            raise JobFailed("DATA_LOSS", f"the server sent audio for a stem with a bad name {stem!r}")
        wav = self._wavs.get(stem)
        if wav is None:
            file = open(self.temp / f"{stem}.wav", "wb")
            try:
                wav = StreamingWav(file, chunk.channels, chunk.sample_rate,
                                   chunk.sample_format or DEFAULT_SAMPLE_FORMAT,
                                   extra_chunks=self._bext.chunk(stem, chunk.sample_rate))
            except ValueError as e:
                file.close()
                raise JobFailed("DATA_LOSS", f"the server sent audio this client cannot write: {e}") from None
            self._wavs[stem] = wav
        try:
            wav.write(chunk.offset_frames, chunk.pcm)
        except ValueError as e:
            raise JobFailed("DATA_LOSS", f"the audio stream for {stem!r} is damaged ({e}); score again") from None

    # -- finishing ----------------------------------------------------------------------------
    def _close_wavs(self) -> None:
        for wav in self._wavs.values():
            if not wav.file.closed:
                wav.file.close()

    def finish(self) -> dict:
        """Verify the audio against the manifest, patch the WAV headers, write score.json."""
        manifest = self.manifest
        if manifest is None:
            raise JobFailed("DATA_LOSS", "the server ended the job without its manifest; score again")
        infos = {info.name: info for info in manifest.stems}
        if "mix" not in infos:
            raise JobFailed("DATA_LOSS", "the server's manifest has no mix; score again")
        missing = set(infos) ^ set(self._wavs)
        if missing:
            raise JobFailed("DATA_LOSS",
                            f"stems missing from the stream or the manifest: {sorted(missing)}; score again")
        entries = {}
        for name, info in infos.items():
            wav = self._wavs[name]
            if wav.frames != info.frames or wav.pcm_sha256.hexdigest() != info.sha256:
                raise JobFailed(
                    "DATA_LOSS",
                    f"the {name} audio does not match the server's manifest "
                    f"({wav.frames} frames received, {info.frames} stated); score again",
                )
            wav.finish()
            os.fsync(wav.file.fileno())
            wav.file.close()
            path = self.temp / f"{name}.wav"
            entries[name] = {"name": name, "file": path.name, "samples": int(info.frames),
                             "channels": int(wav.channels), "sha256": sha256_file(path)}
        score = score_document(self.analysis, self.plan, manifest)
        if "mood" in score:  # the user's word, or what the picture said
            score["mood_source"] = "asked" if (self.request or {}).get("options", {}).get("mood") else "picture"
        midi = score.pop(MIDI_EXTRA, None)
        if isinstance(midi, str) and midi:  # the composer's performance, beside the stems
            try:
                (self.temp / "score.mid").write_bytes(base64.b64decode(midi, validate=True))
            except ValueError:
                raise JobFailed("DATA_LOSS", "the server's score.mid is damaged; score again") from None
            score["midi"] = {"file": "score.mid", "sha256": sha256_file(self.temp / "score.mid")}
        score["mix"] = entries["mix"]
        score["stems"] = [entries[info.name] for info in manifest.stems if info.name != "mix"]
        if self.request is not None:
            score["request"] = self.request
        with open(self.temp / "score.json", "w", encoding="utf-8") as f:
            json.dump(score, f, indent=2)
            f.write("\n")
        return score

    def land(self, score: dict, before_land: BeforeLand | None = None) -> JobResult:
        """Run `before_land` on the temporary folder, then land it (landing.land_take)."""
        if before_land is not None:
            before_land(Draft(self.temp, score, self.analysis, self.plan))
        if os.name != "nt":
            _default_file_modes(self.temp, self.temp / score["mix"]["file"])
        landing = land_take(self.temp, self.out_dir, self.name, request=self.request, replace=self.replace)
        final = landing.folder
        stems = {e["name"]: final / e["file"] for e in score["stems"]}
        return JobResult(self.job_id, final, final / score["mix"]["file"], stems, score, self.cached,
                         landing.replaced)

    def abort(self) -> None:
        """Remove everything this job wrote; leave out_dir as it was."""
        self._close_wavs()
        shutil.rmtree(self.temp, ignore_errors=True)
        if self._created_out_dir:
            try:
                self.out_dir.rmdir()  # only when still empty
            except OSError:
                pass


def write_job(
    events: Iterable,
    out_dir: str | os.PathLike,
    name: str,
    *,
    on_event: EventCallback | None = None,
    before_land: BeforeLand | None = None,
    request: dict | None = None,
    replace: bool = False,
) -> JobResult:
    """Write a job's ScoreEvent stream as out_dir/name/ (mix.wav, <stem>.wav, score.json), atomically.

    `on_event` gets a JobEvent per server event; `before_land(draft)` may add files (preview.mp4,
    alignment.png) that then land together with the audio; `request` (a request_record) is recorded
    in score.json; the take lands by landing's naming policy (`replace`: at `name` whatever it
    holds). On any exception nothing is left in out_dir and the exception propagates.
    """
    writer = JobWriter(out_dir, name, request, replace)
    try:
        for event in events:
            job_event = writer.handle(event)
            if on_event is not None:
                on_event(job_event)
        score = writer.finish()
        return writer.land(score, before_land)
    except BaseException:
        writer.abort()
        raise

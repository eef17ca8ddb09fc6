"""Writing a job's files in the output layout, atomically.

    out_dir/name/mix.wav, out_dir/name/<stem>.wav, out_dir/name/score.json

Everything is written into a hidden temporary folder inside `out_dir` (same filesystem, so the
final rename is atomic) as the audio streams in; each stem's PCM is checked against the manifest's
sha256; then the folder is renamed into place, replacing an older result. On any failure or cancel
the temporary folder is removed and nothing is left in `out_dir`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from .types import JobEvent, JobFailed, JobResult
from .wav import DEFAULT_SAMPLE_FORMAT, StreamingWav

_SAFE_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # stem names become file names: no paths from the wire

EventCallback = Callable[[JobEvent], None]
BeforeLand = Callable[[Path, dict], None]  # (temporary folder, score.json dict): add files before landing


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_hidden_dir(parent: Path, name: str, kind: str) -> Path:
    """A new hidden folder beside the result; os.mkdir honours the umask (mkdtemp would make it private)."""
    while True:
        path = parent / f".{name}.{secrets.token_hex(4)}.{kind}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _default_file_modes(folder: Path, reference: Path) -> None:
    """Give files made by private-temp-file writers (mkstemp) the mode `reference` got from open(),
    i.e. the umask's usual one (reading the umask itself is not thread-safe)."""
    mode = reference.stat().st_mode & 0o777
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)


def check_name(name: str) -> str:
    """A result name must be one path component: it becomes out_dir/name."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"the result name {name!r} must be a plain folder name (no slashes)")
    return name


def replace_folder(folder: Path, final: Path) -> bool:
    """Rename `folder` to `final`, replacing what is there (moved aside first, so a failed rename
    puts it back); True when something was replaced."""
    old = None
    if os.path.lexists(final):
        old = final.with_name(f".{final.name}.{secrets.token_hex(4)}.old")
        os.rename(final, old)
    try:
        os.rename(folder, final)
    except OSError:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None and old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old is not None:
        old.unlink()
    return old is not None


class JobWriter:
    """Consumes one job's ScoreEvents and lands its folder. Use `abort()` on any failure."""

    def __init__(self, out_dir: str | os.PathLike, name: str, request: dict | None = None):
        self.out_dir = Path(out_dir)
        self.name = check_name(name)
        self.request = request  # recorded in score.json as "request" (see request.request_record)
        self._created_out_dir = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.temp = _make_hidden_dir(self.out_dir, name, "partial")
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
                wav = StreamingWav(file, chunk.channels, chunk.sample_rate, chunk.sample_format or DEFAULT_SAMPLE_FORMAT)
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
            raise JobFailed("DATA_LOSS", f"stems missing from the stream or the manifest: {sorted(missing)}; score again")
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
                             "channels": int(wav.channels), "sha256": _sha256_file(path)}
        score = json.loads(manifest.score_json) if manifest.score_json else {}
        mix_info = infos["mix"]
        score.setdefault("version", manifest.version)
        score.setdefault("model", manifest.model)
        score.setdefault("seed", int(manifest.seed))
        score.setdefault("sample_rate", int(mix_info.sample_rate))
        score.setdefault("duration_s", mix_info.frames / mix_info.sample_rate)
        score.setdefault("loudness_lufs", manifest.loudness_lufs)
        score["mix"] = entries["mix"]
        score["stems"] = [entries[info.name] for info in manifest.stems if info.name != "mix"]
        if self.request is not None:
            score["request"] = self.request
        with open(self.temp / "score.json", "w", encoding="utf-8") as f:
            json.dump(score, f, indent=2)
            f.write("\n")
        return score

    def land(self, score: dict, before_land: BeforeLand | None = None) -> JobResult:
        """Run `before_land` on the temporary folder, then rename it to out_dir/name."""
        if before_land is not None:
            before_land(self.temp, score)
        if os.name != "nt":
            _default_file_modes(self.temp, self.temp / score["mix"]["file"])
        final = self.out_dir / self.name
        replace_folder(self.temp, final)
        stems = {e["name"]: final / e["file"] for e in score["stems"]}
        return JobResult(self.job_id, final, final / score["mix"]["file"], stems, score, self.cached,
                         self.analysis, self.plan)

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
) -> JobResult:
    """Write a job's ScoreEvent stream as out_dir/name/ (mix.wav, <stem>.wav, score.json), atomically.

    `on_event` gets a JobEvent per server event; `before_land(temp_folder, score)` may add files
    (preview.mp4, alignment.png) that then land together with the audio; `request` (a
    request_record) is recorded in score.json. On any exception nothing is left in out_dir and the
    exception propagates.
    """
    writer = JobWriter(out_dir, name, request)
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

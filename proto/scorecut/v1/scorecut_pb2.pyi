from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "available", "unavailable_reason", "stems", "native_output", "description", "styles", "moods", "meters", "tempo_min_bpm", "tempo_max_bpm", "sample_rates", "max_duration_s", "directions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_REASON_FIELD_NUMBER: _ClassVar[int]
    STEMS_FIELD_NUMBER: _ClassVar[int]
    NATIVE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    MOODS_FIELD_NUMBER: _ClassVar[int]
    METERS_FIELD_NUMBER: _ClassVar[int]
    TEMPO_MIN_BPM_FIELD_NUMBER: _ClassVar[int]
    TEMPO_MAX_BPM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATES_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    available: bool
    unavailable_reason: str
    stems: _containers.RepeatedScalarFieldContainer[str]
    native_output: str
    description: str
    styles: _containers.RepeatedScalarFieldContainer[str]
    moods: _containers.RepeatedScalarFieldContainer[str]
    meters: _containers.RepeatedScalarFieldContainer[str]
    tempo_min_bpm: float
    tempo_max_bpm: float
    sample_rates: _containers.RepeatedScalarFieldContainer[int]
    max_duration_s: float
    directions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., available: _Optional[bool] = ..., unavailable_reason: _Optional[str] = ..., stems: _Optional[_Iterable[str]] = ..., native_output: _Optional[str] = ..., description: _Optional[str] = ..., styles: _Optional[_Iterable[str]] = ..., moods: _Optional[_Iterable[str]] = ..., meters: _Optional[_Iterable[str]] = ..., tempo_min_bpm: _Optional[float] = ..., tempo_max_bpm: _Optional[float] = ..., sample_rates: _Optional[_Iterable[int]] = ..., max_duration_s: _Optional[float] = ..., directions: _Optional[_Iterable[str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_duration_s", "max_clips", "max_upload_bytes", "max_queue")
    MAX_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIPS_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_FIELD_NUMBER: _ClassVar[int]
    max_duration_s: float
    max_clips: int
    max_upload_bytes: int
    max_queue: int
    def __init__(self, max_duration_s: _Optional[float] = ..., max_clips: _Optional[int] = ..., max_upload_bytes: _Optional[int] = ..., max_queue: _Optional[int] = ...) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("version", "device", "models", "limits", "styles", "moods", "paths_allowed")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    MOODS_FIELD_NUMBER: _ClassVar[int]
    PATHS_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    version: str
    device: str
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    limits: Limits
    styles: _containers.RepeatedScalarFieldContainer[str]
    moods: _containers.RepeatedScalarFieldContainer[str]
    paths_allowed: bool
    def __init__(self, version: _Optional[str] = ..., device: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., styles: _Optional[_Iterable[str]] = ..., moods: _Optional[_Iterable[str]] = ..., paths_allowed: _Optional[bool] = ...) -> None: ...

class Clip(_message.Message):
    __slots__ = ("path", "media_id", "source_in_s", "source_out_s", "record_start_s", "record_end_s", "name")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IN_S_FIELD_NUMBER: _ClassVar[int]
    SOURCE_OUT_S_FIELD_NUMBER: _ClassVar[int]
    RECORD_START_S_FIELD_NUMBER: _ClassVar[int]
    RECORD_END_S_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    path: str
    media_id: str
    source_in_s: float
    source_out_s: float
    record_start_s: float
    record_end_s: float
    name: str
    def __init__(self, path: _Optional[str] = ..., media_id: _Optional[str] = ..., source_in_s: _Optional[float] = ..., source_out_s: _Optional[float] = ..., record_start_s: _Optional[float] = ..., record_end_s: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class ScoreOptions(_message.Message):
    __slots__ = ("model", "style", "mood", "tempo_min_bpm", "tempo_max_bpm", "seed", "stems", "sample_rate", "loudness_lufs", "duck_dialogue", "meter", "checkpoint", "sample_format", "hits", "reroll_start_s", "reroll_end_s", "reroll_seed", "loop", "tail_s", "duck_amount_lu", "duck_fade_s")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    TEMPO_MIN_BPM_FIELD_NUMBER: _ClassVar[int]
    TEMPO_MAX_BPM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_LUFS_FIELD_NUMBER: _ClassVar[int]
    DUCK_DIALOGUE_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    REROLL_START_S_FIELD_NUMBER: _ClassVar[int]
    REROLL_END_S_FIELD_NUMBER: _ClassVar[int]
    REROLL_SEED_FIELD_NUMBER: _ClassVar[int]
    LOOP_FIELD_NUMBER: _ClassVar[int]
    TAIL_S_FIELD_NUMBER: _ClassVar[int]
    DUCK_AMOUNT_LU_FIELD_NUMBER: _ClassVar[int]
    DUCK_FADE_S_FIELD_NUMBER: _ClassVar[int]
    model: str
    style: str
    mood: str
    tempo_min_bpm: float
    tempo_max_bpm: float
    seed: int
    stems: _containers.RepeatedScalarFieldContainer[str]
    sample_rate: int
    loudness_lufs: float
    duck_dialogue: bool
    meter: str
    checkpoint: str
    sample_format: str
    hits: _containers.RepeatedCompositeFieldContainer[HitPoint]
    reroll_start_s: float
    reroll_end_s: float
    reroll_seed: int
    loop: bool
    tail_s: float
    duck_amount_lu: float
    duck_fade_s: float
    def __init__(self, model: _Optional[str] = ..., style: _Optional[str] = ..., mood: _Optional[str] = ..., tempo_min_bpm: _Optional[float] = ..., tempo_max_bpm: _Optional[float] = ..., seed: _Optional[int] = ..., stems: _Optional[_Iterable[str]] = ..., sample_rate: _Optional[int] = ..., loudness_lufs: _Optional[float] = ..., duck_dialogue: _Optional[bool] = ..., meter: _Optional[str] = ..., checkpoint: _Optional[str] = ..., sample_format: _Optional[str] = ..., hits: _Optional[_Iterable[_Union[HitPoint, _Mapping]]] = ..., reroll_start_s: _Optional[float] = ..., reroll_end_s: _Optional[float] = ..., reroll_seed: _Optional[int] = ..., loop: _Optional[bool] = ..., tail_s: _Optional[float] = ..., duck_amount_lu: _Optional[float] = ..., duck_fade_s: _Optional[float] = ...) -> None: ...

class HitPoint(_message.Message):
    __slots__ = ("time_s", "kind")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    kind: str
    def __init__(self, time_s: _Optional[float] = ..., kind: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("clips", "duration_s", "options")
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    clips: _containers.RepeatedCompositeFieldContainer[Clip]
    duration_s: float
    options: ScoreOptions
    def __init__(self, clips: _Optional[_Iterable[_Union[Clip, _Mapping]]] = ..., duration_s: _Optional[float] = ..., options: _Optional[_Union[ScoreOptions, _Mapping]] = ...) -> None: ...

class Accepted(_message.Message):
    __slots__ = ("queue_position", "cached")
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    queue_position: int
    cached: bool
    def __init__(self, queue_position: _Optional[int] = ..., cached: _Optional[bool] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "fraction", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    fraction: float
    message: str
    def __init__(self, stage: _Optional[str] = ..., fraction: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class Analysis(_message.Message):
    __slots__ = ("duration_s", "cuts_s", "visual_beats_s", "analysis_fps", "motion", "times_s", "pace", "cut_strength", "cut_kinds", "visual_beat_strength", "speech_times_s", "speech", "clip_media")
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    CUTS_S_FIELD_NUMBER: _ClassVar[int]
    VISUAL_BEATS_S_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FPS_FIELD_NUMBER: _ClassVar[int]
    MOTION_FIELD_NUMBER: _ClassVar[int]
    TIMES_S_FIELD_NUMBER: _ClassVar[int]
    PACE_FIELD_NUMBER: _ClassVar[int]
    CUT_STRENGTH_FIELD_NUMBER: _ClassVar[int]
    CUT_KINDS_FIELD_NUMBER: _ClassVar[int]
    VISUAL_BEAT_STRENGTH_FIELD_NUMBER: _ClassVar[int]
    SPEECH_TIMES_S_FIELD_NUMBER: _ClassVar[int]
    SPEECH_FIELD_NUMBER: _ClassVar[int]
    CLIP_MEDIA_FIELD_NUMBER: _ClassVar[int]
    duration_s: float
    cuts_s: _containers.RepeatedScalarFieldContainer[float]
    visual_beats_s: _containers.RepeatedScalarFieldContainer[float]
    analysis_fps: float
    motion: _containers.RepeatedScalarFieldContainer[float]
    times_s: _containers.RepeatedScalarFieldContainer[float]
    pace: _containers.RepeatedScalarFieldContainer[float]
    cut_strength: _containers.RepeatedScalarFieldContainer[float]
    cut_kinds: _containers.RepeatedScalarFieldContainer[str]
    visual_beat_strength: _containers.RepeatedScalarFieldContainer[float]
    speech_times_s: _containers.RepeatedScalarFieldContainer[float]
    speech: _containers.RepeatedScalarFieldContainer[float]
    clip_media: _containers.RepeatedCompositeFieldContainer[ClipMedia]
    def __init__(self, duration_s: _Optional[float] = ..., cuts_s: _Optional[_Iterable[float]] = ..., visual_beats_s: _Optional[_Iterable[float]] = ..., analysis_fps: _Optional[float] = ..., motion: _Optional[_Iterable[float]] = ..., times_s: _Optional[_Iterable[float]] = ..., pace: _Optional[_Iterable[float]] = ..., cut_strength: _Optional[_Iterable[float]] = ..., cut_kinds: _Optional[_Iterable[str]] = ..., visual_beat_strength: _Optional[_Iterable[float]] = ..., speech_times_s: _Optional[_Iterable[float]] = ..., speech: _Optional[_Iterable[float]] = ..., clip_media: _Optional[_Iterable[_Union[ClipMedia, _Mapping]]] = ...) -> None: ...

class ClipMedia(_message.Message):
    __slots__ = ("start_timecode_s",)
    START_TIMECODE_S_FIELD_NUMBER: _ClassVar[int]
    start_timecode_s: float
    def __init__(self, start_timecode_s: _Optional[float] = ...) -> None: ...

class Section(_message.Message):
    __slots__ = ("start_s", "end_s", "intensity", "label")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    intensity: int
    label: str
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., intensity: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("tempo_bpm", "meter", "key", "beats_s", "downbeats_s", "sections", "style", "mood")
    TEMPO_BPM_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BEATS_S_FIELD_NUMBER: _ClassVar[int]
    DOWNBEATS_S_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    tempo_bpm: float
    meter: str
    key: str
    beats_s: _containers.RepeatedScalarFieldContainer[float]
    downbeats_s: _containers.RepeatedScalarFieldContainer[float]
    sections: _containers.RepeatedCompositeFieldContainer[Section]
    style: str
    mood: str
    def __init__(self, tempo_bpm: _Optional[float] = ..., meter: _Optional[str] = ..., key: _Optional[str] = ..., beats_s: _Optional[_Iterable[float]] = ..., downbeats_s: _Optional[_Iterable[float]] = ..., sections: _Optional[_Iterable[_Union[Section, _Mapping]]] = ..., style: _Optional[str] = ..., mood: _Optional[str] = ...) -> None: ...

class StemChunk(_message.Message):
    __slots__ = ("stem", "channels", "sample_rate", "offset_frames", "pcm", "sample_format")
    STEM_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FRAMES_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    stem: str
    channels: int
    sample_rate: int
    offset_frames: int
    pcm: bytes
    sample_format: str
    def __init__(self, stem: _Optional[str] = ..., channels: _Optional[int] = ..., sample_rate: _Optional[int] = ..., offset_frames: _Optional[int] = ..., pcm: _Optional[bytes] = ..., sample_format: _Optional[str] = ...) -> None: ...

class StemInfo(_message.Message):
    __slots__ = ("name", "frames", "channels", "sample_rate", "sha256", "sample_format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    frames: int
    channels: int
    sample_rate: int
    sha256: str
    sample_format: str
    def __init__(self, name: _Optional[str] = ..., frames: _Optional[int] = ..., channels: _Optional[int] = ..., sample_rate: _Optional[int] = ..., sha256: _Optional[str] = ..., sample_format: _Optional[str] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("stems", "model", "seed", "version", "loudness_lufs", "true_peak_dbtp", "cached", "score_json")
    STEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_LUFS_FIELD_NUMBER: _ClassVar[int]
    TRUE_PEAK_DBTP_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    SCORE_JSON_FIELD_NUMBER: _ClassVar[int]
    stems: _containers.RepeatedCompositeFieldContainer[StemInfo]
    model: str
    seed: int
    version: str
    loudness_lufs: float
    true_peak_dbtp: float
    cached: bool
    score_json: str
    def __init__(self, stems: _Optional[_Iterable[_Union[StemInfo, _Mapping]]] = ..., model: _Optional[str] = ..., seed: _Optional[int] = ..., version: _Optional[str] = ..., loudness_lufs: _Optional[float] = ..., true_peak_dbtp: _Optional[float] = ..., cached: _Optional[bool] = ..., score_json: _Optional[str] = ...) -> None: ...

class ScoreEvent(_message.Message):
    __slots__ = ("job_id", "accepted", "progress", "analysis", "plan", "chunk", "manifest")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    accepted: Accepted
    progress: Progress
    analysis: Analysis
    plan: Plan
    chunk: StemChunk
    manifest: Manifest
    def __init__(self, job_id: _Optional[str] = ..., accepted: _Optional[_Union[Accepted, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., analysis: _Optional[_Union[Analysis, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., chunk: _Optional[_Union[StemChunk, _Mapping]] = ..., manifest: _Optional[_Union[Manifest, _Mapping]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("filename", "size", "sha256")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size: int
    sha256: str
    def __init__(self, filename: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class MediaRef(_message.Message):
    __slots__ = ("media_id", "size", "already_present")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    size: int
    already_present: bool
    def __init__(self, media_id: _Optional[str] = ..., size: _Optional[int] = ..., already_present: _Optional[bool] = ...) -> None: ...

class HasMediaRequest(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    def __init__(self, sha256: _Optional[str] = ...) -> None: ...

class HasMediaReply(_message.Message):
    __slots__ = ("present", "media_id")
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    present: bool
    media_id: str
    def __init__(self, present: _Optional[bool] = ..., media_id: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobReply(_message.Message):
    __slots__ = ("found", "state")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    state: str
    def __init__(self, found: _Optional[bool] = ..., state: _Optional[str] = ...) -> None: ...

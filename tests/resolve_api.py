"""The names in DaVinci Resolve's scripting API, for the fake in resolve_fake.py.

DOCUMENTED: the methods the scripting README (Developer/Scripting/README.txt, Resolve 19/20)
lists per class. IMPLEMENTED: the ones the fake implements, which are the calls the plugin
makes (test_resolve checks both: IMPLEMENTED is inside DOCUMENTED, and the plugin uses all of
it). SINCE: calls older versions lack. Api is the object a script holds: it lets through only
those names, as the real object raises AttributeError for a name it does not have.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fake's root, which imports this module
    from resolve_fake import FakeResolve

# The README's method lists (Resolve 19/20), by class.
DOCUMENTED: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "Resolve": """Fusion GetMediaStorage GetProjectManager OpenPage GetCurrentPage GetProductName GetVersion
        GetVersionString LoadLayoutPreset UpdateLayoutPreset ExportLayoutPreset DeleteLayoutPreset
        SaveLayoutPreset ImportLayoutPreset Quit ImportRenderPreset ExportRenderPreset ImportBurnInPreset
        ExportBurnInPreset GetKeyframeMode SetKeyframeMode""",
    "ProjectManager": """ArchiveProject CreateProject DeleteProject LoadProject GetCurrentProject SaveProject
        CloseProject CreateFolder DeleteFolder GetProjectListInCurrentFolder GetFolderListInCurrentFolder
        GotoRootFolder GotoParentFolder GetCurrentFolder OpenFolder ImportProject ExportProject RestoreProject
        GetCurrentDatabase GetDatabaseList SetCurrentDatabase CreateCloudProject ImportCloudProject
        RestoreCloudProject""",
    "Project": """GetMediaPool GetTimelineCount GetTimelineByIndex GetCurrentTimeline SetCurrentTimeline
        GetGallery GetName SetName GetPresetList SetPreset AddRenderJob DeleteRenderJob DeleteAllRenderJobs
        GetRenderJobList GetRenderPresetList StartRendering StopRendering IsRenderingInProgress
        LoadRenderPreset SaveAsNewRenderPreset DeleteRenderPreset SetRenderSettings GetRenderJobStatus
        GetSetting SetSetting GetRenderFormats GetRenderCodecs GetCurrentRenderFormatAndCodec
        SetCurrentRenderFormatAndCodec GetCurrentRenderMode SetCurrentRenderMode GetRenderResolutions
        RefreshLUTList GetUniqueId InsertAudioToCurrentTrackAtPlayhead LoadBurnInPreset
        ExportCurrentFrameAsStill GetColorGroupsList AddColorGroup DeleteColorGroup""",
    "MediaStorage": """GetMountedVolumeList GetSubFolderList GetFileList RevealInStorage AddItemListToMediaPool
        AddClipMattesToMediaPool AddTimelineMattesToMediaPool""",
    "MediaPool": """GetRootFolder AddSubFolder RefreshFolders CreateEmptyTimeline AppendToTimeline
        CreateTimelineFromClips ImportTimelineFromFile DeleteTimelines GetCurrentFolder SetCurrentFolder
        DeleteClips ImportFolderFromFile DeleteFolders MoveClips MoveFolders GetClipMatteList
        GetTimelineMatteList DeleteClipMattes RelinkClips UnlinkClips ImportMedia ExportMetadata GetUniqueId
        CreateStereoClip GetSelectedClips SetSelectedClip AutoSyncAudio""",
    "Folder": """GetClipList GetName GetSubFolderList GetIsFolderStale GetUniqueId Export TranscribeAudio
        ClearTranscription""",
    "MediaPoolItem": """GetName GetMetadata SetMetadata GetThirdPartyMetadata SetThirdPartyMetadata GetMediaId
        AddMarker GetMarkers GetMarkerByCustomData UpdateMarkerCustomData GetMarkerCustomData
        DeleteMarkersByColor DeleteMarkerAtFrame DeleteMarkerByCustomData AddFlag GetFlagList ClearFlags
        GetClipColor SetClipColor ClearClipColor GetClipProperty SetClipProperty LinkProxyMedia
        UnlinkProxyMedia ReplaceClip GetUniqueId TranscribeAudio ClearTranscription GetAudioMapping
        GetMarkInOut SetMarkInOut ClearMarkInOut ReplaceClipPreserveSubClip MonitorGrowingFile""",
    "Timeline": """GetName SetName GetStartFrame GetEndFrame SetStartTimecode GetStartTimecode GetTrackCount
        AddTrack DeleteTrack GetTrackSubType SetTrackEnable GetIsTrackEnabled SetTrackLock GetIsTrackLocked
        DeleteClips SetClipsLinked GetItemListInTrack AddMarker GetMarkers GetMarkerByCustomData
        UpdateMarkerCustomData GetMarkerCustomData DeleteMarkersByColor DeleteMarkerAtFrame
        DeleteMarkerByCustomData ApplyGradeFromDRX GetCurrentTimecode SetCurrentTimecode GetCurrentVideoItem
        GetCurrentClipThumbnailImage GetTrackName SetTrackName DuplicateTimeline CreateCompoundClip
        CreateFusionClip ImportIntoTimeline Export GetSetting SetSetting InsertGeneratorIntoTimeline
        InsertFusionGeneratorIntoTimeline InsertFusionCompositionIntoTimeline InsertOFXGeneratorIntoTimeline
        InsertTitleIntoTimeline InsertFusionTitleIntoTimeline GrabStill GrabAllStills GetUniqueId
        CreateSubtitlesFromAudio DetectSceneCuts ConvertTimelineToStereo GetNodeGraph AnalyzeDolbyVision
        GetMediaPoolItem GetMarkInOut SetMarkInOut ClearMarkInOut""",
    "TimelineItem": """GetName GetDuration GetEnd GetSourceEndFrame GetSourceEndTime GetFusionCompCount
        GetFusionCompByIndex GetFusionCompNameList GetFusionCompByName GetLeftOffset GetRightOffset GetStart
        GetSourceStartFrame GetSourceStartTime SetProperty GetProperty AddMarker GetMarkers
        GetMarkerByCustomData UpdateMarkerCustomData GetMarkerCustomData DeleteMarkersByColor
        DeleteMarkerAtFrame DeleteMarkerByCustomData AddFlag GetFlagList ClearFlags GetClipColor SetClipColor
        ClearClipColor AddFusionComp ImportFusionComp ExportFusionComp DeleteFusionCompByName
        LoadFusionCompByName RenameFusionCompByName AddVersion GetCurrentVersion DeleteVersionByName
        LoadVersionByName RenameVersionByName GetVersionNameList GetMediaPoolItem GetStereoConvergenceValues
        GetStereoLeftFloatingWindowParams GetStereoRightFloatingWindowParams ApplyArriCdlLut SetCDL AddTake
        GetSelectedTakeIndex GetTakesCount GetTakeByIndex DeleteTakeByIndex SelectTakeByIndex FinalizeTake
        CopyGrades SetClipEnabled GetClipEnabled UpdateSidecar GetUniqueId LoadBurnInPreset CreateMagicMask
        RegenerateMagicMask Stabilize SmartReframe GetTrackTypeAndIndex GetSourceAudioChannelMapping
        GetLinkedItems GetNodeGraph GetColorGroup AssignToColorGroup RemoveFromColorGroup ExportLUT
        GetIsColorOutputCacheEnabled GetIsFusionOutputCacheEnabled SetColorOutputCache
        SetFusionOutputCache""",
}.items()}

# What this fake implements: the calls the plugin makes, nothing more.
IMPLEMENTED: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "Resolve": "Fusion GetProjectManager GetVersion",
    "ProjectManager": "GetCurrentProject",
    "Project": "GetName GetMediaPool GetCurrentTimeline SetCurrentTimeline GetRenderJobList",
    "MediaPool": """GetRootFolder AddSubFolder GetCurrentFolder SetCurrentFolder ImportMedia AppendToTimeline
        DeleteClips DeleteFolders""",
    "Folder": "GetName GetSubFolderList GetClipList",
    "MediaPoolItem": "GetClipProperty GetUniqueId",
    "Timeline": """GetName GetSetting GetStartFrame GetEndFrame GetTrackCount GetItemListInTrack
        GetIsTrackEnabled GetMarkInOut GetCurrentTimecode AddTrack DeleteTrack SetTrackName DeleteClips
        GetUniqueId SetClipsLinked GetMarkers""",
    "TimelineItem": """GetName GetStart GetEnd GetLeftOffset GetSourceStartFrame GetSourceEndFrame
        GetSourceStartTime GetSourceEndTime GetMediaPoolItem GetClipEnabled GetUniqueId SetClipColor AddMarker""",
}.items()}

# Calls that older versions lack ("New in ..." in the README; DESIGN.md for the source times). The
# file-relative source frames are older than the source times; 18.5 is the oldest README we found
# listing them, so the fake says so.
SINCE: dict[tuple[str, str], tuple[int, ...]] = {
    ("Timeline", "GetMarkInOut"): (19, 1, 0),
    ("TimelineItem", "GetSourceStartTime"): (19, 0, 2),
    ("TimelineItem", "GetSourceEndTime"): (19, 0, 2),
    ("TimelineItem", "GetSourceStartFrame"): (18, 5, 0),
    ("TimelineItem", "GetSourceEndFrame"): (18, 5, 0),
}

_ids = itertools.count(1)


class Api:
    """The object a script sees: only implemented, documented methods of its class exist."""

    __slots__ = ("_impl",)

    def __init__(self, impl):
        object.__setattr__(self, "_impl", impl)

    def __getattr__(self, name: str):
        impl = object.__getattribute__(self, "_impl")
        kind = impl.KIND
        since = SINCE.get((kind, name))
        if name not in IMPLEMENTED[kind] or (since and impl.fake.version < since):
            raise AttributeError(f"'{kind}' object has no attribute '{name}'")
        method = getattr(impl, name)

        def call(*args):
            impl.fake.calls.append((kind, name))
            return _wrap(method(*(_unwrap(a) for a in args)))

        return call

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot set {name!r} on a Resolve object")

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_impl').KIND} (fake)>"


def _wrap(value):
    if isinstance(value, _Impl):
        return Api(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _wrap(v) for k, v in value.items()}
    return value


def _unwrap(value):
    if isinstance(value, Api):
        return object.__getattribute__(value, "_impl")
    if isinstance(value, (list, tuple)):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _rate(text: str) -> Fraction:
    value = float(text)
    if value != int(value):  # NTSC: 23.976 = 24000/1001
        return Fraction(round(value * 1.001) * 1000, 1001)
    return Fraction(int(value))


class _Impl:
    KIND = ""
    fake: FakeResolve

    def GetUniqueId(self) -> str:
        return self.uid

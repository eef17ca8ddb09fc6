--[[
The Lua port of tests/resolve_fake.py: DaVinci Resolve's scripting API as a Lua script sees it
(objects called with `:`), quirks included:
- frame numbers are absolute (the timeline starts at 01:00:00:00); recordFrame is absolute;
- GetSourceStartFrame/EndFrame count media frames from the file's first frame, and the end is
  one frame long on every third item put; GetSourceStartTime/EndTime include the media's start
  timecode ("Start TC");
- an imported WAV is read at 24 frames per second and the placed length is counted down to whole
  timeline frames, so a WAV a fraction of a sample short of the segment comes out a frame short;
- GetVersion() answers {major, minor, patch, build, suffix}; before 19.1 there is no GetMarkInOut
  and AppendToTimeline's endFrame is inclusive; before 18.5 no GetSourceStartFrame/EndFrame;
- GetMarkers() keys markers by frames from the timeline's start (not absolute), each
  {color, duration, note, name, customData};
- a name the class does not have is nil (calling it is an error), as on the real objects.
Test setup goes through the Fake table's own functions, never through the API objects.
]]

local Fake = {}

local SINCE = {
  ["Timeline.GetMarkInOut"] = { 19, 1, 0 },
  ["TimelineItem.GetSourceStartTime"] = { 19, 0, 2 },
  ["TimelineItem.GetSourceEndTime"] = { 19, 0, 2 },
  ["TimelineItem.GetSourceStartFrame"] = { 18, 5, 0 },
  ["TimelineItem.GetSourceEndFrame"] = { 18, 5, 0 },
}

local function older(v, since)
  for i = 1, 3 do
    if v[i] ~= since[i] then return v[i] < since[i] end
  end
  return false
end

local ids = 0
local function new_id() ids = ids + 1 return ids end

-- A class whose instances expose only its methods, gated by version.
local function class(kind)
  local methods = {}
  local meta = {}
  meta.__index = function(obj, name)
    local since = SINCE[kind .. "." .. name]
    if since and older(obj._fake.version, since) then return nil end
    local method = methods[name]
    if method then
      return function(self, ...)
        obj._fake.calls[#obj._fake.calls + 1] = kind .. "." .. name
        return method(self, ...)
      end
    end
    return nil
  end
  return methods, function(fake, fields)
    fields._fake, fields._kind, fields._id = fake, kind, new_id()
    return setmetatable(fields, meta)
  end
end

local function rate_of(text)
  local v = tonumber(text)
  if v ~= math.floor(v) then return math.floor(v * 1.001 + 0.5) * 1000 / 1001 end
  return v
end

local function tc_frames(tc, fps)
  local hh, mm, ss, sep, ff = tc:match("(%d+):(%d+):(%d+)([:;])(%d+)")
  local base = math.floor(fps + 0.5)
  local frames = ((tonumber(hh) * 60 + tonumber(mm)) * 60 + tonumber(ss)) * base + tonumber(ff)
  if sep == ";" then
    local minutes = tonumber(hh) * 60 + tonumber(mm)
    frames = frames - (base / 15) * (minutes - math.floor(minutes / 10))
  end
  return frames
end

local function wav_info(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  local function u32(i) local a, b, c, d = data:byte(i, i + 3) return a + b * 256 + c * 65536 + d * 16777216 end
  local function u16(i) local a, b = data:byte(i, i + 1) return a + b * 256 end
  assert(data:sub(1, 4) == "RIFF" and data:sub(9, 12) == "WAVE", path .. " is not a WAV file")
  local pos, rate, block = 13, nil, nil
  while pos + 8 <= #data do
    local id, size = data:sub(pos, pos + 3), u32(pos + 4)
    if id == "fmt " then rate, block = u32(pos + 12), u16(pos + 20) end
    if id == "data" then return rate, size / block end
    pos = pos + 8 + size + size % 2
  end
  error(path .. " has no data chunk")
end

-- Classes -------------------------------------------------------------------------------------------

local MediaPoolItem, new_media_item = class("MediaPoolItem")
function MediaPoolItem:GetName() return self.name end
function MediaPoolItem:GetUniqueId() return "mpi-" .. self._id end
function MediaPoolItem:GetClipProperty(key)
  local fps = self.fps
  local props = { ["File Path"] = self.path, ["Clip Name"] = self.name, ["Start TC"] = self.start_tc,
                  ["FPS"] = (fps == math.floor(fps)) and fps or math.floor(fps * 1000 + 0.5) / 1000,
                  ["Frames"] = tostring(math.floor(self.frames + 1e-6)), ["Type"] = self.kind }
  if key == nil then return props end
  return props[key] or ""
end

local TimelineItem, new_item = class("TimelineItem")
function TimelineItem:GetName() return self.name end
function TimelineItem:GetStart() return self.start end
function TimelineItem:GetEnd() return self.stop end
function TimelineItem:GetLeftOffset() return math.floor(self.source_start + 0.5) end
function TimelineItem:GetSourceStartFrame() return math.floor(self.source_start + 0.5) end
function TimelineItem:GetSourceEndFrame() return math.floor(self.source_end + 0.5) + self.end_slip end
function TimelineItem:GetSourceStartTime()
  local m = self.media
  return (tc_frames(m.start_tc, m.fps) + self.source_start) / m.fps
end
function TimelineItem:GetSourceEndTime()
  local m = self.media
  return (tc_frames(m.start_tc, m.fps) + self.source_end) / m.fps
end
function TimelineItem:GetMediaPoolItem() return self.media end
function TimelineItem:GetClipEnabled() return self.enabled end
function TimelineItem:SetClipColor(color) self.color = color return true end

local Timeline, new_timeline = class("Timeline")
function Timeline:GetName() return self.name end
function Timeline:GetSetting(key)
  local settings = { timelineFrameRate = self.fps_text, timelineDropFrameTimecode = self.drop and "1" or "0" }
  return settings[key] or ""
end
function Timeline:GetStartFrame() return self.start end
function Timeline:GetEndFrame()
  local last = self.start
  for _, kind in ipairs({ "video", "audio" }) do
    for _, t in ipairs(self.tracks[kind]) do
      for _, i in ipairs(t.items) do if i.stop > last then last = i.stop end end
    end
  end
  return last
end
function Timeline:GetTrackCount(kind) return #self.tracks[kind] end
function Timeline:GetItemListInTrack(kind, index)
  local t = self.tracks[kind][index]
  local out = {}
  if t then for _, i in ipairs(t.items) do out[#out + 1] = i end end
  table.sort(out, function(a, b) return a.start < b.start end)
  return out
end
function Timeline:GetIsTrackEnabled(kind, index) return self.tracks[kind][index] ~= nil end
function Timeline:GetMarkInOut()
  if self.marks == nil then return {} end
  local m = { ["in"] = self.marks[1], out = self.marks[2] }
  return { video = m, audio = m }
end
function Timeline:GetMarkers()
  local out = {}
  for frame, m in pairs(self.markers) do
    out[frame] = { color = m.color, duration = m.duration, note = m.note, name = m.name, customData = "" }
  end
  return out
end
function Timeline:GetCurrentTimecode() return Fake.frames_tc(self.start + self.playhead, self.fps, self.drop) end
function Timeline:AddTrack(kind, sub)
  local t = self.tracks[kind]
  t[#t + 1] = { name = (kind == "audio" and "Audio " or "Video ") .. (#t + 1), sub = sub or "mono", items = {} }
  return true
end
function Timeline:DeleteTrack(kind, index)
  if self.tracks[kind][index] == nil then return false end
  table.remove(self.tracks[kind], index)
  return true
end
function Timeline:SetTrackName(kind, index, name)
  local t = self.tracks[kind][index]
  if t == nil then return false end
  t.name = name
  return true
end
function Timeline:DeleteClips(items)
  for _, kind in ipairs({ "video", "audio" }) do
    for _, t in ipairs(self.tracks[kind]) do
      for i = #t.items, 1, -1 do
        for _, gone in ipairs(items) do if t.items[i] == gone then table.remove(t.items, i) break end end
      end
    end
  end
  return true
end
function Timeline:SetClipsLinked(items, linked)
  local ids = {}
  for _, i in ipairs(items) do ids[#ids + 1] = i._id end
  for _, i in ipairs(items) do i.linked = linked and ids or {} end
  return #items > 1
end

local Folder, new_folder = class("Folder")
function Folder:GetName() return self.name end
function Folder:GetSubFolderList() local out = {} for i, f in ipairs(self.folders) do out[i] = f end return out end
function Folder:GetClipList() local out = {} for i, c in ipairs(self.clips) do out[i] = c end return out end

local MediaPool, new_pool = class("MediaPool")
function MediaPool:GetRootFolder() return self.root end
function MediaPool:AddSubFolder(parent, name)
  local f = new_folder(self._fake, { name = name, parent = parent, folders = {}, clips = {} })
  parent.folders[#parent.folders + 1] = f
  return f
end
function MediaPool:GetCurrentFolder() return self.current end
function MediaPool:SetCurrentFolder(f) self.current = f return true end
function MediaPool:ImportMedia(paths)
  local out = {}
  for _, path in ipairs(paths) do
    local clip = self._fake:probe(path)
    if clip then
      self.current.clips[#self.current.clips + 1] = clip
      out[#out + 1] = clip
    end
  end
  return out
end
function MediaPool:AppendToTimeline(infos)
  local fake = self._fake
  local timeline = fake.project.current
  local out = {}
  for n, info in ipairs(infos) do
    if n > (fake.faults.append_limit or math.huge) then break end
    local clip = info.mediaPoolItem
    local first, last = info.startFrame or 0, info.endFrame
    if older(fake.version, { 19, 1, 0 }) then last = last + 1 end -- endFrame was the last frame placed
    local track = timeline.tracks.audio[info.trackIndex]
    if track and last > first and last <= clip.frames + 1e-6 then
      local length = math.floor((last - first) / clip.fps * timeline.fps + 1e-6)
      local record = math.floor(info.recordFrame + 0.5)
      local item = new_item(fake, { name = clip.name, media = clip, start = record, stop = record + length,
                                    source_start = first, source_end = last, end_slip = 0, enabled = true })
      track.items[#track.items + 1] = item
      out[#out + 1] = item
    end
  end
  return out
end
function MediaPool:DeleteClips(clips)
  local function walk(f)
    for i = #f.clips, 1, -1 do
      for _, c in ipairs(clips) do if f.clips[i] == c then table.remove(f.clips, i) break end end
    end
    for _, s in ipairs(f.folders) do walk(s) end
  end
  walk(self.root)
  return true
end
function MediaPool:DeleteFolders(folders)
  for _, f in ipairs(folders) do
    local siblings = f.parent and f.parent.folders or {}
    for i = #siblings, 1, -1 do if siblings[i] == f then table.remove(siblings, i) end end
  end
  return true
end

local Project, new_project = class("Project")
function Project:GetName() return self.name end
function Project:GetMediaPool() return self.pool end
function Project:GetCurrentTimeline() return self.current end
function Project:GetRenderJobList() return self.render_jobs end

local Manager, new_manager = class("ProjectManager")
function Manager:GetCurrentProject() return self.project end

local Resolve, new_resolve = class("Resolve")
function Resolve:GetProjectManager() return self._fake.manager end
function Resolve:GetVersion() local v = self._fake.version return { v[1], v[2], v[3], 7, "" } end

-- Setup (the test's side) ---------------------------------------------------------------------------

function Fake.frames_tc(frames, fps, drop)
  local base = math.floor(fps + 0.5)
  local sep = ":"
  if drop then
    local d = base / 15
    local ten, rest = math.floor(frames / (base * 600 - 9 * d)), frames % (base * 600 - 9 * d)
    frames = frames + 9 * d * ten + ((rest >= d) and d * math.floor((rest - d) / (base * 60 - d)) or 0)
    sep = ";"
  end
  local s = math.floor(frames / base)
  return string.format("%02d:%02d:%02d%s%02d", math.floor(s / 3600), math.floor(s / 60) % 60, s % 60, sep, frames % base)
end

-- spec: {version, fps, drop, media = {{path, fps, frames, start_tc, kind, name}}, items = {{track, media, at,
-- frames, source_in, freeze}}, marks = {in, out} or nil, playhead, render_jobs,
-- markers = {{frame (from the timeline's start), name, color}}}
function Fake.new(spec)
  local fake = { version = spec.version or { 19, 1, 3 }, calls = {}, faults = spec.faults or {}, media = {} }
  function fake:probe(path)
    for _, m in ipairs(self.media) do if m.path == path then return m end end
    if path:lower():match("%.midi?$") then return nil end -- MIDI: not media Resolve plays, no item made
    if path:lower():match("%.wav$") then
      local rate, samples = wav_info(path)
      return new_media_item(self, { path = path, name = path:match("([^/]+)$"), fps = 24, frames = samples / rate * 24,
                                    start_tc = "00:00:00:00", kind = "Audio" })
    end
    return nil
  end
  local fps = rate_of(spec.fps)
  local timeline = new_timeline(fake, { name = spec.name or "Edit", fps_text = spec.fps, fps = fps, drop = spec.drop,
                                        marks = spec.marks, playhead = spec.playhead or 0, puts = 0,
                                        tracks = { video = { { name = "Video 1", items = {} }, { name = "Video 2", items = {} } },
                                                   audio = { { name = "Audio 1", sub = "stereo", items = {} } } } })
  timeline.start = tc_frames(spec.drop and "01:00:00;00" or "01:00:00:00", fps)
  timeline.markers = {}
  for _, m in ipairs(spec.markers or {}) do
    timeline.markers[m.frame] = { color = m.color or "Blue", duration = 1, note = "", name = m.name or "" }
  end
  local pool = new_pool(fake, {})
  pool.root = new_folder(fake, { name = "Master", folders = {}, clips = {} })
  pool.current = pool.root
  fake.project = new_project(fake, { name = "Film", pool = pool, current = timeline, render_jobs = spec.render_jobs or {} })
  fake.manager = new_manager(fake, { project = fake.project })
  fake.resolve = new_resolve(fake, {})
  fake.timeline = timeline
  for _, m in ipairs(spec.media or {}) do
    local clip = new_media_item(fake, { path = m.path or "", name = m.name or (m.path or ""):match("([^/]+)$"),
                                        fps = rate_of(m.fps), frames = m.frames, start_tc = m.start_tc or "00:00:00:00",
                                        kind = m.kind or "Video + Audio" })
    fake.media[#fake.media + 1] = clip
    pool.root.clips[#pool.root.clips + 1] = clip
  end
  for _, it in ipairs(spec.items or {}) do
    local clip = fake.media[it.media]
    local start = it.source_in or 0
    local stop = it.freeze and start or start + it.frames / fps * clip.fps
    timeline.puts = timeline.puts + 1
    local item = new_item(fake, { name = clip.name, media = clip, start = timeline.start + it.at,
                                  stop = timeline.start + it.at + it.frames, source_start = start, source_end = stop,
                                  end_slip = (timeline.puts % 3 == 1) and 1 or 0, enabled = true })
    local track = timeline.tracks.video[it.track]
    track.items[#track.items + 1] = item
  end
  return fake
end

return Fake

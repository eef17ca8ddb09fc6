--[[
Scorecut for DaVinci Resolve's free edition: Workspace > Scripts > Scorecut.

Free Resolve builds no panels from 19.1 (fusion.UIManager is nil) and lists no Python scripts
from 21.1, so this script uses only the scripting API and Lua. It scores the timeline's In/Out
range (the whole timeline when no marks are set; the clip under the playhead when SCOPE says
"current"), prints progress in the Console (Workspace > Console), and places one linked,
colour-tagged audio track per stem under the picture, with the same rules as the Studio panel:
- in points are read as frames of the file (GetSourceStartFrame) in the media's exact rate,
  never from GetSourceStartTime, which includes the camera's start timecode; the played length
  is the item's timeline duration;
- stills and freeze frames are one held picture; compound, multicam and Fusion clips are named;
- Resolve reads a WAV at 24 frames per second: stems are asked for at least the segment's length,
  trimmed to it, and a placement one frame short is accepted;
- before 19.1 there is no GetMarkInOut (In/Out needs 19.1; the whole timeline works) and
  AppendToTimeline's endFrame is inclusive.
The scoring itself runs in the Python that has Scorecut installed (`python -m
scorecut.plugins.resolve.segment_job JOB.json`), which talks to the Scorecut server.

packaging/install_resolve.py writes the lines between the CONFIG markers.
]]

local Scorecut = {}

-- CONFIG BEGIN (written by packaging/install_resolve.py)
Scorecut.CONFIG = {
  python = "python3",       -- the Python with Scorecut installed
  server = "",              -- host:port; "" = $SCORECUT_SERVER or 127.0.0.1:50777
  scope = "inout",          -- "inout", "current" or "timeline"
  stems = { "drums", "bass", "harmony", "melody" },
  stems_folder = "",        -- "" = beside the project's renders, else ~/Movies or ~/Videos
  replace_last = true,      -- a new take goes on the last take's tracks instead of adding more
  seed = nil,
}
-- CONFIG END

local ROOT_BIN = "Scorecut"
local TAKE_COLOR = "Orange"
local WAV_FPS = 24
local CARD_FOLDERS = { private = true, m4root = true, xdroot = true, bpav = true, avchd = true, dcim = true,
                       clips001 = true, canonmxf = true, avf_info = true, proav = true, mp_root = true }

local function fail(message) error({ scorecut = message }, 0) end

-- Resolve hands lists back as 1-based tables (or nil); this makes both a plain list.
local function list(value)
  local out = {}
  if type(value) ~= "table" then return out end
  for i = 1, #value do out[#out + 1] = value[i] end
  return out
end

local function has(obj, name) return obj ~= nil and obj[name] ~= nil end

-- Frame rates ------------------------------------------------------------------------------------

-- The exact rate of "23.976", "29.97", "25": {num, den}.
function Scorecut.parse_rate(text)
  local value = tonumber((tostring(text or ""):gsub("[^%d%.]", "")))
  if not value or value <= 0 then return nil end
  local nearest = math.floor(value * 1001 / 1000 + 0.5)
  if math.abs(value - math.floor(value + 0.5)) > 1e-6 and math.abs(value - nearest * 1000 / 1001) < 0.01 then
    return { nearest * 1000, 1001 }
  end
  if math.abs(value - math.floor(value + 0.5)) < 1e-6 then return { math.floor(value + 0.5), 1 } end
  return { math.floor(value * 1000 + 0.5), 1000 }
end

local function fps(rate) return rate[1] / rate[2] end
local function nominal(rate) return math.floor(fps(rate) + 0.5) end

function Scorecut.tc_to_frames(tc, rate)
  local hh, mm, ss, sep, ff = tostring(tc or ""):match("^%s*(%d+):(%d+):(%d+)([:;%.])(%d+)%s*$")
  if not hh then return nil end
  local base = nominal(rate)
  local frames = ((tonumber(hh) * 60 + tonumber(mm)) * 60 + tonumber(ss)) * base + tonumber(ff)
  if sep ~= ":" and rate[2] == 1001 and base % 30 == 0 then
    local drop, minutes = base / 15, tonumber(hh) * 60 + tonumber(mm)
    frames = frames - drop * (minutes - math.floor(minutes / 10))
  end
  return frames
end

function Scorecut.frames_to_tc(frames, rate, drop_frame)
  local base = nominal(rate)
  local sep = ":"
  if drop_frame and rate[2] == 1001 and base % 30 == 0 then
    local drop = base / 15
    local ten, rest = math.floor(frames / (base * 600 - 9 * drop)), frames % (base * 600 - 9 * drop)
    local extra = 0
    if rest >= drop then extra = math.floor((rest - drop) / (base * 60 - drop)) end
    frames = frames + 9 * drop * ten + drop * extra
    sep = ";"
  end
  local s = math.floor(frames / base)
  return string.format("%02d:%02d:%02d%s%02d", math.floor(s / 3600), math.floor(s / 60) % 60, s % 60, sep,
                       frames % base)
end

-- The version ------------------------------------------------------------------------------------

function Scorecut.version(resolve)
  local v = has(resolve, "GetVersion") and resolve:GetVersion() or nil
  if type(v) ~= "table" then return { 0, 0, 0 } end
  return { tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0 }
end

local function at_least(v, major, minor)
  if v[1] == 0 then return true end -- unknown: go by the calls there are
  return v[1] > major or (v[1] == major and v[2] >= minor)
end

local function version_text(v) return string.format("%d.%d.%d", v[1], v[2], v[3]) end

-- Reading the timeline ---------------------------------------------------------------------------

local function media_of(item)
  local pool_item = has(item, "GetMediaPoolItem") and item:GetMediaPoolItem() or nil
  if pool_item == nil then return nil end
  local props = pool_item:GetClipProperty() or {}
  return { name = tostring(item:GetName()), path = tostring(props["File Path"] or ""),
           kind = tostring(props["Type"] or ""), rate = Scorecut.parse_rate(props["FPS"]),
           frames = tonumber(props["Frames"]), start_tc = tostring(props["Start TC"] or "") }
end

local function video_items(timeline)
  local found = {}
  for track = 1, tonumber(timeline:GetTrackCount("video")) or 0 do
    if not has(timeline, "GetIsTrackEnabled") or timeline:GetIsTrackEnabled("video", track) ~= false then
      for _, item in ipairs(list(timeline:GetItemListInTrack("video", track))) do
        if not has(item, "GetClipEnabled") or item:GetClipEnabled() ~= false then
          local s, e = tonumber(item:GetStart()), tonumber(item:GetEnd())
          if e > s then
            found[#found + 1] = { track = track, item = item, start = s, stop = e, media = media_of(item) }
          end
        end
      end
    end
  end
  return found
end

local function range_of(timeline, scope, rate, drop, items, v)
  local first, last = tonumber(timeline:GetStartFrame()), tonumber(timeline:GetEndFrame())
  if scope == "timeline" then return first, last end
  if scope == "inout" then
    if not at_least(v, 19, 1) or not has(timeline, "GetMarkInOut") then
      fail(string.format("Resolve %s does not tell scripts where the In/Out marks are (that needs Resolve 19.1 " ..
        "or newer); update Resolve, or set SCOPE to \"timeline\" or \"current\" in this script", version_text(v)))
    end
    local marks = timeline:GetMarkInOut() or {}
    local mark = marks.video or marks.audio or {}
    if mark["in"] == nil and mark.out == nil then return first, last end
    local mark_in = first + (tonumber(mark["in"]) or 0)
    local mark_out = last
    if mark.out ~= nil then mark_out = first + tonumber(mark.out) + 1 end -- Out is inclusive
    return mark_in, mark_out
  end
  local tc = timeline:GetCurrentTimecode()
  local playhead = Scorecut.tc_to_frames(tc, rate)
  local top
  for _, e in ipairs(items) do
    if e.media and e.start <= playhead and playhead < e.stop and (top == nil or e.track > top.track) then top = e end
  end
  if top == nil then
    fail("there is no video clip under the playhead (" .. tostring(tc) .. "); move the playhead onto a clip")
  end
  return top.start, top.stop
end

local function visible_pieces(items, first, last)
  local cuts, bounds = { [first] = true, [last] = true }, {}
  for _, e in ipairs(items) do
    if e.start > first and e.start < last then cuts[e.start] = true end
    if e.stop > first and e.stop < last then cuts[e.stop] = true end
  end
  for f in pairs(cuts) do bounds[#bounds + 1] = f end
  table.sort(bounds)
  local pieces = {}
  for i = 1, #bounds - 1 do
    local a, b = bounds[i], bounds[i + 1]
    local top
    for _, e in ipairs(items) do
      if e.start <= a and b <= e.stop and (top == nil or e.track > top.track) then top = e end
    end
    if top then
      local prev = pieces[#pieces]
      if prev and prev.entry == top and prev.b == a then prev.b = b
      else pieces[#pieces + 1] = { entry = top, a = a, b = b } end
    end
  end
  return pieces
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Source seconds of an item: frames of the file in the media's own rate; played length = duration.
local function source_seconds(item, media, duration, timeline_rate)
  local rate = media.rate or timeline_rate
  local one = 1 / fps(rate)
  if media.kind:lower() == "still" then return 0, one end
  local played = duration / fps(timeline_rate)
  local start, stop
  if has(item, "GetSourceStartFrame") then
    start, stop = tonumber(item:GetSourceStartFrame()), tonumber(item:GetSourceEndFrame())
  else
    start = tonumber(item:GetLeftOffset())
  end
  local tc = Scorecut.tc_to_frames(media.start_tc, rate)
  if tc and has(item, "GetSourceStartTime") then
    local from_time = tonumber(item:GetSourceStartTime()) * fps(rate) - tc
    if math.abs(from_time - start) > 1.5 then
      fail(string.format("Resolve gives two different in points for %q: frame %d of the file, and frame %d " ..
        "from its Start TC %s; check the clip's Start TC and frame rate in Clip Attributes", media.name, start,
        math.floor(from_time + 0.5), media.start_tc))
    end
  end
  local speed = 1
  if stop then
    local span, normal = stop - start, played * fps(rate)
    if span <= 1 then return start * one, start * one + one end -- a freeze frame
    if math.abs(span - normal) > 1.5 then speed = span / normal end
  end
  if media.frames and start >= media.frames then
    fail(string.format("Resolve says %q starts at frame %d of its file, which has %d frames; check Clip " ..
      "Attributes (frame rate) for that clip", media.name, start, media.frames))
  end
  return start * one, start * one + played * speed
end

-- Timeline markers inside [first, last) as {time_s, name}, seconds from `first`: the job's Python reads the
-- hit/stop/section ones among them as hit points (one parser for every front end).
local function markers_in(timeline, first, last, rate)
  local out = {}
  if not has(timeline, "GetMarkers") then return out end
  local start = tonumber(timeline:GetStartFrame())
  for frame, info in pairs(timeline:GetMarkers() or {}) do
    local at = start + tonumber(frame) -- GetMarkers keys frames from the timeline's start
    if at >= first and at < last then
      out[#out + 1] = { time_s = (at - first) / fps(rate), name = tostring(info.name or "") }
    end
  end
  table.sort(out, function(a, b) return a.time_s < b.time_s end)
  return out
end

function Scorecut.read_segment(timeline, scope, v)
  local rate = Scorecut.parse_rate(timeline:GetSetting("timelineFrameRate"))
  if rate == nil then fail("cannot read the timeline frame rate; check Project Settings > Timeline frame rate") end
  local drop = tostring(timeline:GetSetting("timelineDropFrameTimecode") or "0") == "1"
  local items = video_items(timeline)
  local first, last = range_of(timeline, scope, rate, drop, items, v)
  local where = Scorecut.frames_to_tc(first, rate, drop) .. "-" .. Scorecut.frames_to_tc(math.max(first, last), rate, drop)
  if last <= first then fail("the range to score is empty (" .. where .. "); set an Out mark after the In mark") end
  local with_media = {}
  for _, e in ipairs(items) do if e.media then with_media[#with_media + 1] = e end end
  local pieces = visible_pieces(with_media, first, last)
  if #pieces == 0 then fail("there is no video with media between " .. where .. "; move the In/Out marks over clips") end
  local nested, offline = {}, {}
  for _, p in ipairs(pieces) do
    local m = p.entry.media
    if m.path == "" then nested[#nested + 1] = string.format("'%s' (%s)", m.name, m.kind)
    elseif not file_exists(m.path) then offline[#offline + 1] = m.name end
  end
  if #nested > 0 then
    fail("Scorecut reads the picture from media files, and these clips have none: " .. table.concat(nested, ", ") ..
      ". Decompose compound clips in place, flatten multicam clips, or render Fusion clips in place, then score again")
  end
  if #offline > 0 then
    fail("these clips are offline (their media files are missing): " .. table.concat(offline, ", ") ..
      "; relink them in the Media Pool, then score again")
  end
  local clips = {}
  for _, p in ipairs(pieces) do
    local e = p.entry
    if e.source == nil then e.source = { source_seconds(e.item, e.media, e.stop - e.start, rate) } end
    local src_in, src_out = e.source[1], e.source[2]
    local per_frame = (src_out - src_in) / (e.stop - e.start)
    local held = src_out - src_in <= 1 / fps(e.media.rate or rate) + 1e-9
    clips[#clips + 1] = {
      path = e.media.path, name = e.media.name,
      source_in_s = held and src_in or src_in + (p.a - e.start) * per_frame,
      source_out_s = held and src_out or src_in + (p.b - e.start) * per_frame,
      record_start_s = (p.a - first) / fps(rate), record_end_s = (p.b - first) / fps(rate),
    }
  end
  return { name = tostring(timeline:GetName()), rate = rate, drop = drop, first = first, last = last,
           clips = clips, describe = where, markers = markers_in(timeline, first, last, rate) }
end

-- Where stems go ---------------------------------------------------------------------------------

function Scorecut.on_camera_card(path)
  local parts = {}
  for part in tostring(path):gmatch("[^/\\]+") do parts[#parts + 1] = part:lower() end
  for i, part in ipairs(parts) do
    if CARD_FOLDERS[part] then return true end
    if part == "contents" and (parts[i + 1] == "clip" or parts[i + 1] == "video" or parts[i + 1] == "audio") then
      return true
    end
  end
  return false
end

function Scorecut.stems_folder(project, chosen)
  if chosen and chosen ~= "" then
    if Scorecut.on_camera_card(chosen) then
      fail(chosen .. " is inside a camera card's folders; choose a stems folder on your project drive instead")
    end
    return chosen
  end
  local jobs = has(project, "GetRenderJobList") and list(project:GetRenderJobList()) or {}
  for i = #jobs, 1, -1 do
    local target = jobs[i] and jobs[i].TargetDir
    if target and target ~= "" and not Scorecut.on_camera_card(target) then return target .. "/Scorecut Stems" end
  end
  local home = os.getenv("HOME") or os.getenv("USERPROFILE") or "."
  local videos = (package.config:sub(1, 1) == "/" and io.open("/System", "r")) and "Movies" or "Videos"
  return home .. "/" .. videos .. "/Scorecut Stems"
end

-- The job ----------------------------------------------------------------------------------------

local function json(value)
  local t = type(value)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(value) end
  if t == "number" then return string.format("%.17g", value) end
  if t == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" })[c]
        or string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  local keys = {}
  for k in pairs(value) do keys[#keys + 1] = k end
  if #keys == #value then -- a list
    local out = {}
    for _, v in ipairs(value) do out[#out + 1] = json(v) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = json(tostring(k)) .. ":" .. json(value[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
Scorecut.json = json

local function quote(arg)
  if package.config:sub(1, 1) == "\\" then return '"' .. arg:gsub('"', '\\"') .. '"' end
  return "'" .. arg:gsub("'", "'\\''") .. "'"
end

local function safe(text) return (tostring(text):gsub("[^%w%._%-]+", "_"):gsub("^_+", ""):gsub("_+$", "")) end

-- Run the job in Scorecut's Python; progress goes to the Console. Returns {stems = {{name, samples, rate, path}}, folder}.
function Scorecut.run_job(segment, config, out_dir, say)
  local name = safe(segment.name) .. "_" .. segment.describe:gsub("[:;]", "-")
  local samples = math.ceil((segment.last - segment.first) / fps(segment.rate) * 48000 - 1e-6)
  local job = { server = config.server, out_dir = out_dir, name = name, clips = segment.clips,
                duration_s = samples / 48000, options = { seed = config.seed, stems = config.stems },
                markers = segment.markers }
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(json(job))
  f:close()
  local command = quote(config.python) .. " -m scorecut.plugins.resolve.segment_job " .. quote(path) .. " 2>&1"
  local pipe = assert(io.popen(command, "r"))
  local result, problem, shown = { stems = {} }, nil, -1
  for line in pipe:lines() do
    local fraction, message = line:match("^progress (%S+) (.*)$")
    local stem, count, rate, wav = line:match("^stem (%S+) (%d+) (%d+) (.+)$")
    if fraction then
      local percent = math.floor(tonumber(fraction) * 100 + 0.5)
      if percent ~= shown then say(string.format("%3d%%  %s", percent, message)) shown = percent end
    elseif stem then
      result.stems[#result.stems + 1] = { name = stem, samples = tonumber(count), rate = tonumber(rate), path = wav }
    elseif line:match("^midi ") then
      result.midi = line:sub(6)
    elseif line:match("^done ") then
      result.folder = line:sub(6)
    elseif line:match("^error ") then
      problem = line:sub(7)
    elseif line ~= "" then
      problem = problem or line -- Python itself could not start the job (e.g. Scorecut not installed)
    end
  end
  pipe:close()
  os.remove(path)
  if result.folder == nil then
    fail((problem or "the scoring job stopped without a word") ..
      " (Python: " .. config.python .. "; set CONFIG.python in this script to the Python that has Scorecut)")
  end
  return result
end

-- Placing ----------------------------------------------------------------------------------------

local function undo_all(timeline, pool, undo)
  if #undo.items > 0 then pcall(function() timeline:DeleteClips(undo.items, false) end) end
  for i = #undo.tracks, 1, -1 do pcall(function() timeline:DeleteTrack("audio", undo.tracks[i]) end) end
  if #undo.clips > 0 then pcall(function() pool:DeleteClips(undo.clips) end) end
  if #undo.bins > 0 then pcall(function() pool:DeleteFolders(undo.bins) end) end
  for _, info in ipairs(undo.removed) do pcall(function() pool:AppendToTimeline({ info }) end) end
end

-- {stem = {track, items}} of the newest take (a bin under Scorecut/) that still has stems here.
local function last_take(root, timeline)
  local bins = list(root:GetSubFolderList())
  for b = #bins, 1, -1 do
    local stems = {}
    for _, clip in ipairs(list(bins[b]:GetClipList())) do
      stems[clip:GetUniqueId()] = tostring(clip:GetClipProperty("File Path")):match("([^/\\]+)%.[^.]+$")
    end
    local found, any = {}, false
    for track = 1, tonumber(timeline:GetTrackCount("audio")) or 0 do
      for _, item in ipairs(list(timeline:GetItemListInTrack("audio", track))) do
        local media = item:GetMediaPoolItem()
        local stem = media and stems[media:GetUniqueId()]
        if stem then
          found[stem] = found[stem] or { track = track, items = {} }
          table.insert(found[stem].items, item)
          any = true
        end
      end
    end
    if any then return found end
  end
  return {}
end

-- Remove the last take's items over [first, last) from its track; how to put them back goes to undo.
local function clear_range(timeline, entry, first, last, rate, v, undo)
  local doomed = {}
  for _, item in ipairs(entry.items) do
    local a, b = tonumber(item:GetStart()), tonumber(item:GetEnd())
    if a < last and first < b then
      local media = item:GetMediaPoolItem()
      local start = tonumber(item:GetSourceStartFrame()) or 0
      local stop = start + (b - a) / fps(rate) * (tonumber(media:GetClipProperty("FPS")) or WAV_FPS)
      if not at_least(v, 19, 1) then stop = stop - 1 end
      undo.removed[#undo.removed + 1] = { mediaPoolItem = media, startFrame = start, endFrame = stop,
                                          trackIndex = entry.track, recordFrame = a, mediaType = 2 }
      doomed[#doomed + 1] = item
    end
  end
  if #doomed > 0 then timeline:DeleteClips(doomed, false) end
end

-- score.mid offered to the take's bin once the stems are placed. Resolve's media pool takes media it
-- can play (its compatible audio formats are WAVE, BWF, AIFF, MP3, AAC, CAF, AC-3) and ImportMedia
-- returns the items it created: expect no item for MIDI. Never an error: the file stays beside the stems.
local function offer_midi(pool, take_bin, path)
  local previous = pool:GetCurrentFolder()
  pool:SetCurrentFolder(take_bin)
  local ok, clips = pcall(function() return list(pool:ImportMedia({ path })) end)
  if previous then pool:SetCurrentFolder(previous) end
  if not ok then return false end
  for _, c in ipairs(clips) do
    if tostring(c:GetClipProperty("File Path")) == path then return true end
  end
  return false
end

-- What became of score.mid, in words for the user.
local function midi_words(result)
  if not result.midi then return "" end
  if result.midi_in_bin then return "; score.mid (the music as MIDI) is in the take's bin" end
  return "; Resolve does not import MIDI files: score.mid (the music as MIDI, for your own instruments) is beside " ..
    "the stems in " .. result.folder
end

function Scorecut.place(project, timeline, segment, result, v, replace_last)
  local pool = project:GetMediaPool()
  local undo = { items = {}, tracks = {}, clips = {}, bins = {}, removed = {} }
  local ok, err = pcall(function()
    local root
    for _, folder in ipairs(list(pool:GetRootFolder():GetSubFolderList())) do
      if folder:GetName() == ROOT_BIN then root = folder end
    end
    if root == nil then
      root = pool:AddSubFolder(pool:GetRootFolder(), ROOT_BIN)
      undo.bins[#undo.bins + 1] = root
    end
    local last = replace_last and last_take(root, timeline) or {}
    local take_bin = pool:AddSubFolder(root, safe(result.folder:match("([^/\\]+)$") or "take"))
    if not take_bin then fail("Resolve did not create the media pool bin; close any open dialog and try again") end
    undo.bins[#undo.bins + 1] = take_bin
    local previous = pool:GetCurrentFolder()
    pool:SetCurrentFolder(take_bin)
    local paths = {}
    for _, s in ipairs(result.stems) do paths[#paths + 1] = s.path end
    local clips = list(pool:ImportMedia(paths))
    if previous then pool:SetCurrentFolder(previous) end
    for _, c in ipairs(clips) do undo.clips[#undo.clips + 1] = c end
    local by_path = {}
    for _, c in ipairs(clips) do by_path[tostring(c:GetClipProperty("File Path"))] = c end
    local frames = segment.last - segment.first
    local segment_s = frames / fps(segment.rate)
    local infos = {}
    for _, s in ipairs(result.stems) do
      local clip = by_path[s.path]
      if clip == nil then fail("Resolve did not import " .. s.path .. "; check that the file is readable") end
      local clip_fps = tonumber(clip:GetClipProperty("FPS")) or WAV_FPS
      local track
      if last[s.name] then -- the last take's track for this stem: its items over the range give way
        track = last[s.name].track
        clear_range(timeline, last[s.name], segment.first, segment.last, segment.rate, v, undo)
      else
        if not timeline:AddTrack("audio", "stereo") then fail("Resolve did not add an audio track; unlock the timeline") end
        track = tonumber(timeline:GetTrackCount("audio"))
        undo.tracks[#undo.tracks + 1] = track
        timeline:SetTrackName("audio", track, s.name)
      end
      -- Never past the WAV's end nor the segment's; exclusive from 19.1, the last frame before.
      local stop = math.min(s.samples / s.rate, segment_s) * clip_fps
      if not at_least(v, 19, 1) then stop = stop - 1 end
      infos[#infos + 1] = { mediaPoolItem = clip, startFrame = 0, endFrame = stop, trackIndex = track,
                            recordFrame = segment.first, mediaType = 2 }
    end
    local placed = list(pool:AppendToTimeline(infos))
    for _, item in ipairs(placed) do undo.items[#undo.items + 1] = item end
    if #placed ~= #infos then
      fail(string.format("Resolve placed %d of %d stems; nothing was added. Unlock the timeline's tracks and try again",
        #placed, #infos))
    end
    for i, item in ipairs(placed) do
      local s, e = tonumber(item:GetStart()), tonumber(item:GetEnd())
      -- A WAV read at 24 fps may come out one timeline frame short; anything else is wrong.
      if s ~= segment.first or e > segment.first + frames or e < segment.first + frames - 1 then
        fail(string.format("Resolve put the %s stem at %s-%s instead of %s-%s; nothing was added",
          result.stems[i].name, Scorecut.frames_to_tc(s, segment.rate, segment.drop),
          Scorecut.frames_to_tc(e, segment.rate, segment.drop), Scorecut.frames_to_tc(segment.first, segment.rate, segment.drop),
          Scorecut.frames_to_tc(segment.first + frames, segment.rate, segment.drop)))
      end
    end
    if #placed > 1 then timeline:SetClipsLinked(placed, true) end
    for _, item in ipairs(placed) do item:SetClipColor(TAKE_COLOR) end
    if result.midi then result.midi_in_bin = offer_midi(pool, take_bin, result.midi) end
    return placed
  end)
  if not ok then
    undo_all(timeline, pool, undo)
    error(err, 0)
  end
  return err
end

-- The whole job ----------------------------------------------------------------------------------

-- Score and place; returns the placed items, or nil and the message (also printed).
function Scorecut.run(resolve, config, say)
  config = config or Scorecut.CONFIG
  say = say or function(text) print("Scorecut: " .. text) end
  local ok, placed = pcall(function()
    if resolve == nil then fail("this script runs inside DaVinci Resolve: Workspace > Scripts > Scorecut") end
    local v = Scorecut.version(resolve)
    local project = resolve:GetProjectManager():GetCurrentProject()
    if project == nil then fail("no project is open; open a project and a timeline first") end
    local timeline = project:GetCurrentTimeline()
    if timeline == nil then fail("the project has no open timeline; open one first") end
    local segment = Scorecut.read_segment(timeline, config.scope or "inout", v)
    local out_dir = Scorecut.stems_folder(project, config.stems_folder)
    say(string.format("scoring %s on %s (%d clips); the stems go to %s", segment.describe, segment.name,
      #segment.clips, out_dir))
    local result = Scorecut.run_job(segment, config, out_dir, say)
    local items = Scorecut.place(project, timeline, segment, result, v, config.replace_last ~= false)
    say(string.format("done: %d stems at %s, linked; the WAVs are in %s%s", #items,
      Scorecut.frames_to_tc(segment.first, segment.rate, segment.drop), result.folder, midi_words(result)))
    return items
  end)
  if ok then return placed end
  local message = type(placed) == "table" and placed.scorecut or tostring(placed)
  say(message)
  return nil, message
end

if SCORECUT_AS_LIBRARY then return Scorecut end
Scorecut.run(resolve or (Resolve and Resolve()) or (bmd and bmd.scriptapp and bmd.scriptapp("Resolve")))

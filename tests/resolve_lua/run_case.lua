--[[
Runs plugins/resolve/lua/Scorecut.lua against the Lua fake of Resolve, for tests/test_resolve_lua.py:
    luajit run_case.lua REPO CASE.lua OUT.json
CASE.lua returns {fake = <Fake.new spec>, config = <Scorecut.CONFIG>, again = <a second run's CONFIG or nil>};
OUT.json gets what a user
would see: the console lines, the error (if any), the audio tracks and their items.
]]

local repo, case_path, out_path = arg[1], arg[2], arg[3]
package.path = repo .. "/tests/resolve_lua/?.lua;" .. package.path
local Fake = require("fake_resolve")
SCORECUT_AS_LIBRARY = true
local Scorecut = dofile(repo .. "/plugins/resolve/lua/Scorecut.lua")

local case = dofile(case_path)
local fake = Fake.new(case.fake)
local console = {}
local placed, message = Scorecut.run(fake.resolve, case.config, function(text) console[#console + 1] = text end)
if case.again and placed then -- a second take, e.g. to replace the first one's tracks
  placed, message = Scorecut.run(fake.resolve, case.again, function(text) console[#console + 1] = text end)
end

local tracks = {}
for i, t in ipairs(fake.timeline.tracks.audio) do
  local items = {}
  for _, item in ipairs(t.items) do
    items[#items + 1] = { start = item.start, stop = item.stop, path = item.media.path, color = item.color or "",
                          linked = #(item.linked or {}) }
  end
  tracks[i] = { name = t.name, items = items }
end
local bins, take_clips = {}, {}
for _, f in ipairs(fake.project.pool.root.folders) do
  local sub = {}
  for _, s in ipairs(f.folders) do
    sub[#sub + 1] = s.name
    for _, c in ipairs(s.clips) do take_clips[#take_clips + 1] = c.path end
  end
  bins[#bins + 1] = { name = f.name, takes = sub }
end
local calls, imports = {}, 0
for _, c in ipairs(fake.calls) do
  calls[c] = true
  if c == "MediaPool.ImportMedia" then imports = imports + 1 end
end
local called = {}
for c in pairs(calls) do called[#called + 1] = c end
table.sort(called)

local out = assert(io.open(out_path, "w"))
out:write(Scorecut.json({ ok = placed ~= nil, error = message or "", console = console, tracks = tracks,
                          placed = placed and #placed or 0, start = fake.timeline.start, bins = bins, calls = called,
                          imports = imports, take_clips = take_clips }))
out:close()

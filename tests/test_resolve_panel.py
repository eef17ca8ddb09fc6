"""The Resolve panel's handlers, driven through a fake UIManager, against a real server."""

from __future__ import annotations

import time

import pytest
from resolve_ui_fake import Bmd, Fusion
from test_resolve import edit, media  # noqa: F401 - the shared videos fixture

from scorecut.plugins.resolve import ResolveScoreError
from scorecut.plugins.resolve.connect import Host, from_namespace
from scorecut.plugins.resolve.panel import open_panel, run_panel
from tests.helpers.servers import free_port


def pump(dispatcher, window, until, timeout_s: float = 90.0) -> list[str]:
    """Tick the UI timer until `until(items)`; returns every distinct Progress text seen."""
    items = window.GetItems()
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dispatcher.tick()
        text = items["Progress"].Text
        if not seen or seen[-1] != text:
            seen.append(text)
        if until(items):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"timed out; progress {seen}, error {items['Error'].Text!r}")


def panel(fake, address: str):
    host = Host(fake.resolve, Fusion(), Bmd())
    window, controller, dispatcher, timer = open_panel(host, address)
    assert timer.running and window.GetItems()["Cancel"].Enabled is False
    return window, controller, dispatcher


def test_score_shows_progress_and_places_ticked_stems(server, media, tmp_path):  # noqa: F811
    fake, timeline, lay = edit(media, "25")
    fake.manager.current.render_jobs.append({"JobId": "1", "TargetDir": str(tmp_path / "Deliveries")})
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    assert items["StemsFolder"].Text == str(tmp_path / "Deliveries" / "Scorecut Stems")  # beside the renders
    pump(dispatcher, window, lambda i: i["ServerStatus"].Text.startswith("Server ready"))
    assert items["Model"].CurrentText == "composer"
    items["Seed"].Text = "11"
    items["Melody"].Checked = False
    items["Scope"].choose("In/Out range")
    window.click("Score")
    assert items["Score"].Enabled is False and items["Cancel"].Enabled is True
    seen = pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    assert items["Error"].Text == ""
    assert len([s for s in seen if "%" in s]) >= 3, seen  # progress moved on the UI thread
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums", "bass", "harmony"]
    start = timeline.start + lay["mark_in"]
    for track in timeline.tracks["audio"][1:]:
        assert [(i.start, i.end) for i in track.items] == [(start, timeline.start + lay["mark_out"] + 1)]
    assert items["Score"].Enabled is True and items["Cancel"].Enabled is False
    assert len(controller.placed) == 3
    assert controller.job.out_dir == tmp_path / "Deliveries" / "Scorecut Stems"
    assert (controller.job.out_dir / controller.job.name / "drums.wav").is_file()
    # Again, into a folder the user typed, on the last take's tracks (Replace is ticked by default).
    items["StemsFolder"].Text = str(tmp_path / "mine")
    window.click("Score")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums", "bass", "harmony"]
    assert controller.job.out_dir == tmp_path / "mine" and all(len(t.items) == 1 for t in timeline.tracks["audio"][1:])


def test_cancel_stops_the_job_and_places_nothing(server, media, tmp_path):  # noqa: F811
    fake, timeline, _ = edit(media, "24")
    before = fake.snapshot()
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    items["StemsFolder"].Text = str(tmp_path)
    items["Seed"].Text = str(time.time_ns() % 100000)  # not in the server's result cache
    window.click("Score")
    window.click("Cancel")
    pump(dispatcher, window, lambda i: i["Progress"].Text == "Stopped.")
    assert "Cancelled" in items["Error"].Text
    assert fake.snapshot() == before
    assert items["Score"].Enabled is True and items["Cancel"].Enabled is False
    assert not any(controller.job.out_dir.glob(f"{controller.job.name}*"))


def test_errors_are_shown_in_words(media):  # noqa: F811
    fake, _, _ = edit(media, "24")
    before = fake.snapshot()
    address = f"127.0.0.1:{free_port()}"
    window, controller, dispatcher = panel(fake, address)
    items = window.GetItems()
    pump(dispatcher, window, lambda i: i["ServerStatus"].Text.startswith("Server not running"))
    window.click("Score")
    pump(dispatcher, window, lambda i: i["Error"].Text != "")
    assert "no Scorecut server answers" in items["Error"].Text and "scorecut serve" in items["Error"].Text
    for box in ("Drums", "Bass", "Harmony", "Melody"):
        items[box].Checked = False
    window.click("Score")
    assert "no stems are ticked" in items["Error"].Text
    items["Drums"].Checked = True
    items["Seed"].Text = "abc"
    window.click("Score")
    assert "not a whole number" in items["Error"].Text
    assert fake.snapshot() == before and items["Score"].Enabled is True


def test_run_panel_until_closed_and_inside_resolve_globals(media):  # noqa: F811
    fake, _, _ = edit(media, "24")
    fusion, bmd = Fusion(), Bmd()
    host = from_namespace({"resolve": fake.resolve, "fusion": fusion, "bmd": bmd})
    assert host.resolve is not None and host.fusion is fusion
    original = bmd.UIDispatcher

    def dispatcher_with_script(ui):
        dispatcher = original(ui)
        dispatcher.script = lambda d: d.windows[0].close()
        return dispatcher

    bmd.UIDispatcher = dispatcher_with_script
    controller = run_panel(host, f"127.0.0.1:{free_port()}")
    assert controller.worker is None
    assert from_namespace({}) is None


def test_a_late_answer_from_an_earlier_check_does_not_overwrite_the_latest(server, media):  # noqa: F811
    """The panel checks its default address on opening; the user types another and checks again.
    Whichever answers last, the status is the one of the address now in the field."""
    fake, _, _ = edit(media, "24")
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    pump(dispatcher, window, lambda i: not i["ServerStatus"].Text.startswith("Checking"))
    nowhere = f"127.0.0.1:{free_port()}"
    items["Server"].Text = nowhere
    window.click("Check")
    pump(dispatcher, window, lambda i: i["ServerStatus"].Text.startswith("Server not running"))
    controller._check(server.address, controller.checks - 1)  # the earlier check's answer, arriving late
    dispatcher.tick()
    assert items["ServerStatus"].Text.startswith("Server not running")
    controller.on_check()  # a new check of the same field still shows its own answer
    pump(dispatcher, window, lambda i: i["ServerStatus"].Text.startswith("Server not running"))


def test_free_resolve_without_ui_manager_is_sent_to_the_lua_script(media):  # noqa: F811
    fake, _, _ = edit(media, "24", version=(20, 2, 0))
    fusion = Fusion()
    fusion.UIManager = None  # free Resolve 19.1+: fusion.UIManager is None
    host = from_namespace({"resolve": fake.resolve, "fusion": fusion, "bmd": Bmd()})
    with pytest.raises(ResolveScoreError, match="Scorecut Free"):
        run_panel(host, f"127.0.0.1:{free_port()}")


def test_loop_tail_and_reroll_section_from_the_panel(server, media, tmp_path):  # noqa: F811
    import json

    import numpy as np

    from tests.helpers.wavcheck import read_wav

    fake, timeline, lay = edit(media, "25")  # In at frame 12: 2.56 s scored
    timeline.markers = {12 + 30: {"color": "Blue", "duration": 1, "note": "", "name": "section B", "customData": ""}}
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    items["StemsFolder"].Text = str(tmp_path)
    for box in ("Bass", "Harmony", "Melody"):
        items[box].Checked = False
    items["Seed"].Text = "3"
    items["Tail"].Text = "soon"
    window.click("Score")
    assert "the tail 'soon' is not a number of seconds" in items["Error"].Text
    items["Tail"].Text, items["Loop"].Checked = "1.5", True
    assert controller.options()[1]["tail_s"] == 1.5 and controller.options()[1]["loop"] is True
    items["Tail"].Text, items["Loop"].Checked = "", False
    assert "tail_s" not in controller.options()[1] and "loop" not in controller.options()[1]

    window.click("Score")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    timeline.playhead = 12 + 45  # 1.8 s into the take: its second section
    window.click("Reroll")
    assert items["Reroll"].Enabled is False and items["Cancel"].Enabled is True
    assert items["Progress"].Text.startswith("Re-rolling 1.20-")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    assert items["Error"].Text == "" and items["Reroll"].Enabled is True
    first, second = sorted(tmp_path.rglob("score.json"), key=lambda p: p.stat().st_mtime)
    take, rerolled = json.loads(first.read_text()), json.loads(second.read_text())
    start = rerolled["reroll"]["start_s"]
    assert (start, rerolled["reroll"]["end_s"]) == (1.2, take["sections"][-1]["end_s"])
    assert rerolled["reroll"]["seed"] == 4  # a seed after the take's
    a, rate = read_wav(first.parent / "drums.wav")[:2]
    b = read_wav(second.parent / "drums.wav")[0]
    assert np.array_equal(a[: int((start - 0.5) * rate)], b[: int((start - 0.5) * rate)])
    assert not np.array_equal(a, b)
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums"]  # over the take, on its track
    assert all(len(t.items) == 1 for t in timeline.tracks["audio"][1:])
    # Another press: yet another seed, the same section.
    window.click("Reroll")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    newest = max(tmp_path.rglob("score.json"), key=lambda p: p.stat().st_mtime)
    assert json.loads(newest.read_text())["reroll"]["seed"] == 5


def test_reroll_outside_the_take_is_refused_in_words(server, media, tmp_path):  # noqa: F811
    fake, timeline, _ = edit(media, "25")
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    items["StemsFolder"].Text = str(tmp_path)
    items["Seed"].Text = "3"
    timeline.playhead = 0  # before the In point
    window.click("Reroll")
    assert "put the playhead inside the take" in items["Error"].Text
    assert items["Reroll"].Enabled is True and items["Score"].Enabled is True


def test_a_take_with_a_tail_is_placed_with_its_ring_out(server, media, tmp_path):  # noqa: F811
    fake, timeline, lay = edit(media, "25")
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    items["StemsFolder"].Text = str(tmp_path)
    for box in ("Bass", "Harmony", "Melody"):
        items[box].Checked = False
    items["Seed"].Text, items["Tail"].Text = "3", "1"
    window.click("Score")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    assert items["Error"].Text == ""
    start = timeline.start + lay["mark_in"]
    end = timeline.start + lay["mark_out"] + 1 + 25  # the segment and 1 s of tail at 25 fps
    [item] = timeline.tracks["audio"][1].items
    assert (item.start, item.end) == (start, end)


def test_hit_marker_colour_chosen_in_the_panel_makes_markers_of_that_colour_hits(server, media, tmp_path):  # noqa: F811
    from scorecut.plugins.resolve import prepare

    fake, timeline, lay = edit(media, "25")  # In at frame 12: 2.56 s scored
    timeline.markers = {32: {"color": "Red", "duration": 1, "note": "", "name": "boom", "customData": ""},
                        52: {"color": "Blue", "duration": 1, "note": "", "name": "check grade", "customData": ""}}
    window, controller, dispatcher = panel(fake, server.address)
    items = window.GetItems()
    items["StemsFolder"].Text = str(tmp_path)
    assert items["HitColor"].CurrentText == "(by name only)"
    assert "hit_marker_color" not in controller.options()[1]
    _, options = controller.options()
    assert prepare(fake.resolve, "inout", server.address, **options).options.hits == ()
    items["HitColor"].choose("Red")
    scope, options = controller.options()
    assert options["hit_marker_color"] == "Red"
    job = prepare(fake.resolve, scope, server.address, **options)
    assert job.options.hits == ((0.8, "hit"),)  # the red marker, 20 frames after In at 25 fps; not the blue one

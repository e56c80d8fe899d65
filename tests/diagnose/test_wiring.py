"""The pins the loader configured against the board's wiring and the part's valid pins."""

from __future__ import annotations

from extflash.diagnose import wiring


def test_wrong_chip_select_pin(watched, faulty):
    session, watch = watched(faulty("WRONG_NCS", "NO_ID_CHECK"))
    session.driver.begin("program")
    rows = {r.signal: r for r in wiring.compare(watch.board)}
    ncs = rows["bk1_ncs"]
    assert not ncs.ok
    assert ncs.board_pin == "PB6" and ncs.board_pin_state == "in analog mode"
    assert ncs.loader_pins == ("PB10 (AF9)",)
    assert ncs.valid == ("PB6 (AF10)", "PB10 (AF9)", "PG6 (AF10)")
    assert all(rows[s].ok for s in ("clk", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3"))
    assert wiring.problems(watch.board) == [ncs.problem()]
    table = "\n".join(wiring.render(list(rows.values())))
    assert "BK1_NCS  PB6 AF10" in table and "<-" in table


def test_matching_loader(watched, faulty):
    session, watch = watched(faulty())
    session.driver.begin("program")
    assert wiring.problems(watch.board) == []
    assert {r.signal: r.loader_pins for r in wiring.compare(watch.board)}["clk"] == ("PB2 (AF9)",)

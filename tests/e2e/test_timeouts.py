"""A loader call that outlasts its timeout stops at the timeout, in virtual time, even while the
core spins on an automatic-polling QUADSPI (which skips ahead to the chip's next event)."""

from __future__ import annotations

from typing import Any

import pytest

from extflash import api, board
from extflash.errors import OperationError
from extflash.runner import DriverOptions, Timeouts


def test_mass_erase_longer_than_its_timeout_times_out_at_the_timeout(gen_loader: Any) -> None:
    brd = board.load("weact-h743")  # W25Q64JV: chip erase takes 20 s (typical)
    opts = DriverOptions(timeouts=Timeouts(mass_erase=5.0, mass_erase_per_mib=0.0))
    with api.open_session(gen_loader(brd).stldr, board=brd, options=opts) as s:
        with pytest.raises(OperationError, match=r"MassErase\(0x0\) did not return within 5 s"):
            s.erase()
        call = s.driver.calls[-1]
        assert call.function == "Init"  # MassErase never returned, so it was not recorded
        vb: Any = s.target.board  # type: ignore[attr-defined]
        elapsed = vb.machine.clock.now_fs / 1e15
        assert 5.0 <= elapsed < 5.5  # stopped at the deadline, not when the chip finished (20 s)

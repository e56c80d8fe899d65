"""The STM32 QUADSPI register front-end (H74x/H75x, F4, F7, L4, G4) over the command engine.

Registers follow RM0433 / the family SVDs (``peripherals.md`` §2). What is QUADSPI's own:

* the whole command lives in CCR, FMODE included (CCR[27:26]); DDRM makes address, alternate
  and data DTR together, the instruction stays STR (RM0433 "DDR mode");
* the start triggers (RM0433 §23.3.7, ``peripherals.md`` §2.4): a CCR write starts a command
  that needs neither an address nor software data; an AR write starts a command with an
  address and no software data; the first DR write starts an indirect write with a data phase;
* AR, CCR and DLR writes are ignored while BUSY (so the HAL's extra AR write after a
  CCR-triggered read is harmless); CR's TCEN, SSHIFT, DFM, FSEL, APMS and PMM too;
* dual-flash mode (DFM) and bank selection (FSEL);
* SIOO: the instruction is sent only with the first command after a CCR write.

The everything else (modes, FIFO, flags, time, wiring) is :class:`~.engine.CommandEngine`'s.
"""

from __future__ import annotations

from typing import Any

from extflash import mcu
from extflash.emu.clock import VirtualClock
from extflash.emu.native.quadspi_fast import NativeLayout
from extflash.emu.periph.engine import (
    ALL_ONES,
    BUSY,
    FMODE_MAPPED,
    FMODE_POLL,
    FMODE_READ,
    FMODE_WRITE,
    FTF,
    IRQ_ENABLE_BITS,
    IRQ_ENABLES,
    LINES,
    SMF,
    TCF,
    TEF,
    TOF,
    Bank,
    BankWire,
    CommandEngine,
    Layout,
    PinProbe,
    PinView,
    SoftWindow,
    Variant,
    WindowPort,
    WiringEvent,
)
from extflash.emu.regmodel import Access, Reg, fields
from extflash.emu.spi import SpiCommand

__all__ = [
    "ALL_ONES",
    "BUSY",
    "FMODE_MAPPED",
    "FMODE_POLL",
    "FMODE_READ",
    "FMODE_WRITE",
    "FTF",
    "IRQ_ENABLES",
    "IRQ_ENABLE_BITS",
    "SMF",
    "TCF",
    "TEF",
    "TOF",
    "Bank",
    "BankWire",
    "PinProbe",
    "PinView",
    "Quadspi",
    "SoftWindow",
    "Variant",
    "WindowPort",
    "WiringEvent",
    "registers",
    "variant_for",
]

CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR = range(0, 0x34, 4)
LAYOUT = Layout(CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR)

# CR fields that may only change while BUSY=0 (RM0433: TCEN, SSHIFT, DFM, FSEL, APMS, PMM).
CR_LOCKED = (1 << 3) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 22) | (1 << 23)
# CR fields whose change acts at once or changes what the native lane was told: EN, ABORT, DFM,
# FSEL (the chip), TEIE..TOIE, PRESCALER (the bus clock)
CR_ACTIVE = 1 | (1 << 1) | (1 << 6) | (1 << 7) | (0x1F << 16) | (0xFF << 24)
CCR_SIOO, CCR_DDRM = 1 << 28, 1 << 31


def variant_for(family_id: str, controller: str = "QUADSPI") -> Variant:
    """The family's QUADSPI facts from its data file (``[[controller]]``)."""
    spec = mcu.family(family_id).controller(controller)
    if spec is None or spec.kind != "quadspi":
        raise ValueError(f"no QUADSPI on family {family_id}")
    return Variant(family_id, spec.fifo_bytes, spec.flevel_width, spec.irq, spec.fthres_width)


def registers(variant: Variant) -> tuple[Reg, ...]:
    ro, w1c = Access.RO, Access.W1C
    return (
        Reg("CR", CR, fields=fields(
            ("EN", 0), ("ABORT", 1, 1, Access.SC), ("DMAEN", 2), ("TCEN", 3), ("SSHIFT", 4),
            ("DFM", 6), ("FSEL", 7), ("FTHRES", 8, 5), ("TEIE", 16), ("TCIE", 17), ("FTIE", 18),
            ("SMIE", 19), ("TOIE", 20), ("APMS", 22), ("PMM", 23), ("PRESCALER", 24, 8))),
        Reg("DCR", DCR, fields=fields(("CKMODE", 0), ("CSHT", 8, 3), ("FSIZE", 16, 5))),
        Reg("SR", SR, fields=fields(
            ("TEF", 0, 1, ro), ("TCF", 1, 1, ro), ("FTF", 2, 1, ro), ("SMF", 3, 1, ro),
            ("TOF", 4, 1, ro), ("BUSY", 5, 1, ro), ("FLEVEL", 8, variant.flevel_width, ro))),
        Reg("FCR", FCR, fields=fields(
            ("CTEF", 0, 1, w1c), ("CTCF", 1, 1, w1c), ("CSMF", 3, 1, w1c), ("CTOF", 4, 1, w1c))),
        Reg("DLR", DLR),
        Reg("CCR", CCR, fields=fields(
            ("INSTRUCTION", 0, 8), ("IMODE", 8, 2), ("ADMODE", 10, 2), ("ADSIZE", 12, 2),
            ("ABMODE", 14, 2), ("ABSIZE", 16, 2), ("DCYC", 18, 5), ("DMODE", 24, 2),
            ("FMODE", 26, 2), ("SIOO", 28), ("DHHC", 30), ("DDRM", 31))),
        Reg("AR", AR),
        Reg("ABR", ABR),
        Reg("DR", DR),
        Reg("PSMKR", PSMKR),
        Reg("PSMAR", PSMAR),
        Reg("PIR", PIR, fields=fields(("INTERVAL", 0, 16))),
        Reg("LPTR", LPTR, fields=fields(("TIMEOUT", 0, 16))),
    )


class Quadspi(CommandEngine):
    """QUADSPI register model driving up to two banks of SPI devices."""

    L = LAYOUT
    NATIVE = True
    COMMAND_REGISTERS = (CCR,)  # the whole command in CCR (RM0433 QUADSPI_CCR)

    def __init__(self, variant: Variant, clock: VirtualClock, *, base: int,
                 name: str = "QUADSPI", **options: Any) -> None:
        super().__init__(variant, registers(variant), clock, base=base, name=name, **options)

    def _native_layout(self) -> NativeLayout:
        """RM0433 QUADSPI: the whole command in CCR (FMODE CCR[27:26]), a CCR write starts a
        command without an address; DLR, CCR and AR writes are ignored while BUSY."""
        return NativeLayout(
            registers={"CR": CR, "DCR": DCR, "DLR": DLR, "CCR": CCR, "AR": AR, "ABR": ABR,
                       "PSMKR": PSMKR, "PSMAR": PSMAR, "PIR": PIR},
            sr=SR, fcr=FCR, dr=DR, start="CCR", locked=("DLR", "CCR", "AR"),
            cr_active=CR_ACTIVE, ccr_unplain=CCR_SIOO | CCR_DDRM, dual_bit=6,
            dlr_dual_odd=True, lines=LINES,
            fields={"FMODE": (CCR, 26, 2), "IMODE": (CCR, 8, 2), "INSTRUCTION": (CCR, 0, 8),
                    "ADMODE": (CCR, 10, 2), "ADSIZE": (CCR, 12, 2), "ABMODE": (CCR, 14, 2),
                    "DCYC": (CCR, 18, 5), "DMODE": (CCR, 24, 2), "CSHT": (DCR, 8, 3),
                    "FTHRES": (CR, 8, self.variant.fthres_width)})

    # -- register hooks -----------------------------------------------------------------------
    def on_write_CR(self, old: int, new: int) -> None:
        busy = self._busy()
        if busy and (old ^ new) & CR_LOCKED:
            self.values[CR] = (new & ~CR_LOCKED) | (old & CR_LOCKED)
        if new & 2:  # ABORT
            self._abort()
        elif old & 1 and not new & 1 and self._mapped:
            self._leave_mapped()  # EN=0 also ends memory-mapped mode
        self._irq_check()

    def on_write_DLR(self, old: int, new: int) -> None:
        if self._busy():
            self.values[DLR] = old
        elif self._dfm:
            self.values[DLR] = new | 1  # even byte counts in dual-flash mode

    def on_write_CCR(self, old: int, new: int) -> None:
        if self._busy():
            self.values[CCR] = old
            return
        self._sioo_sent = False
        fmode = (new >> 26) & 3
        if self._mapped and fmode != FMODE_MAPPED:
            self._leave_mapped()  # not busy yet (no window access): a new mode is taken as is
        if not self.values[CR] & 1:
            return
        if fmode == FMODE_MAPPED:
            self._enter_mapped()
        elif self._admode == 0 and not self._awaits_data:
            self._start(fmode, 0)

    # -- decoded fields -----------------------------------------------------------------------
    @property
    def _fmode(self) -> int:
        return (self.values[CCR] >> 26) & 3

    @property
    def _admode(self) -> int:
        return (self.values[CCR] >> 10) & 3

    @property
    def _dfm(self) -> bool:
        return bool(self.values[CR] & (1 << 6))

    @property
    def fsize_bytes(self) -> int:
        return 1 << (((self.values[DCR] >> 16) & 0x1F) + 1)

    @property
    def clk_hz(self) -> int:
        return self.kernel_hz() // (((self.values[CR] >> 24) & 0xFF) + 1)

    @property
    def _dmode(self) -> int:
        return (self.values[CCR] >> 24) & 3

    @property
    def _instruction_once(self) -> bool:
        return bool(self.values[CCR] & CCR_SIOO)

    @property
    def _csht_cycles(self) -> int:
        return ((self.values[DCR] >> 8) & 7) + 1

    # -- commands -----------------------------------------------------------------------------
    def _command(self, address: int, *, write_data: bytes = b"", read_length: int = 0,
                 ccr: int | None = None) -> SpiCommand:
        """The command CCR (the register's, or ``ccr``) describes."""
        if ccr is None:
            ccr = self.values[CCR]
        imode, admode, abmode, dmode = ccr >> 8 & 3, ccr >> 10 & 3, ccr >> 14 & 3, ccr >> 24 & 3
        instruction: int | None = ccr & 0xFF if imode else None
        if ccr & (1 << 28) and imode:  # SIOO: the instruction only on the first command
            if self._sioo_sent:
                instruction = None
            self._sioo_sent = True
        ab = ((ccr >> 16) & 3) + 1
        return SpiCommand(
            instruction=instruction,
            instruction_lines=LINES[imode] if instruction is not None else 0,
            address=address if admode else None,
            address_bytes=((ccr >> 12) & 3) + 1 if admode else 0,
            address_lines=LINES[admode],
            alternate=self.values[ABR] & ((1 << (8 * ab)) - 1) if abmode else None,
            alternate_bytes=ab if abmode else 0,
            alternate_lines=LINES[abmode],
            dummy_cycles=(ccr >> 18) & 0x1F,
            data_lines=LINES[dmode],
            ddr=bool(ccr >> 31),
            address_dtr=bool(ccr >> 31),  # DDRM: address, alternate and data phases DTR
            alternate_dtr=bool(ccr >> 31),
            write_data=write_data,
            read_length=read_length,
        )

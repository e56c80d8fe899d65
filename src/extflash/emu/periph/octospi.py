"""The OCTOSPI (L4+, L5, U5, H5, H7A/B, H72x/H73x) and XSPI (H7R/S) register front-ends.

Both decode their registers into one :class:`~extflash.emu.spi.SpiCommand` frame for the
shared :class:`~.engine.CommandEngine`; everything else (modes, FIFO, flags, time, wiring) is
the engine's. Registers and behaviour from RM0455/RM0468 (OCTOSPI chapter), RM0456 (U5),
RM0477 (XSPI) and ``peripherals.md`` §4 and §6:

* The command is spread over CCR (phase modes, sizes, per-phase DTR, DQSE, SIOO), TCR (dummy
  cycles), IR (a 1-4 byte instruction: ISIZE) and ABR; FMODE sits in **CR[29:28]**, not CCR.
  Memory-mapped writes use their own set WCCR/WTCR/WIR/WABR (RM0455 "memory-mapped mode":
  "the write operations use WCCR, WTCR, WIR and WABR").
* Start triggers (RM0455 "indirect mode"; ``peripherals.md`` §4.3): a CCR write never starts
  a command. An IR write starts one that needs no address and no software data; an AR write
  one that has an address and no software data; the first DR write an indirect write with a
  data phase. HAL_OSPI_Receive and HAL_OSPI_AutoPolling rely on re-writing AR (or IR) after
  setting FMODE.
* Memory-mapped mode starts when CR.FMODE becomes 11 with EN=1 (RM0455: "memory-mapped mode
  is entered when FMODE = 11"); leaving it takes ABORT or EN=0.
* CCR, TCR, IR, ABR, DLR, AR and the CR fields FMODE, TCEN, DQM/DMM, FSEL/CSSEL, APMS, PMM
  can change only while BUSY=0 (RM0455 register descriptions: "can be modified only when
  BUSY = 0"); writes while BUSY=1 are ignored.
* Clock: CLK = kernel clock / (DCR2.PRESCALER + 1); device size 2^(DCR1.DEVSIZE + 1) bytes;
  nCS high time DCR1.CSHT + 1 cycles.
* Dual-quad (DQM on H7/L4+/L5/H5, DMM on U5 and XSPI) pairs two quad memories like QUADSPI's
  dual-flash mode; otherwise FSEL (OCTOSPI) or CSSEL (XSPI) picks the chip select.

Not modelled (reported in the log when used): HyperBus (MTYP=100, HLCR), wrap reads
(WPCCR...), 16-line data (XSPI DMODE=101), XSPI MSEL lane selection (data always on IO[7:0]
or IO[3:0] of the port), the delay block and XSPI calibration (registers read back).
"""

from __future__ import annotations

import logging
from typing import Any

from extflash import mcu
from extflash.emu.clock import VirtualClock
from extflash.emu.flash.octal import swap_pairs
from extflash.emu.native.quadspi_fast import LaneRecord, NativeLayout
from extflash.emu.periph.engine import (
    FMODE_MAPPED,
    CommandEngine,
    Layout,
    Variant,
)
from extflash.emu.periph.frontstate import OCTOSPI_FIELDS
from extflash.emu.regmodel import Access, Reg, fields
from extflash.emu.spi import SpiCommand

log = logging.getLogger(__name__)

# Register offsets shared by OCTOSPI and XSPI (RM0455 / RM0477 register maps)
CR, DCR1, DCR2, DCR3, DCR4 = 0x000, 0x008, 0x00C, 0x010, 0x014
SR, FCR, DLR, AR, DR = 0x020, 0x024, 0x040, 0x048, 0x050
PSMKR, PSMAR, PIR = 0x080, 0x088, 0x090
CCR, TCR, IR, ABR, LPTR = 0x100, 0x108, 0x110, 0x120, 0x130
WPCCR, WPTCR, WPIR, WPABR = 0x140, 0x148, 0x150, 0x160
WCCR, WTCR, WIR, WABR = 0x180, 0x188, 0x190, 0x1A0
HLCR = 0x200
LAYOUT = Layout(CR, DCR1, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR)

# xMODE encodings: 000 none, 001 1 line, 010 2, 011 4, 100 8 (XSPI 101: 16 lines, not modelled)
LINES = (0, 1, 2, 4, 8, 0, 0, 0)
FMODE_SHIFT = 28
# CR fields writable only while BUSY=0: TCEN 3, DQM/DMM 6, FSEL 7, APMS 22, PMM 23, FMODE 29:28
CR_LOCKED = (1 << 3) | (1 << 6) | (1 << 7) | (1 << 22) | (1 << 23) | (3 << 28)
MTYP_HYPERBUS = 0b100
# Macronix and Macronix RAM: in 8-line DTR the memory sends and expects the bytes of each
# 16-bit word swapped (D1 before D0), and the controller swaps them back (RM0455 OCTOSPI_DCR1
# MTYP: "001: Macronix mode, D0/D1 order swapped in octal DTR"), so memory order is address order
MTYP_SWAPPED = (0b001, 0b011)
# CR fields whose change acts at once or changes what the native lane was told: EN, ABORT,
# DQM/DMM, FSEL (OCTOSPI) or CSSEL (XSPI) (the chip), TEIE..TOIE
CR_ACTIVE = 1 | (1 << 1) | (1 << 6) | (0x1F << 16)
FSEL, CSSEL = 1 << 7, 1 << 24
# CCR bits the native lane leaves to Python: IDTR, ISIZE, ADDTR, ABDTR, DDTR, DQSE, SIOO
CCR_UNPLAIN = (1 << 3) | (3 << 4) | (1 << 11) | (1 << 19) | (1 << 27) | (1 << 29) | (1 << 31)


def _ccr_fields(sioo: bool) -> tuple[Any, ...]:
    return fields(
        ("IMODE", 0, 3), ("IDTR", 3), ("ISIZE", 4, 2), ("ADMODE", 8, 3), ("ADDTR", 11),
        ("ADSIZE", 12, 2), ("ABMODE", 16, 3), ("ABDTR", 19), ("ABSIZE", 20, 2),
        ("DMODE", 24, 3), ("DDTR", 27), ("DQSE", 29), *((("SIOO", 31),) if sioo else ()))


def registers(variant: Variant, kind: str) -> tuple[Reg, ...]:
    """The register table of an OCTOSPI (``kind="octospi"``) or XSPI (``"xspi"``) instance."""
    ro, w1c = Access.RO, Access.W1C
    xspi = kind == "xspi"
    dual = ("DMM", 6) if xspi or variant.fthres_width > 5 else ("DQM", 6)
    cr_extra = (("CSSEL", 24), ("MSEL", 30, 2)) if xspi else (("FSEL", 7),)
    dcr1: tuple[tuple[str, int] | tuple[str, int, int], ...] = (
        ("CKMODE", 0), ("FRCK", 1), ("CSHT", 8, 6), ("DEVSIZE", 16, 5), ("MTYP", 24, 3))
    if not xspi:
        dcr1 = (*dcr1, ("DLYBYP", 3), ("CKCSHT", 4, 3))
    tcr = fields(("DCYC", 0, 5), ("DHQC", 28), ("SSHIFT", 30))
    return (
        Reg("CR", CR, fields=fields(
            ("EN", 0), ("ABORT", 1, 1, Access.SC), ("DMAEN", 2), ("TCEN", 3), dual,
            ("FTHRES", 8, variant.fthres_width), ("TEIE", 16), ("TCIE", 17), ("FTIE", 18),
            ("SMIE", 19), ("TOIE", 20), ("APMS", 22), ("PMM", 23), ("FMODE", 28, 2),
            *cr_extra)),
        Reg("DCR1", DCR1, fields=fields(*dcr1)),
        Reg("DCR2", DCR2, fields=fields(("PRESCALER", 0, 8), ("WRAPSIZE", 16, 3))),
        Reg("DCR3", DCR3, fields=fields(("MAXTRAN", 0, 8), ("CSBOUND", 16, 5))),
        Reg("DCR4", DCR4),
        Reg("SR", SR, fields=fields(
            ("TEF", 0, 1, ro), ("TCF", 1, 1, ro), ("FTF", 2, 1, ro), ("SMF", 3, 1, ro),
            ("TOF", 4, 1, ro), ("BUSY", 5, 1, ro), ("FLEVEL", 8, variant.flevel_width, ro))),
        Reg("FCR", FCR, fields=fields(
            ("CTEF", 0, 1, w1c), ("CTCF", 1, 1, w1c), ("CSMF", 3, 1, w1c), ("CTOF", 4, 1, w1c))),
        Reg("DLR", DLR),
        Reg("AR", AR),
        Reg("DR", DR),
        Reg("PSMKR", PSMKR),
        Reg("PSMAR", PSMAR),
        Reg("PIR", PIR, fields=fields(("INTERVAL", 0, 16))),
        Reg("CCR", CCR, fields=_ccr_fields(not xspi)),
        Reg("TCR", TCR, fields=tcr),
        Reg("IR", IR),
        Reg("ABR", ABR),
        Reg("LPTR", LPTR, fields=fields(("TIMEOUT", 0, 16))),
        Reg("WPCCR", WPCCR, fields=_ccr_fields(False)),
        Reg("WPTCR", WPTCR, fields=tcr),
        Reg("WPIR", WPIR),
        Reg("WPABR", WPABR),
        Reg("WCCR", WCCR, fields=_ccr_fields(False)),
        Reg("WTCR", WTCR, fields=fields(("DCYC", 0, 5))),
        Reg("WIR", WIR),
        Reg("WABR", WABR),
        Reg("HLCR", HLCR, fields=fields(("LM", 0), ("WZL", 1), ("TACC", 8, 8),
                                        ("TRWR", 16, 8))),
        *((Reg("CALFCR", 0x210, access=Access.RO), Reg("CALMR", 0x218), Reg("CALSOR", 0x220),
           Reg("CALSIR", 0x228)) if xspi else ()),
    )


def variant_for(family_id: str, controller: str) -> tuple[Variant, str]:
    """The family's facts for ``controller`` (``OCTOSPI1``, ``XSPI2``) and its kind."""
    spec = mcu.family(family_id).controller(controller)
    if spec is None or spec.kind not in ("octospi", "xspi"):
        raise ValueError(f"no {controller} on family {family_id}")
    variant = Variant(family_id, spec.fifo_bytes, spec.flevel_width, spec.irq,
                      spec.fthres_width)
    return variant, spec.kind


class Octospi(CommandEngine):
    """OCTOSPI or XSPI register model driving one or two chip selects (or a dual-quad pair)."""

    L = LAYOUT
    NATIVE = True
    FIELDS = OCTOSPI_FIELDS
    # a command's set-up ends with its instruction: the IR write is the start trigger of a
    # command without an address (RM0455 "indirect mode"), HAL_OSPI_Command writes it after
    # CCR and TCR
    COMMAND_REGISTERS = (IR,)
    COMMAND_CARRIES_MODE = False  # FMODE is in CR[29:28], set apart from the command

    def __init__(self, variant: Variant, clock: VirtualClock, *, base: int, name: str,
                 kind: str = "octospi", **options: Any) -> None:
        self.kind = kind
        super().__init__(variant, registers(variant, kind), clock, base=base, name=name,
                         **options)
        self._warned: set[str] = set()

    # -- the native fast path -------------------------------------------------------------------
    def _native_layout(self) -> NativeLayout:
        """RM0455/RM0477: FMODE in CR[29:28], the instruction in IR, dummy cycles in TCR; an IR
        write starts a command without an address (a CCR write never does); CCR, TCR, IR, ABR,
        DLR and AR writes are ignored while BUSY."""
        return NativeLayout(
            registers={"CR": CR, "DCR": DCR1, "DLR": DLR, "CCR": CCR, "AR": AR, "ABR": ABR,
                       "PSMKR": PSMKR, "PSMAR": PSMAR, "PIR": PIR, "TCR": TCR, "IR": IR,
                       "DCR2": DCR2, "DCR3": DCR3, "DCR4": DCR4, "WCCR": WCCR, "WTCR": WTCR,
                       "WIR": WIR, "WABR": WABR, "HLCR": HLCR},
            sr=SR, fcr=FCR, dr=DR, start="IR",
            locked=("DLR", "CCR", "AR", "ABR", "TCR", "IR"),
            cr_active=CR_ACTIVE | (CSSEL if self.kind == "xspi" else FSEL),
            ccr_unplain=CCR_UNPLAIN, dual_bit=6, dlr_dual_odd=False, lines=LINES,
            fields={"FMODE": (CR, FMODE_SHIFT, 2), "IMODE": (CCR, 0, 3),
                    "INSTRUCTION": (IR, 0, 8), "ADMODE": (CCR, 8, 3), "ADSIZE": (CCR, 12, 2),
                    "ABMODE": (CCR, 16, 3), "DCYC": (TCR, 0, 5), "DMODE": (CCR, 24, 3),
                    "CSHT": (DCR1, 8, 6), "FTHRES": (CR, 8, self.variant.fthres_width)})

    def _lane_allowed(self) -> bool:
        return (self.values[DCR1] >> 24) & 7 != MTYP_HYPERBUS  # HyperBus frames: the model

    def _logged_command(self, record: LaneRecord, address: int, write_data: bytes,
                        read_length: int) -> SpiCommand:
        return self._frame(record.ccr, record.tcr, record.ir, self.values[ABR], address,
                           write_data, read_length)

    # -- decoded fields -----------------------------------------------------------------------
    @property
    def _fmode(self) -> int:
        return (self.values[CR] >> FMODE_SHIFT) & 3

    @property
    def _admode(self) -> int:
        return LINES[(self.values[CCR] >> 8) & 7]

    @property
    def _dmode(self) -> int:
        return LINES[(self.values[CCR] >> 24) & 7]

    @property
    def _dfm(self) -> bool:
        return bool(self.values[CR] & (1 << 6))

    @property
    def _selected_bank(self) -> int:
        if self.kind == "xspi":
            return 2 if self.values[CR] & (1 << 24) else 1  # CSSEL: nCS1 or nCS2
        return 2 if self.values[CR] & (1 << 7) else 1  # FSEL

    @property
    def fsize_bytes(self) -> int:
        return 1 << (((self.values[DCR1] >> 16) & 0x1F) + 1)

    @property
    def clk_hz(self) -> int:
        return self.kernel_hz() // ((self.values[DCR2] & 0xFF) + 1)

    @property
    def _csht_cycles(self) -> int:
        return ((self.values[DCR1] >> 8) & 0x3F) + 1

    # -- the frame ------------------------------------------------------------------------------
    def _command(self, address: int, *, write_data: bytes = b"", read_length: int = 0,
                 ccr: int | None = None) -> SpiCommand:
        """The command CCR/TCR/IR/ABR describe."""
        values = self.values
        return self._frame(values[CCR] if ccr is None else ccr, values[TCR], values[IR],
                           values[ABR], address, write_data, read_length)

    def _mapped_write_frame(self, address: int, data: bytes) -> SpiCommand:
        values = self.values
        return self._frame(values[WCCR], values[WTCR], values[WIR], values[WABR], address,
                           data, 0)

    def _frame(self, ccr: int, tcr: int, ir: int, abr: int, address: int, write_data: bytes,
               read_length: int) -> SpiCommand:
        self._check_supported(ccr)
        imode, admode = LINES[ccr & 7], LINES[(ccr >> 8) & 7]
        abmode, dmode = LINES[(ccr >> 16) & 7], LINES[(ccr >> 24) & 7]
        isize = ((ccr >> 4) & 3) + 1
        instruction: int | None = ir & ((1 << (8 * isize)) - 1) if imode else None
        if self._sioo(ccr) and imode:
            # SIOO: the instruction only on the first command after a CCR write
            if self._sioo_sent:
                instruction = None
            self._sioo_sent = True
        ab = ((ccr >> 20) & 3) + 1
        return SpiCommand(
            instruction=instruction,
            instruction_lines=imode if instruction is not None else 0,
            instruction_bytes=isize,
            address=address if admode else None,
            address_bytes=((ccr >> 12) & 3) + 1 if admode else 0,
            address_lines=admode,
            alternate=abr & ((1 << (8 * ab)) - 1) if abmode else None,
            alternate_bytes=ab if abmode else 0,
            alternate_lines=abmode,
            dummy_cycles=tcr & 0x1F,
            data_lines=dmode,
            ddr=bool(ccr & (1 << 27)),
            instruction_dtr=bool(ccr & (1 << 3)),
            address_dtr=bool(ccr & (1 << 11)),
            alternate_dtr=bool(ccr & (1 << 19)),
            dqs=bool(ccr & (1 << 29)),
            write_data=write_data,
            read_length=read_length,
        )

    def _transfer(self, cmd: SpiCommand) -> bytes:
        swap = (cmd.ddr and cmd.data_lines == 8
                and (self.values[DCR1] >> 24) & 7 in MTYP_SWAPPED)
        if swap and cmd.write_data:
            cmd.write_data = swap_pairs(cmd.write_data)
        data = super()._transfer(cmd)
        return swap_pairs(data) if swap else data

    def _zero_copy_buffer(self, cmd: SpiCommand, size: int) -> tuple[bytearray, int] | None:
        """The chip array shows through the window as is only when, in 8-line DTR, the
        controller's byte order (DCR1.MTYP) is the chip's: a Macronix chip sends each 16-bit
        word D1 first and only MTYP=001/011 swaps it back (RM0455 OCTOSPI_DCR1 MTYP); a chip
        sending D0 first (Micron, Winbond) read with MTYP=Macronix comes out swapped."""
        if cmd.ddr and cmd.data_lines == 8:
            swaps = (self.values[DCR1] >> 24) & 7 in MTYP_SWAPPED
            for bank in self.banks.values():
                if bool(getattr(getattr(bank.device, "octal", None), "swapped", False)) != swaps:
                    return None
        return super()._zero_copy_buffer(cmd, size)

    def _window_read(self, offset: int, size: int) -> int:
        """An AHB read of the memory-mapped window. In 8-line DTR every clock carries two bytes,
        so a frame moves whole 16-bit words from an even address (the MX25LM51245G datasheet's
        8DTRD ignores A0; "8D reads must be even length at even addresses",
        octal-chips-and-kits.md §3): a byte or halfword at an odd address, or an odd size, is
        served from the enclosing even-aligned words, as an LDRB on the window of a kit does."""
        cmd = self._mapped_cmd
        if cmd is None or not (cmd.ddr and cmd.data_lines == 8) or not (offset | size) & 1:
            return super()._window_read(offset, size)
        start = offset & ~1
        words = super()._window_read(start, (offset + size - start + 1) & ~1)
        return (words >> (8 * (offset - start))) & ((1 << (8 * size)) - 1)

    def _sioo(self, ccr: int) -> bool:
        """CCR.SIOO: the instruction only on the first command after a CCR write (RM0455
        OCTOSPI_CCR bit 31; XSPI has no SIOO)."""
        return self.kind != "xspi" and bool(ccr & (1 << 31))

    @property
    def _instruction_once(self) -> bool:
        return self._sioo(self.values[CCR])

    def _check_supported(self, ccr: int) -> None:
        what = None
        if (self.values[DCR1] >> 24) & 7 == MTYP_HYPERBUS:
            what = "HyperBus (MTYP=100)"
        elif (ccr >> 24) & 7 == 0b101:
            what = "16-line data (DMODE=101)"
        if what is not None and what not in self._warned:
            self._warned.add(what)
            log.warning("%s: %s is not modelled; commands go out as plain SPI frames",
                        self.name, what)

    def _mapped_write_ccr(self) -> int | None:
        wccr = self.values[WCCR]
        return wccr if (wccr >> 24) & 7 else None

    # -- register hooks: start triggers and BUSY locks ------------------------------------------
    def on_write_CR(self, old: int, new: int) -> None:
        busy = self._busy()
        if busy and (old ^ new) & CR_LOCKED:
            self.values[CR] = new = (new & ~CR_LOCKED) | (old & CR_LOCKED)
        if new & 2:  # ABORT
            self._abort()
        elif old & 1 and not new & 1 and self._mapped:
            self._leave_mapped()  # EN=0 also ends memory-mapped mode
        elif self._mapped and (new >> FMODE_SHIFT) & 3 != FMODE_MAPPED:
            self._leave_mapped()  # not busy yet (no window access): FMODE changes freely
        elif new & 1 and (new >> FMODE_SHIFT) & 3 == FMODE_MAPPED and not self._mapped:
            self._enter_mapped()
        self._irq_check()

    def _locked(self, offset: int, old: int) -> bool:
        if self._busy():
            self.values[offset] = old
            return True
        return False

    def on_write_CCR(self, old: int, new: int) -> None:
        if not self._locked(CCR, old):
            self._sioo_sent = False

    def on_write_TCR(self, old: int, new: int) -> None:
        self._locked(TCR, old)

    def on_write_ABR(self, old: int, new: int) -> None:
        self._locked(ABR, old)

    def on_write_DLR(self, old: int, new: int) -> None:
        self._locked(DLR, old)

    def on_write_IR(self, old: int, new: int) -> None:
        if self._locked(IR, old) or not self.values[CR] & 1:
            return
        if self._fmode != FMODE_MAPPED and not self._admode and not self._awaits_data:
            self._start(self._fmode, 0)



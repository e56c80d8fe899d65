/* Native fast path of the external-memory controllers (extflash.emu.periph.engine): QUADSPI,
 * OCTOSPI and XSPI.
 *
 * The register map is not known here: the front-end fills in a layout descriptor (struct
 * lane_layout: the offsets of the registers, where each command field sits, which register's
 * write starts a command without an address (QUADSPI: CCR; OCTOSPI/XSPI: IR), the CR bits with
 * an immediate effect, the CCR bits the lane never runs, the line count of each phase-mode
 * encoding). Every decision below reads the registers through it.
 *
 * unicorn calls these two functions for every access to the controller's register page. They serve
 * the accesses that neither observe nor move virtual time nor involve the flash chip, from a
 * state the Python model publishes after each access it handles itself:
 *   IDLE  (no operation in progress) SR reads; 32-bit writes of DLR, PSMKR, PSMAR, PIR, ABR, of
 *         CCR and AR when the write starts no command (an indirect write waiting for its data),
 *         and of CR when only bits without immediate effect change; the first DR write of an
 *         indirect write, which starts it here (TX);
 *   TX    (an indirect write collecting its data) SR reads and DR writes (the beat that
 *         completes the transfer goes to Python, which sends the command to the chip);
 *   RX    (an indirect read whose bus time is over) SR and DR reads, the beat that drains the
 *         last bytes ending the operation (TCF, IDLE);
 *   RXT   (lane: an indirect read Python or the lane started, still on the bus) the same, and
 *         SR reads that wait for the data as CommandEngine._read_sr does (to the full FIFO
 *         while nothing was read, else to the end of the transfer; the last beat only once it
 *         is over);
 * and in all three: reads of the control registers, FCR flag clears (not RX, no interrupt
 * enabled) and writes of PSMKR/PSMAR/PIR, and of ABR where the front-end does not lock it while
 * busy. (On OCTOSPI/XSPI read "CCR" as CCR/TCR/IR and "CCR write starts" as "IR write starts".) Writes that set reserved bits, byte and halfword
 * writes of control registers, every other access, and an SR read repeating the previous ones
 * more than QUIET_SR_READS times (a polling loop the machine must see) go to the Python
 * callbacks. The Python model absorbs what was served here before it handles an access, so both
 * paths give identical results.
 *
 * A write Python must handle that only starts a command (CCR or AR in IDLE, the beat completing
 * an indirect write) is deferred when no interrupt is enabled: it waits, stamped with unicorn's
 * instruction counter, and Python handles it at that instruction together with the next access
 * that goes to Python (or before the machine next moves time), one hand-off instead of two.
 *
 * The command lane: when the model publishes the facts of the chip behind the selected bank
 * (lane = 1; see Quadspi._lane_facts for when), whole commands run here too: write enable,
 * page program (the last DR beat), sector and block erases (the AR write), automatic polling
 * of status register 1 and indirect reads of
 * the array (the AR write; the data straight from the chip's array), and in the octal states,
 * where it decodes no frame itself, the write enables, status reads, page programs and erases
 * the model proved (struct lane_frame), with the controller's bus time,
 * the chip's program time and the polling skips the Python model makes (_read_sr), from the
 * instruction counter and the time base Python published. Each command is logged (a ring of
 * the last LOG_SIZE, as the chip keeps); Python takes the log, the chip state and the time
 * that passed here over before it handles anything (lane_dirty is drained by the
 * machine before it moves time). Whatever the lane cannot prove identical to the Python model
 * (another opcode, other phases, a busy chip, a scheduled event in the way) goes to Python.
 * One scheduled event may be passed: a SysTick tick that pends its exception. A polling skip
 * lets time run over it as Python's would, and stops the core after the access as the pending
 * exception would; Python then takes only the time over (the tick fires on it) and the lane
 * keeps its state across the exception (woke, Quadspi._lane_drain).
 *
 * The struct layout is mirrored by QuadspiFastState in quadspi_fast.py. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { MODE_FORWARD, MODE_IDLE, MODE_TX, MODE_RX, MODE_CMD, MODE_POLL, MODE_RXT, MODE_OFF,
       MODE_MAPPED };
/* MODE_OFF: the controller's bus clock is off, nothing in progress: its registers read 0 and
 * writes change nothing, as in the model (CommandEngine._read/_write, docs/boards.md "RCC"); a
 * HAL OSPIM set-up reads and writes the other instance's CR at every Init */
/* MODE_MAPPED: memory-mapped mode without the timeout counter (its SR changes only at a window
 * access or a register write, both Python's): register and SR reads are served here, DR and
 * every write go to Python (a write may end the mode: ABORT, EN, FMODE). A loader's Init reads
 * CR (and QUADSPI's CCR) and SR before it aborts the mode its last call left. */
/* MODE_CMD: a command without data to receive is on the bus until done_fs (lane);
 * MODE_POLL: automatic status polling (lane);
 * MODE_RXT: an indirect read whose bus time is not over: on the bus until
 * done_fs, stalled at stall_fs while software has read nothing (lane). */
/* Registers whose values the model publishes (reads are served from them) and, except CR and
 * DCR with their restrictions and the configuration after IR, that writes here may change.
 * Order mirrored in Python. */
enum { REG_CR, REG_DCR, REG_DLR, REG_CCR, REG_AR, REG_ABR, REG_PSMKR, REG_PSMAR, REG_PIR,
       REG_TCR, REG_IR,
       /* configuration the lane only reads back (OCTOSPI/XSPI): a write is Python's */
       REG_DCR2, REG_DCR3, REG_DCR4, REG_WCCR, REG_WTCR, REG_WIR, REG_WABR, REG_HLCR, REG_COUNT };
#define SLOT_TABLE 256u    /* the register block's words (0x000-0x3FC) find_reg looks up */
#define NO_REGISTER 0xFFFFFFFFu     /* layout offset of a register the front-end has not */

/* Command fields the layout places (register slot, shift, width). */
enum { F_FMODE, F_IMODE, F_INSTRUCTION, F_ADMODE, F_ADSIZE, F_ABMODE, F_DCYC, F_DMODE, F_CSHT,
       F_FTHRES, F_COUNT };

struct field_at {
    uint8_t slot, shift, width, pad;
};

/* What the front-end tells about its registers (published once; mirrored in Python). */
struct lane_layout {
    uint32_t offset[REG_COUNT];     /* NO_REGISTER: none */
    uint32_t reserved[REG_COUNT];   /* bits a write must leave clear (else Python reports it) */
    uint32_t sr, fcr, dr;
    uint32_t start_slot;    /* the register whose write starts a command without an address */
    uint32_t locked;        /* bit i: writes of reg[i] are ignored while busy */
    uint32_t cr_active;     /* CR bits whose change has an immediate effect: Python */
    uint32_t ccr_unplain;   /* CCR bits the lane never runs (SIOO, DTR, DQS, ISIZE) */
    uint32_t dual_bit;      /* CR: dual-flash (QUADSPI DFM, OCTOSPI DQM, XSPI DMM) */
    uint32_t dlr_dual_odd;  /* a DLR write in dual-flash mode sets bit 0 (QUADSPI) */
    uint8_t lines[8];       /* phase-mode encoding -> lines (0: no phase) */
    struct field_at field[F_COUNT];
    int8_t slot_at[SLOT_TABLE]; /* register word (offset / 4) -> its slot in reg[] (-1: none) */
};

/* SR and FCR bits are the same on QUADSPI (RM0433), OCTOSPI (RM0455) and XSPI (RM0477) */
#define SR_TCF    (1u << 1)
#define SR_FTF    (1u << 2)
#define SR_BUSY   (1u << 5)
#define FCR_FLAGS 0x1Bu                     /* CTEF CTCF CSMF CTOF */
#define FMODE_WRITE  0u
#define FMODE_READ   1u
#define FMODE_MAPPED 3u
#define ALL_ONES     0xFFFFFFFFu

#define FLAG_IRQ  4u    /* an interrupt is enabled: flag changes go through Python */
#define FLAG_MAPPED_BUSY 8u /* MODE_MAPPED: a window access set BUSY (it stays: no timeout) */
#define CR_EN     1u

#define QUIET_SR_READS 3u   /* identical SR reads in a row served before Python sees them */

#define LOG_SIZE     512u   /* lane records Python takes at most (the chip's event history) */
#define LOG_RING     520u   /* slots: a status read not served may write one it never keeps */
#define LOG_PAGE     512u   /* program data kept per program: the largest page the lane runs */
#define MAX_PROGRAMS 8u
#define MAX_READS    16u
#define MAX_ERASES   8u
#define MAX_REG_READS 8u
#define REG_RX       64u    /* the longest register read the lane answers (DLR + 1) */
#define FS_PER_S     1000000000000000ull
#define NEVER        UINT64_MAX
#define SR1_WIP      0x01u
#define SR1_WEL      0x02u
#define CR_APMS      (1u << 22)
#define CR_PMM       (1u << 23)
#define FMODE_POLL   2u
#define OP_WREN      0x06u
#define OP_WRDI      0x04u

enum { REC_WREN = 1, REC_POLL, REC_PROGRAM, REC_READ, REC_ERASE, REC_WRDI, REC_RSTEN,
       REC_REFUSED };
enum { OP_PROGRAM = 1, OP_ERASE };  /* op_started: what the chip's operation is */

struct lane_record {
    uint64_t time_fs;
    uint32_t kind;
    uint32_t ccr;
    uint32_t address;   /* as sent (program) */
    uint32_t length;    /* status bytes read (poll), data bytes (program) */
    uint32_t status;    /* what the poll read */
    uint32_t tcr;       /* the rest of the frame's registers (0 where the front-end has none) */
    uint32_t ir;
    uint32_t data_at;   /* program: data_count when it was kept (low 32 bits; its data slot) */
};

struct lane_program {   /* a program opcode and the phases the chip expects with it */
    uint8_t opcode, address_bytes, address_lines, data_lines;
};

struct lane_read {      /* an array read and the phases with which the chip returns the array */
    uint8_t opcode, address_bytes, address_lines, wait_clocks, data_lines, pad[3];
};

struct lane_reg_read {  /* a register read the chip answers with value repeated (no address) */
    uint8_t opcode, length, sr1, pad;   /* sr1: status register 1 (one byte), composed here */
    uint8_t value[4];
};

struct lane_erase {     /* a sector/block erase opcode, the address it expects, what it erases */
    uint8_t opcode, address_bytes, address_lines, pad;
    uint32_t size;
    uint64_t erase_fs;  /* its erase time (0: instant) */
};

/* A frame the lane cannot decode itself (8 lines, DTR phases, a 2-byte instruction: the octal
 * states) that the Python model ran in the chip's present mode and at the present clock, and
 * proved to be a write enable, a status-register-1 read that returns SR1 in every byte, a
 * page program of DLR + 1 bytes or a sector/block erase of `size` bytes busy for op_fs
 * (CommandEngine._learn_frame, _learn_program, _learn_erase). The lane runs it again when the
 * frame's registers are the same to the bit (DLR aside for a write enable or an erase, AR
 * aside but for a poll's); its bus time is the model's. */
enum { FRAME_WREN = 1, FRAME_POLL, FRAME_PROGRAM, FRAME_ERASE, FRAME_WRDI, FRAME_RSTEN,
       FRAME_REFUSED };
#define MAX_FRAMES 12u
#define MAX_LANE_ACC 8u     /* accesses in one turn (turns_fast.c's MAX_ACC) */
#define SWAP_BUS   1u   /* FRAME_PROGRAM: the controller swaps each byte pair onto the bus */
#define SWAP_ARRAY 2u   /* and the chip swaps each pair from the bus into its array */

struct lane_frame {
    uint32_t kind, ccr, tcr, ir, dcr;
    uint32_t dlr;       /* polls and programs: the data bytes less one */
    uint32_t ar;        /* polls with an address phase: the address */
    uint32_t swaps;     /* programs: SWAP_* */
    uint64_t bus_fs;    /* the command's bus time (FRAME_POLL: one status read's) */
    uint32_t size;      /* erases: the bytes erased (aligned to their size) */
    uint32_t pad;
    uint64_t op_fs;     /* erases: the chip's erase time */
};

typedef uint64_t (*read_fn)(void *uc, uint64_t offset, unsigned size, void *user);
typedef void (*write_fn)(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user);

struct qspi_fast {
    /* published by Python after every access it handles (some updated here too) */
    uint32_t mode;
    uint32_t sticky;    /* TEF/TCF/SMF/TOF (FCR clears them here; RX may set TCF) */
    uint32_t fsize;     /* flash size in bytes (DCR.FSIZE) */
    uint32_t fifo;      /* RX: FIFO depth in bytes */
    uint32_t limit;     /* TX: serve a beat while fill + size < limit */
    uint32_t pos;       /* RX: bytes of rx already read */
    uint32_t len;       /* RX: bytes in rx */
    uint32_t flags;     /* FLAG_IRQ */
    uint32_t reg[REG_COUNT];
    uint32_t sr_run;    /* identical SR reads in a row, the last one sr_last (0: other access) */
    uint64_t sr_last;   /* size << 40 | offset << 32 | value */
    /* kept here, cleared by every publish (fill: set again by a prefill) */
    uint32_t fill;      /* TX: bytes in buf (those of the transfer Python held at the publish,
                         * put back there by NativeQuadspi.prefill, then those captured here) */
    uint32_t dirty;     /* something was served here since the last publish */
    uint32_t written;   /* bit i: reg[i] was written here since the last publish */
    uint32_t started;   /* an indirect write was started here (IDLE -> TX) */
    uint64_t beats;     /* DR accesses served here (data moving: not idle) */
    uint8_t *buf;       /* TX capture buffer */
    const uint8_t *rx;  /* RX data (the Python bytes object, kept alive by the model) */
    read_fn slow_read;
    write_fn slow_write;
    /* deferral: a write that starts a command goes to Python together with the next access
     * that needs Python (or the machine's next time sync), replayed at its own instruction */
    const volatile uint64_t *counter;   /* unicorn's instruction counter (NULL: never defer) */
    uint32_t pending;   /* a write is waiting: every access goes to Python */
    uint32_t pend_size;
    uint64_t pend_offset;
    uint64_t pend_value;
    uint64_t pend_count;    /* the counter at the write */
    /* lane facts, published by Python */
    uint32_t lane;          /* 1: commands may run here */
    uint32_t time_valid;    /* base_fs/base_count describe the running slice */
    uint64_t base_fs;       /* virtual time at instruction base_count of the slice */
    uint64_t base_count;
    uint64_t fs_per_cycle;
    uint64_t event_fs;      /* the machine's next scheduled event (NEVER: none) */
    uint64_t limit_fs;      /* polling skips stop here (the call's deadline; NEVER: none) */
    uint64_t clk_hz;        /* the QUADSPI clock */
    uint32_t chip_lines;    /* the chip's instruction (and status) lines: 1, or 4 in QPI */
    uint32_t sr1_opcode;
    uint32_t sr1_rest;      /* status register 1 without WIP and WEL */
    uint32_t rsten_opcode;  /* the reset-enable opcode the lane sends as the chip takes it in SPI
                             * or QPI (0: none); the reset itself is the model's */
    uint32_t page_size;     /* 0: programs go to Python */
    uint32_t chip_size;
    uint32_t ear;           /* extended address register (3-byte addresses) */
    uint32_t prot_lo, prot_hi;  /* block-protected range (empty: lo == hi) */
    uint64_t program_fs;    /* page program time */
    uint32_t n_programs;
    struct lane_program programs[MAX_PROGRAMS];
    uint32_t n_reads;
    struct lane_read reads[MAX_READS];
    uint32_t n_frames;
    struct lane_frame frames[MAX_FRAMES];
    uint32_t n_erases;
    struct lane_erase erases[MAX_ERASES];
    uint32_t n_reg_reads;
    struct lane_reg_read reg_reads[MAX_REG_READS];
    uint8_t *memory;        /* the chip's array */
    struct lane_record *log;
    uint8_t *log_data;      /* LOG_RING x LOG_PAGE: the programs' data, a ring of its own (a
                             * take copies only the programs' pages, not a page per record) */
    /* lane state: published by Python, changed here, taken back by Python */
    uint32_t wel;
    uint32_t op_started;    /* OP_*: an operation was started here (its range: op_page, op_end) */
    uint64_t busy_until;    /* the chip is busy until then (0: idle); its end is ours: Python
                             * leaves the chip's own end-of-busy event out of event_fs */
    uint64_t done_fs;       /* MODE_CMD, MODE_RXT: end of the command on the bus */
    uint64_t stall_fs;      /* MODE_RXT: the FIFO is full then until software reads DR */
    uint64_t poll_next_fs;  /* MODE_POLL */
    uint64_t poll_interval_fs;
    uint32_t poll_ftf;
    uint32_t last_status;
    uint64_t skip_fs;       /* time let pass here beyond the instruction counter */
    uint64_t skip_cycles;   /* the cycles that time counts (as the clock counts them) */
    uint64_t log_count;     /* records written since the lane was set up */
    uint64_t data_count;    /* programs' data kept since then */
    uint32_t lane_dirty;    /* time passed or the chip changed here: Python must take over */
    uint32_t commands;      /* commands sent here since the last take-over */
    uint32_t wrens;         /* write enables among them */
    uint32_t polls;         /* status polls among them */
    uint32_t cmd_length;    /* MODE_CMD: data bytes the command sent (0: write enable) */
    uint32_t op_page;       /* op_started: the page programmed, the first byte erased */
    uint32_t op_end;        /* and the end of that range */
    uint32_t changed_lo, changed_hi;    /* array bytes programmed or erased here (lo == hi: none) */
    uint32_t read_started;  /* an indirect read was started here (its data: memory + read_at;
                             * READ_REGISTER: reg_rx) */
    uint32_t read_at;
    /* passing a SysTick tick: when event_fs is a tick that pends its exception (wakes), a
     * polling skip may pass it (not event2_fs, the event after it) as Python's skip would; the
     * pending exception stops the core after the access, so the lane lowers unicorn's
     * instruction limit (NULL: never pass an event) and raises woke: Python then takes only the
     * time over (the tick fires on it) and the lane keeps its state across the exception */
    uint64_t event2_fs;
    uint32_t wakes;
    uint32_t woke;
    volatile uint64_t *insn_limit;
    /* a look at the data loop (extflash/emu/turns.py): an indirect write of at least this many
     * bytes started here stops the core after the access, once (0: none). A loader without
     * SysTick has no tick to stop it in its data loop, and the summary needs a stop there. */
    uint32_t look_stop;
    /* the running slice's end in time, when MAX_SLICE (not an event) sets its instruction
     * budget (capped): time the lane lets pass then does not count against that budget, the
     * slice only must not pass its end (Machine._time_skipped) */
    uint64_t slice_end_fs;
    uint32_t capped;
    /* the machine's TLB (pages_fast.c; NULL: none): tended at every AR write (a page program,
     * an erase, a read), so the loader's own stores take unicorn's inline path */
    void (*tlb_tend)(void *view);
    void *tlb_view;
    uint8_t reg_rx[REG_RX];     /* a register read's data (read_started READ_REGISTER) */
    struct lane_layout layout;
};

#define READ_ARRAY 1u
#define READ_REGISTER 2u

#define TX_CAPACITY (64u * 1024u)

static uint32_t lane_mask(unsigned size)
{
    return size >= 4u ? 0xFFFFFFFFu : (1u << (8u * size)) - 1u;
}

/* A command field as the layout places it. */
static uint32_t fld(const struct qspi_fast *s, unsigned f)
{
    const struct field_at *at = &s->layout.field[f];
    return (s->reg[at->slot] >> at->shift) & ((1u << at->width) - 1u);
}

/* The lines of a phase (0: no phase), through the front-end's encoding table. */
static uint32_t lines(const struct qspi_fast *s, unsigned f)
{
    return s->layout.lines[fld(s, f) & 7u];
}

static uint32_t fmode(const struct qspi_fast *s) { return fld(s, F_FMODE); }
static int enabled(const struct qspi_fast *s) { return s->reg[REG_CR] & 1u; }
static int dual_flash(const struct qspi_fast *s)
{
    return (s->reg[REG_CR] >> s->layout.dual_bit) & 1u;
}

/* An indirect write with a data phase: it waits for its first DR write instead of starting on
 * the start register's or AR's write. */
static int software_data(const struct qspi_fast *s)
{
    return fmode(s) == FMODE_WRITE && lines(s, F_DMODE) != 0u;
}

/* Would the write of the start register (CCR or IR) start a command or memory-mapped mode, with
 * the registers as they are (the written value in place)? */
static int start_register_starts(const struct qspi_fast *s)
{
    return enabled(s) && (fmode(s) == FMODE_MAPPED
                          || (lines(s, F_ADMODE) == 0u && !software_data(s)));
}

/* The same for AR (memory-mapped mode ignores AR writes: Python). */
static int address_starts(const struct qspi_fast *s)
{
    return fmode(s) == FMODE_MAPPED
           || (enabled(s) && lines(s, F_ADMODE) != 0u && !software_data(s));
}

/* Every register access asks (a search of the offsets was a tenth of qspi_fast_write's time). */
static int find_reg(const struct qspi_fast *s, uint32_t word)
{
    return word < 4u * SLOT_TABLE ? s->layout.slot_at[word >> 2] : -1;
}

/* SR without an operation: an indirect write mode shows FTF (the FIFO is empty, so free space
 * is above any threshold). */
static uint32_t idle_status(const struct qspi_fast *s)
{
    return s->sticky | (fmode(s) == FMODE_WRITE ? SR_FTF : 0u);
}

/* SR in memory-mapped mode (CommandEngine._sr_value): BUSY from the first window access on. */
static uint32_t mapped_status(const struct qspi_fast *s)
{
    return s->sticky | ((s->flags & FLAG_MAPPED_BUSY) ? SR_BUSY : 0u);
}

/* SR during an indirect read, as it stands (CommandEngine._sr_value): the FIFO level, FTF at
 * the threshold or with TCF and bytes left; TCF as the sticky flags hold it. */
static uint32_t rx_value_at(const struct qspi_fast *s, uint32_t pos, uint32_t sticky)
{
    uint32_t left = s->len - pos;
    uint32_t level = left < s->fifo ? left : s->fifo;
    uint32_t value = sticky | SR_BUSY | level << 8;
    if (level >= fld(s, F_FTHRES) + 1u || ((value & SR_TCF) && level))
        value |= SR_FTF;
    return value;
}

static uint32_t rx_value(const struct qspi_fast *s)
{
    return rx_value_at(s, s->pos, s->sticky);
}

/* SR during an indirect read whose bus time is over, read at byte pos with the sticky flags
 * *sticky: TCF once the rest sits in the FIFO (raised in *sticky). */
static uint32_t rx_status_at(const struct qspi_fast *s, uint32_t pos, uint32_t *sticky)
{
    if (s->len - pos <= s->fifo)
        *sticky |= SR_TCF;    /* the transfer is over and the rest sits in the FIFO */
    return rx_value_at(s, pos, *sticky);
}

static uint32_t rx_status(struct qspi_fast *s)
{
    return rx_status_at(s, s->pos, &s->sticky);
}

/* SR during an indirect write collecting its data: the FIFO takes more. */
static uint32_t tx_status(const struct qspi_fast *s)
{
    return s->sticky | SR_BUSY | SR_FTF;
}


/* ---- the command lane ------------------------------------------------------------------- */

/* Lane commands may run, and time can be told, at this access. */
static int lane_ready(const struct qspi_fast *s)
{
    return s->lane && s->time_valid && s->counter && !(s->flags & FLAG_IRQ)
           && *s->counter >= s->base_count;
}

/* Virtual time now: the published base, the instructions since, and what passed here. The
 * machine's next event bounds it (a slice never runs past one; the skips here stop short). */
static uint64_t lane_now(const struct qspi_fast *s)
{
    return s->base_fs + (*s->counter - s->base_count) * s->fs_per_cycle + s->skip_fs;
}

/* Let time pass as VirtualClock.advance_fs does (its cycles counted per step). */
static void lane_pass(struct qspi_fast *s, uint64_t fs)
{
    s->skip_fs += fs;
    s->skip_cycles += fs / s->fs_per_cycle;
    s->lane_dirty = 1;
}

/* Machine._time_skipped: cycles passed here without instructions; the running slice still
 * ends where it was planned to in time, so as many fewer instructions run in it. */
static void lower_limit(struct qspi_fast *s, uint64_t cycles)
{
    if (!s->insn_limit || !cycles)
        return;
    uint64_t counter = *s->counter, limit = *s->insn_limit;
    if (s->capped) {
        uint64_t now = lane_now(s), end = s->slice_end_fs;
        uint64_t room = end > now ? (end - now + s->fs_per_cycle - 1u) / s->fs_per_cycle : 0u;
        if (limit > counter + room)
            *s->insn_limit = counter + room;
        return;
    }
    *s->insn_limit = limit > counter + cycles ? limit - cycles : counter;
}

/* NorFlash._settle: the chip's operation ends at busy_until. */
static void chip_settle(struct qspi_fast *s, uint64_t now)
{
    if (s->busy_until && now >= s->busy_until) {
        s->busy_until = 0;
        s->wel = 0;
        s->lane_dirty = 1;
    }
}

static uint32_t chip_status(struct qspi_fast *s, uint64_t now)
{
    chip_settle(s, now);
    return s->sr1_rest | (s->busy_until ? SR1_WIP : 0u) | (s->wel ? SR1_WEL : 0u);
}

/* CommandEngine._duration_fs for the command the registers describe (STR, one-byte
 * instruction, no alternate bytes: what plain_phases lets on the lane). In whole clocks, which
 * is exact for STR phases on 1, 2 or 4 lines. */
static uint64_t bus_fs(const struct qspi_fast *s, uint32_t data_bytes)
{
    uint32_t il = lines(s, F_IMODE), al = lines(s, F_ADMODE), dl = lines(s, F_DMODE);
    uint64_t cycles = fld(s, F_DCYC) + fld(s, F_CSHT) + 1u;
    if (il)
        cycles += 8u / il;
    if (al)
        cycles += 8u * (fld(s, F_ADSIZE) + 1u) / al;
    if (dl)
        cycles += 8ull * data_bytes / dl;
    return (uint64_t)((unsigned __int128)cycles * FS_PER_S / (s->clk_hz ? s->clk_hz : 1u));
}

/* An opcode the chip samples as sent: one byte on its instruction lines (1 or 4), no SIOO,
 * DTR, DQS or alternate bytes, no phase on 8 lines (what the lane leaves to Python). */
static int plain_phases(const struct qspi_fast *s)
{
    uint32_t il = lines(s, F_IMODE);
    return il && il == s->chip_lines && il <= 4u && !(s->reg[REG_CCR] & s->layout.ccr_unplain)
           && lines(s, F_ABMODE) == 0u && lines(s, F_ADMODE) <= 4u && lines(s, F_DMODE) <= 4u;
}

/* A status-register-1 read the chip answers with SR1 repeated from the first data clock. */
static int status_read(const struct qspi_fast *s)
{
    return s->sr1_opcode && plain_phases(s) && fld(s, F_INSTRUCTION) == s->sr1_opcode
           && lines(s, F_ADMODE) == 0u && fld(s, F_DCYC) == 0u
           && lines(s, F_DMODE) == s->chip_lines;
}

static struct lane_record *lane_log(struct qspi_fast *s, uint32_t kind, uint64_t now)
{
    struct lane_record *r = &s->log[s->log_count % LOG_RING];
    r->time_fs = now;
    r->kind = kind;
    r->ccr = s->reg[REG_CCR];
    r->tcr = s->reg[REG_TCR];
    r->ir = s->reg[REG_IR];
    r->address = 0;
    r->length = 0;
    r->status = 0;
    s->log_count++;
    s->commands++;
    s->lane_dirty = 1;
    return r;
}

/* CommandEngine._poll: one automatic status read at ``now``. */
static void lane_poll(struct qspi_fast *s, uint64_t now)
{
    uint64_t ticks = (now - s->poll_next_fs) / s->poll_interval_fs;
    uint64_t tick = s->poll_next_fs + ticks * s->poll_interval_fs;
    uint32_t n = (s->reg[REG_DLR] & 3u) + 1u;
    uint32_t sr1 = chip_status(s, now) & 0xFFu;
    uint32_t status = 0;
    for (uint32_t i = 0; i < n; i++)
        status |= sr1 << (8u * i);
    struct lane_record *r = lane_log(s, REC_POLL, now);
    r->address = lines(s, F_ADMODE) ? s->reg[REG_AR] : 0u;
    r->length = n;
    r->status = status;
    s->polls++;
    s->last_status = status;
    s->poll_ftf = 1;
    s->poll_next_fs = tick + s->poll_interval_fs;
    uint32_t mask = s->reg[REG_PSMKR], match = s->reg[REG_PSMAR];
    uint32_t hits = ~(status ^ match) & mask;
    int matched = (s->reg[REG_CR] & CR_PMM) ? (hits != 0u || mask == 0u) : hits == mask;
    if (matched) {
        s->sticky |= 1u << 3;   /* SMF */
        if (s->reg[REG_CR] & CR_APMS)
            s->mode = MODE_IDLE;
    }
}

/* CommandEngine._settle on the lane's operations. */
static void lane_settle(struct qspi_fast *s, uint64_t now)
{
    if (s->mode == MODE_CMD && now >= s->done_fs) {
        s->mode = MODE_IDLE;
        s->sticky |= SR_TCF;
    } else if (s->mode == MODE_POLL && now >= s->poll_next_fs) {
        lane_poll(s, now);
    }
}

/* May time pass up to `to` here: short of the machine's next event, or over a tick that wakes
 * the core (and short of the event after it)? */
static int may_reach(const struct qspi_fast *s, uint64_t to)
{
    return to < s->event_fs || (s->wakes && s->insn_limit && to < s->event2_fs);
}

/* CommandEngine._read_sr on the lane's operations (the bus time of a command is waited out, a
 * poll that has not matched skips to its next read or the next event); 0 when Python must do
 * it (time would reach the machine's next event). */
static int lane_status(struct qspi_fast *s, uint32_t *out)
{
    uint64_t now = lane_now(s);
    if (now >= s->event_fs)
        return 0;
    if (s->mode == MODE_CMD && now < s->done_fs) {
        if (!may_reach(s, s->done_fs))
            return 0;
        lane_pass(s, s->done_fs - now);
        now = s->done_fs;
    }
    if (s->mode == MODE_RXT) {
        /* CommandEngine._read_sr during a read: the guest waits for the data (to where the
         * FIFO fills while nothing was read, else to the end of the transfer) */
        uint64_t end = s->pos == 0u ? s->stall_fs : s->done_fs;
        if (now < s->done_fs && now < end) {
            if (!may_reach(s, end))
                return 0;
            lane_pass(s, end - now);
            now = end;
        }
        uint32_t value = now >= s->done_fs ? rx_status(s) : rx_value(s);
        if (now >= s->event_fs)
            s->woke = 1;
        *out = value;
        return 1;
    }
    lane_settle(s, now);
    if (s->mode == MODE_POLL && !(s->sticky & (1u << 3))) {
        uint64_t next = s->event_fs;
        if (s->busy_until && s->busy_until < next)
            next = s->busy_until;   /* the chip's end of busy: an event of the machine too */
        /* the first status read (FTF clear) is not skipped: as CommandEngine._read_sr */
        uint64_t target = !s->poll_ftf || s->poll_next_fs > (next == NEVER ? 0u : next)
                          ? s->poll_next_fs : next;
        if (target > now) {
            if (target > s->limit_fs)
                target = s->limit_fs;
            if (target > now) {
                if (!may_reach(s, target))
                    return 0;
                lane_pass(s, target - now);
                now = target;
                lane_settle(s, now);
            }
        }
    }
    uint32_t value = s->sticky;
    if (s->mode == MODE_POLL)
        value |= SR_BUSY | (s->poll_ftf ? SR_FTF : 0u);
    else if (s->mode == MODE_IDLE)
        value = idle_status(s);
    else
        return 0;
    if (now >= s->event_fs)
        s->woke = 1;    /* the tick fired on the way: the core stops after this access */
    *out = value;
    return 1;
}

/* What lane_status can change (lane_pass, chip_settle, lane_log, lane_poll, lane_settle,
 * rx_status and itself): kept before a status read and put back when the read goes to Python
 * after all. Copying the whole state instead copied its tables too, twice per status read
 * (1.7 KB each way: two thirds of qspi_fast_read's time). */
struct lane_undo {
    uint64_t skip_fs, skip_cycles, busy_until, poll_next_fs, log_count;
    uint32_t mode, sticky, lane_dirty, wel, commands, polls, last_status, poll_ftf, woke;
};

static void lane_keep(const struct qspi_fast *s, struct lane_undo *u)
{
    *u = (struct lane_undo){s->skip_fs, s->skip_cycles, s->busy_until, s->poll_next_fs,
                            s->log_count, s->mode, s->sticky, s->lane_dirty, s->wel,
                            s->commands, s->polls, s->last_status, s->poll_ftf, s->woke};
}

static void lane_undo(struct qspi_fast *s, const struct lane_undo *u)
{
    s->skip_fs = u->skip_fs, s->skip_cycles = u->skip_cycles, s->busy_until = u->busy_until;
    s->poll_next_fs = u->poll_next_fs, s->log_count = u->log_count, s->mode = u->mode;
    s->sticky = u->sticky, s->lane_dirty = u->lane_dirty, s->wel = u->wel;
    s->commands = u->commands, s->polls = u->polls, s->last_status = u->last_status;
    s->poll_ftf = u->poll_ftf, s->woke = u->woke;
}

/* The learned frame of this kind (0: of any kind) the registers describe, to the bit (NULL:
 * none); DLR counts only for a frame with data, AR only for a poll's. */
static const struct lane_frame *learned(const struct qspi_fast *s, uint32_t kind)
{
    for (uint32_t i = 0; i < s->n_frames; i++) {
        const struct lane_frame *f = &s->frames[i];
        if ((!kind || f->kind == kind) && f->ccr == s->reg[REG_CCR] && f->tcr == s->reg[REG_TCR]
                && f->ir == s->reg[REG_IR] && f->dcr == s->reg[REG_DCR]
                && ((f->kind != FRAME_POLL && f->kind != FRAME_PROGRAM)
                    || f->dlr == s->reg[REG_DLR])
                && (f->kind != FRAME_POLL || !lines(s, F_ADMODE) || f->ar == s->reg[REG_AR]))
            return f;
    }
    return 0;
}

/* NorFlash._absolute: the array address a command's address bytes name (3 bytes: the extended
 * address register adds the top byte). */
static uint64_t chip_address(const struct qspi_fast *s, uint32_t sent, uint32_t address_bytes)
{
    uint64_t address = address_bytes == 3u ? sent | (uint64_t)s->ear << 24 : sent;
    return address % s->chip_size;
}

/* NorFlash._check_unprotected: does [lo, hi) touch the block-protected range? */
static int protected_range(const struct qspi_fast *s, uint32_t lo, uint32_t hi)
{
    return s->prot_lo < s->prot_hi && lo < s->prot_hi && s->prot_lo < hi;
}

/* The bytes [lo, hi) of the array changed here (for Python's take-over). */
static void array_changed(struct qspi_fast *s, uint32_t lo, uint32_t hi)
{
    if (s->changed_lo == s->changed_hi) {
        s->changed_lo = lo;
        s->changed_hi = hi;
    } else {
        if (lo < s->changed_lo)
            s->changed_lo = lo;
        if (hi > s->changed_hi)
            s->changed_hi = hi;
    }
}

/* The programs, reads and erases the chip publishes each start with the opcode, the address
 * bytes and the address lines it expects with it */
_Static_assert(offsetof(struct lane_program, address_lines) == 2, "opcode-led entry");
_Static_assert(offsetof(struct lane_read, address_lines) == 2, "opcode-led entry");
_Static_assert(offsetof(struct lane_erase, address_lines) == 2, "opcode-led entry");

/* The entry of such a table (n entries, stride bytes apart) for the instruction in the
 * registers, when the address phase is the one the entry expects; NULL otherwise. */
static const void *expected(const struct qspi_fast *s, const void *table, uint32_t n,
                            size_t stride)
{
    uint32_t opcode = fld(s, F_INSTRUCTION);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = (const uint8_t *)table + i * stride;
        if (e[0] == opcode)
            return e[1] == fld(s, F_ADSIZE) + 1u && e[2] == lines(s, F_ADMODE) ? e : NULL;
    }
    return NULL;
}

/* Does the chip take a program or an erase now (NorFlash: not busy, the latch set)? */
static int chip_accepts(struct qspi_fast *s, uint64_t now)
{
    chip_settle(s, now);
    return !s->busy_until && s->wel;
}

/* A command the lane sent: on the bus for bus_time, with length data bytes (0: none). */
static void lane_on_bus(struct qspi_fast *s, uint64_t now, uint64_t bus_time, uint32_t length)
{
    s->done_fs = now + bus_time;
    s->cmd_length = length;
    s->mode = MODE_CMD;
}

/* The program or erase (kind) of [lo, hi) the chip took: busy for op_fs (0: it ends at once
 * and clears the latch). */
static void chip_busy(struct qspi_fast *s, uint64_t now, uint32_t kind, uint32_t lo, uint32_t hi,
                      uint64_t op_fs)
{
    if (op_fs) {
        s->busy_until = now + op_fs;
        s->op_started = kind;
        s->op_page = lo;
        s->op_end = hi;
    } else {
        s->wel = 0;
    }
}

/* The AR write starting a sector or block erase the chip accepts (NorFlash._erase: the latch
 * set, the range not block-protected): the `size` bytes around the array address are erased
 * here and the chip busy for erase_fs; the command on the bus for bus. 1 when run. */
static int lane_erase_at(struct qspi_fast *s, uint64_t now, uint64_t address, uint32_t size,
                         uint64_t erase_fs, uint64_t bus)
{
    if (!chip_accepts(s, now))
        return 0;   /* rejected by the chip: Python records why */
    uint32_t start = (uint32_t)(address - address % size);
    uint32_t end = start + size;
    if (protected_range(s, start, end))
        return 0;   /* block-protected: rejected */
    memset(s->memory + start, 0xFF, size);
    array_changed(s, start, end);
    lane_log(s, REC_ERASE, now)->address = s->reg[REG_AR];
    chip_busy(s, now, OP_ERASE, start, end, erase_fs);
    lane_on_bus(s, now, bus, 0);
    return 1;
}

/* An erase the lane decodes (an erase opcode of the chip's with the address it expects) or one
 * the model proved in an octal state (a learned frame; 4-byte addresses there). */
static int lane_erase(struct qspi_fast *s, uint64_t now)
{
    if (plain_phases(s)) {
        const struct lane_erase *e = expected(s, s->erases, s->n_erases, sizeof *e);
        return e && lane_erase_at(s, now, chip_address(s, s->reg[REG_AR], e->address_bytes),
                                  e->size, e->erase_fs, bus_fs(s, 0));
    }
    const struct lane_frame *f = learned(s, FRAME_ERASE);
    return f && lane_erase_at(s, now, chip_address(s, s->reg[REG_AR], 4u), f->size, f->op_fs,
                              f->bus_fs);
}

/* A frame that is an instruction alone (no address, no data): a write enable or disable, a
 * reset enable, decoded here in SPI and QPI or learned in an octal state, or a frame the chip
 * refuses in its mode whatever its state (learned: an octal reset pair sent to a chip in SPI;
 * the model's reason is Python's, found again when the log is read). Each is logged and on the
 * bus as the model has it. A reset enable only arms the reset, which is the model's (Python
 * takes the arming from this being the lane's last command: NativeQuadspi.last_kind); it is
 * honoured while busy, a write enable or disable is not (Python records why). 1 when run. */
static int lane_instruction(struct qspi_fast *s, uint64_t now)
{
    const struct lane_frame *f = 0;
    uint32_t kind = 0;
    if (plain_phases(s)) {
        uint32_t op = fld(s, F_INSTRUCTION);
        kind = op == OP_WREN ? FRAME_WREN : op == OP_WRDI ? FRAME_WRDI
               : s->rsten_opcode && op == s->rsten_opcode ? FRAME_RSTEN : 0u;
    } else if ((f = learned(s, 0)) != 0) {
        kind = f->kind;
    }
    if (kind != FRAME_WREN && kind != FRAME_WRDI && kind != FRAME_RSTEN && kind != FRAME_REFUSED)
        return 0;
    chip_settle(s, now);
    if (s->busy_until && (kind == FRAME_WREN || kind == FRAME_WRDI))
        return 0;
    if (kind == FRAME_WREN || kind == FRAME_WRDI) {
        s->wel = kind == FRAME_WREN;
        s->wrens++;     /* a write enable or disable: either ends a volatile-write enable */
    }
    lane_log(s, kind == FRAME_WREN ? REC_WREN : kind == FRAME_WRDI ? REC_WRDI
                : kind == FRAME_RSTEN ? REC_RSTEN : REC_REFUSED, now);
    lane_on_bus(s, now, f ? f->bus_fs : bus_fs(s, 0), 0);
    return 1;
}

/* The command a start-register write (QUADSPI CCR, OCTOSPI/XSPI IR) or an AR write starts in
 * IDLE, run here when it is an instruction alone (lane_instruction), automatic status polling
 * (an AR write: a learned frame with an address) or a sector or block erase (an AR write,
 * lane_erase); the registers hold the written value. 1 when run. */
static int lane_start_command(struct qspi_fast *s, int at_ar)
{
    uint64_t now = lane_now(s);
    if (now >= s->event_fs || (lines(s, F_ADMODE) != 0u) != at_ar)
        return 0;
    const struct lane_frame *f = 0;
    if (fmode(s) == FMODE_WRITE && lines(s, F_DMODE) == 0u && !at_ar)
        return lane_instruction(s, now);
    if (fmode(s) == FMODE_WRITE && lines(s, F_DMODE) == 0u && at_ar)
        return lane_erase(s, now);
    if (fmode(s) == FMODE_POLL && ((!at_ar && status_read(s))
                                   || (f = learned(s, FRAME_POLL)) != 0)) {
        uint32_t n = (s->reg[REG_DLR] & 3u) + 1u;
        uint32_t pir = s->reg[REG_PIR] & 0xFFFFu;
        uint64_t clk = s->clk_hz ? s->clk_hz : 1u;
        uint64_t gap = (uint64_t)((unsigned __int128)(pir ? pir : 1u) * FS_PER_S / clk);
        uint64_t read = f ? f->bus_fs : bus_fs(s, n);
        s->poll_interval_fs = gap + read;
        s->poll_next_fs = now + read;
        s->poll_ftf = 0;
        s->mode = MODE_POLL;
        return 1;
    }
    return 0;
}

static int lane_start(struct qspi_fast *s, int slot, unsigned size, uint32_t value)
{
    int at_ar = slot == REG_AR;
    if (slot < 0 || ((uint32_t)slot != s->layout.start_slot && !at_ar) || size != 4u
            || s->mode != MODE_IDLE || !enabled(s) || !lane_ready(s)
            || (value & s->layout.reserved[slot])
            || (at_ar && ((!s->n_frames && !s->n_erases) || dual_flash(s)
                          || value >= s->fsize)))
        return 0;   /* AR: erases and learned frames (an address past FSIZE: TEF, Python) */
    uint32_t old = s->reg[slot];
    s->reg[slot] = value;
    if (!lane_start_command(s, at_ar)) {
        s->reg[slot] = old;
        return 0;
    }
    s->written |= 1u << slot;
    return 1;
}

/* An indirect read the lane starts (READ_ARRAY, READ_REGISTER) of `length` bytes at rx: logged,
 * on the bus until done_fs, the FIFO full at stall_fs (RXT), as CommandEngine._start leaves
 * it. Returns its record. */
static struct lane_record *lane_begin_read(struct qspi_fast *s, uint64_t now, const uint8_t *rx,
                                           uint32_t length, uint32_t kind)
{
    struct lane_record *r = lane_log(s, REC_READ, now);
    r->length = length;
    s->rx = rx;
    s->pos = 0;
    s->len = length;
    s->done_fs = now + bus_fs(s, length);
    s->stall_fs = now + bus_fs(s, length < s->fifo ? length : s->fifo);
    s->read_started = kind;
    s->mode = MODE_RXT;
    return r;
}

/* The AR write that starts an indirect read the chip answers with its array as it is
 * (NorFlash.read_check: an opcode of its read table with the address, wait clocks and data lines
 * it expects, no alternate bytes), run here as CommandEngine._start would: the data comes
 * straight from the array, on the bus until done_fs, the FIFO full at stall_fs (RXT). A busy
 * chip, a read past the end of the array or of FSIZE, DLR all ones: Python. 1 when started. */
static int lane_start_read(struct qspi_fast *s, int is_ar, unsigned size, uint32_t value)
{
    if (!is_ar || size != 4u || s->mode != MODE_IDLE || !enabled(s) || !lane_ready(s)
            || (value & s->layout.reserved[REG_AR]) || dual_flash(s))
        return 0;
    uint32_t dl = s->reg[REG_DLR];
    if (fmode(s) != FMODE_READ || !plain_phases(s) || lines(s, F_ADMODE) == 0u
            || lines(s, F_DMODE) == 0u || dl == ALL_ONES || value >= s->fsize)
        return 0;
    const struct lane_read *rc = expected(s, s->reads, s->n_reads, sizeof *rc);
    if (!rc || rc->wait_clocks != fld(s, F_DCYC) || rc->data_lines != lines(s, F_DMODE))
        return 0;
    uint64_t now = lane_now(s);
    if (now >= s->event_fs)
        return 0;
    chip_settle(s, now);
    if (s->busy_until)
        return 0;   /* a busy chip rejects it: Python records why */
    uint64_t address = chip_address(s, value, rc->address_bytes);
    uint32_t length = dl + 1u;
    if (address + length > s->chip_size)
        return 0;   /* wraps at the end of the array: Python */
    s->reg[REG_AR] = value;
    s->written |= 1u << REG_AR;
    s->read_at = (uint32_t)address;
    lane_begin_read(s, now, s->memory + address, length, READ_ARRAY)->address = value;
    return 1;
}

/* The start-register write (QUADSPI CCR, OCTOSPI/XSPI IR) that starts an indirect read of a
 * register the chip answers with its value repeated from the first data clock, sent as it
 * expects it (NorFlash._register_out: its lines, no address, no wait clocks; RDID and the
 * status/configuration registers of LaneFacts.reg_reads). Run as CommandEngine._start would, on
 * the bus until done_fs, the FIFO full at stall_fs (RXT). A busy chip (it may reject it) and a
 * read longer than REG_RX: Python. 1 when started. */
static int lane_start_register_read(struct qspi_fast *s, int slot, unsigned size, uint32_t value)
{
    if (slot < 0 || (uint32_t)slot != s->layout.start_slot || size != 4u || !s->n_reg_reads
            || s->mode != MODE_IDLE || !enabled(s) || !lane_ready(s)
            || (value & s->layout.reserved[slot]) || dual_flash(s))
        return 0;
    uint32_t old = s->reg[slot];
    s->reg[slot] = value;
    uint32_t length = s->reg[REG_DLR] + 1u;
    const struct lane_reg_read *rr = 0;
    if (fmode(s) == FMODE_READ && plain_phases(s) && lines(s, F_ADMODE) == 0u
            && fld(s, F_DCYC) == 0u && lines(s, F_DMODE) == s->chip_lines
            && length - 1u < REG_RX) {
        for (uint32_t i = 0; i < s->n_reg_reads; i++)
            if (s->reg_reads[i].opcode == fld(s, F_INSTRUCTION))
                rr = &s->reg_reads[i];
    }
    uint64_t now = lane_now(s);
    if (rr && now < s->event_fs)
        chip_settle(s, now);
    if (!rr || now >= s->event_fs || s->busy_until) {
        s->reg[slot] = old;
        return 0;   /* a busy chip may reject it: Python records why */
    }
    uint8_t v[4];
    memcpy(v, rr->value, 4u);
    if (rr->sr1)
        v[0] = (uint8_t)chip_status(s, now);
    for (uint32_t i = 0; i < length; i++)
        s->reg_rx[i] = v[i % rr->length];
    s->written |= 1u << slot;
    lane_begin_read(s, now, s->reg_rx, length, READ_REGISTER);
    return 1;
}

/* Eight bytes with each pair swapped: D0 D1 D2 D3 ... -> D1 D0 D3 D2 ... */
static uint64_t swapped8(uint64_t w)
{
    return (w & 0x00FF00FF00FF00FFull) << 8 | (w >> 8 & 0x00FF00FF00FF00FFull);
}

/* flash/octal.py swap_pairs: D0 D1 D2 D3 -> D1 D0 D3 D2 (an odd last byte stays). Eight bytes
 * at a time, as and_into, for the same reason. */
static void swap_pairs(uint8_t *data, uint32_t n)
{
    uint32_t i = 0;
    for (; i + 8u <= n; i += 8u) {
        uint64_t w;
        memcpy(&w, data + i, 8u);
        w = swapped8(w);
        memcpy(data + i, &w, 8u);
    }
    for (; i + 1u < n; i += 2u) {
        uint8_t t = data[i];
        data[i] = data[i + 1u];
        data[i + 1u] = t;
    }
}

/* Program n bytes into the array as a NOR chip does (only clears bits: ANDed in), eight at a
 * time: the byte loop took two fifths of qspi_fast_write's time (perf), as gcc -O2 does not
 * vectorise it (the array and the buffer may overlap for all it knows). With `swap`, each pair
 * of the data goes in swapped (n even). */
static void and_into(uint8_t *at, const uint8_t *data, uint32_t n, int swap)
{
    uint32_t i = 0;
    for (; i + 8u <= n; i += 8u) {
        uint64_t a, b;
        memcpy(&a, at + i, 8u);
        memcpy(&b, data + i, 8u);
        a &= swap ? swapped8(b) : b;
        memcpy(at + i, &a, 8u);
    }
    for (; i < n; i++)
        at[i] &= data[swap ? i ^ 1u : i];
}

/* The beat completing an indirect write that is a page program the chip accepts: the data
 * goes into the array here (NorFlash._program). A learned octal program (even address only:
 * 8D ignores A0) swaps the pairs as the controller and the chip did for the model. */
static int lane_program(struct qspi_fast *s, unsigned size, uint64_t value)
{
    uint32_t n = s->fill + size;
    if (!lane_ready(s) || !s->page_size || n != s->reg[REG_DLR] + 1u || n > s->page_size
            || lines(s, F_ADMODE) == 0u)
        return 0;
    const struct lane_program *pc = 0;
    const struct lane_frame *f = 0;
    if (plain_phases(s)) {
        pc = expected(s, s->programs, s->n_programs, sizeof *pc);
        if (!pc || pc->data_lines != lines(s, F_DMODE))
            return 0;
    } else if ((f = learned(s, FRAME_PROGRAM)) == 0 || (s->reg[REG_AR] & 1u)) {
        return 0;
    }
    uint64_t now = lane_now(s);
    if (now >= s->event_fs)
        return 0;
    if (!chip_accepts(s, now))
        return 0;   /* rejected by the chip: Python records why */
    uint32_t sent = s->reg[REG_AR];
    uint64_t address = chip_address(s, sent, pc ? pc->address_bytes : 4u);
    uint32_t ps = s->page_size;
    uint32_t page = (uint32_t)(address - address % ps);
    if (protected_range(s, page, page + ps))
        return 0;   /* block-protected: rejected */
    for (unsigned i = 0; i < size; i++)
        s->buf[s->fill + i] = (uint8_t)(value >> (8u * i));
    s->fill = n;
    s->beats++;
    uint32_t offset = (uint32_t)(address % ps);
    if (f && (f->swaps & SWAP_BUS))
        swap_pairs(s->buf, n);  /* the bytes as they crossed the bus: what the chip logs */
    uint32_t array_swap = f && (f->swaps & SWAP_ARRAY);
    if (offset + n <= ps && (!array_swap || n % 2u == 0u)) {
        /* no wrap: the usual whole page (with array_swap: whole pairs, each swapped back) */
        and_into(s->memory + page + offset, s->buf, n, (int)array_swap);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = array_swap && (i ^ 1u) < n ? i ^ 1u : i;
            s->memory[page + (offset + i) % ps] &= s->buf[k];
        }
    }
    array_changed(s, page, page + ps);
    struct lane_record *r = lane_log(s, REC_PROGRAM, now);
    r->address = sent;
    r->length = n;
    r->data_at = (uint32_t)s->data_count;
    memcpy(s->log_data + s->data_count++ % LOG_RING * LOG_PAGE, s->buf, n);
    chip_busy(s, now, OP_PROGRAM, page, page + ps, s->program_fs);
    lane_on_bus(s, now, f ? f->bus_fs : bus_fs(s, n), n);
    return 1;
}

/* The DR read that drains the last bytes of a read whose bus time is over
 * (CommandEngine._read_dr, _settle, _finish): the bytes left, then TCF and no operation. */
static uint32_t rx_last_beat(struct qspi_fast *s, unsigned size)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < size && s->pos < s->len; i++, s->pos++)
        value |= (uint32_t)s->rx[s->pos] << (8u * i);
    s->mode = MODE_IDLE;
    s->sticky |= SR_TCF;
    s->beats++;
    s->sr_run = 0;
    s->dirty = 1;
    return value;
}

/* How long the run of identical SR reads is with this one (CommandEngine.bus_read), and the
 * read's key for the next. */
static uint32_t sr_read_run(const struct qspi_fast *s, unsigned size, uint64_t offset,
                            uint32_t value, uint64_t *key)
{
    *key = (uint64_t)size << 40 | offset << 32 | value;
    return s->sr_run && *key == s->sr_last ? s->sr_run + 1u : 1u;
}

uint64_t qspi_fast_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    struct qspi_fast *s = user;
    uint32_t word = (uint32_t)offset & ~3u;
    uint32_t shift = 8u * ((uint32_t)offset & 3u);
    if (s->mode == MODE_FORWARD || s->pending)
        return s->slow_read(uc, offset, size, user);
    if (word == s->layout.sr || s->mode == MODE_OFF) {   /* unclocked: every register reads 0 */
        /* the lane's operations are moved on here, undone unless the read is served */
        struct lane_undo undo = {0};   /* kept only for the lane's operations */
        uint32_t full;
        int lane_op = s->mode == MODE_CMD || s->mode == MODE_POLL || s->mode == MODE_RXT;
        if (lane_op) {
            if (!lane_ready(s))
                return s->slow_read(uc, offset, size, user);
            lane_keep(s, &undo);
            if (!lane_status(s, &full)) {
                lane_undo(s, &undo);
                return s->slow_read(uc, offset, size, user);
            }
        } else {
            full = s->mode == MODE_OFF ? 0u : s->mode == MODE_IDLE ? idle_status(s)
                   : s->mode == MODE_MAPPED ? mapped_status(s)
                   : s->mode == MODE_TX ? tx_status(s) : rx_status(s);
        }
        uint32_t value = (full >> shift) & lane_mask(size);
        uint64_t key;
        uint32_t run = sr_read_run(s, size, offset, value, &key);
        /* marked served either way: without it a first read after a publish that lets time
         * pass (a wait Python started) would leave that time to a take-over the slice's end
         * does not do (refresh) */
        s->dirty = 1;
        if (run <= QUIET_SR_READS) {
            if (lane_op) {
                lower_limit(s, s->skip_cycles - undo.skip_cycles);
                if (s->woke)
                    *s->insn_limit = *s->counter;   /* as Machine._request_stop does */
            }
            s->sr_run = run;
            s->sr_last = key;
            return value;
        }
        if (lane_op)
            lane_undo(s, &undo);
    } else if (word == s->layout.dr) {
        if (s->mode == MODE_RXT && s->pos + size >= s->len
                && lane_ready(s) && lane_now(s) >= s->done_fs && lane_now(s) < s->event_fs)
            return rx_last_beat(s, size);
        if (s->mode == MODE_RX && s->pos + size >= s->len && s->pos < s->len)
            return rx_last_beat(s, size);
        if ((s->mode == MODE_RX || s->mode == MODE_RXT) && s->pos + size < s->len) {
            uint32_t value = 0;
            for (unsigned i = 0; i < size; i++)
                value |= (uint32_t)s->rx[s->pos + i] << (8u * i);
            s->pos += size;
            s->beats++;
            s->sr_run = 0;
            s->dirty = 1;
            return value;
        }
    } else {
        int i = find_reg(s, word);
        if (i >= 0) {
            s->sr_run = 0;
            s->dirty = 1;
            return (s->reg[i] >> shift) & lane_mask(size);
        }
    }
    return s->slow_read(uc, offset, size, user);
}

/* The first DR write of an indirect write: start it here when nothing unusual is asked for
 * (what Python's _start does for it: no time, no chip involved). */
static int start_write(struct qspi_fast *s)
{
    uint32_t dl = s->reg[REG_DLR];
    if (!enabled(s) || !software_data(s) || dl == ALL_ONES)
        return 0;
    if (lines(s, F_ADMODE) && s->reg[REG_AR] >= s->fsize)
        return 0;   /* a transfer error: Python raises TEF */
    s->mode = MODE_TX;
    s->started = 1;
    s->dirty = 1;
    s->fill = 0;
    s->limit = dl + 1u < TX_CAPACITY ? dl + 1u : TX_CAPACITY;
    if (s->look_stop && dl + 1u >= s->look_stop && s->insn_limit && s->counter) {
        s->look_stop = 0;
        *s->insn_limit = *s->counter;   /* as Machine._request_stop does */
    }
    return 1;
}

/* Does a 32-bit write of reg[slot] have an effect beyond its value (Python must handle it)?
 * Asked with the written value in place. */
static int has_effect(const struct qspi_fast *s, int slot)
{
    if (slot == REG_AR)
        return address_starts(s);
    if ((uint32_t)slot == s->layout.start_slot)
        return start_register_starts(s);
    /* FMODE in CR (OCTOSPI/XSPI): FMODE = 11 with EN = 1 enters memory-mapped mode */
    return s->layout.field[F_FMODE].slot == slot && enabled(s) && fmode(s) == FMODE_MAPPED;
}

/* A 32-bit write of a register that has no effect but its value: 1 when served. */
static int plain_write(struct qspi_fast *s, uint32_t word, uint32_t value)
{
    int idle = s->mode == MODE_IDLE;
    if (word == s->layout.fcr) {
        if (s->mode == MODE_RX || s->mode == MODE_RXT || (s->flags & FLAG_IRQ)
                || (value & ~FCR_FLAGS))
            return 0;
        if (s->mode == MODE_CMD || s->mode == MODE_POLL) {
            if (!lane_ready(s) || lane_now(s) >= s->event_fs)
                return 0;
            lane_settle(s, lane_now(s));    /* as Python settles before clearing */
        }
        s->sticky &= ~value;
        return 1;
    }
    int slot = find_reg(s, word);
    if (slot < 0 || (value & s->layout.reserved[slot]))
        return 0;   /* the rest, reserved bits: Python */
    if (slot == REG_DCR || slot >= REG_DCR2)
        return value == s->reg[slot];   /* the configuration: Python, unless it stays as it is */
    if (((s->layout.locked >> slot) & 1u) && !idle)
        return 0;   /* ignored while busy: Python decides */
    /* EN alone may change while idle (a set-up disables the controller to write DCR, as RM0433
     * QUADSPI_DCR and RM0455 OCTOSPI_DCR1 ask, then enables it): the model's on_write_CR does
     * nothing then, and nothing starts without EN here either (enabled()) */
    if (slot == REG_CR && (!idle || (s->flags & FLAG_IRQ)
                           || ((value ^ s->reg[REG_CR]) & s->layout.cr_active & ~CR_EN)))
        return 0;
    uint32_t old = s->reg[slot];
    s->reg[slot] = value;
    int effect = has_effect(s, slot);
    s->reg[slot] = old;
    if (effect)
        return 0;   /* starts a command or memory-mapped mode */
    if (dual_flash(s)) {
        if (slot == REG_DLR && s->layout.dlr_dual_odd)
            value |= 1u;    /* even byte counts in dual-flash mode */
        else if (slot == REG_AR)
            value &= ~1u;
    }
    s->reg[slot] = value;
    s->written |= 1u << slot;
    return 1;
}

/* A write Python must handle but that only starts a command (the start register or AR in
 * IDLE, the last DR beat in TX): without an interrupt to raise, nothing can observe its effect
 * before the next controller access or time sync, so it waits for that one. Not memory-mapped
 * mode (it maps the window). 1 when deferred. */
static int defer(struct qspi_fast *s, uint32_t word, unsigned size, uint64_t offset,
                 uint64_t value)
{
    if (!s->counter || (s->flags & FLAG_IRQ))
        return 0;
    if (word == s->layout.dr) {
        if (s->mode != MODE_TX)
            return 0;
    } else {
        int slot = find_reg(s, word);
        if (s->mode != MODE_IDLE || size != 4u
                || (slot != REG_AR && (slot < 0 || (uint32_t)slot != s->layout.start_slot))
                || ((uint32_t)value & s->layout.reserved[slot]))
            return 0;
        uint32_t old = s->reg[slot];
        s->reg[slot] = (uint32_t)value;
        int mapped = fmode(s) == FMODE_MAPPED;
        s->reg[slot] = old;
        if (mapped)
            return 0;
    }
    s->pending = 1;
    s->pend_size = size;
    s->pend_offset = offset;
    s->pend_value = value;
    s->pend_count = *s->counter;
    s->sr_run = 0;
    s->dirty = 1;
    return 1;
}

void qspi_fast_write(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    struct qspi_fast *s = user;
    uint32_t word = (uint32_t)offset & ~3u;
    if (word == s->layout.offset[REG_AR] && s->tlb_tend)     /* every access: one compare */
        s->tlb_tend(s->tlb_view);
    if (s->mode == MODE_OFF && !s->pending) {
        s->sr_run = 0;
        s->dirty = 1;
        return;
    }
    if (s->mode != MODE_FORWARD && s->mode != MODE_MAPPED && !s->pending) {
        if (word == s->layout.dr) {
            if (s->mode == MODE_IDLE && !start_write(s)) {
                s->slow_write(uc, offset, size, value, user);
                return;
            }
            if (s->mode == MODE_TX && s->fill + size == s->limit
                    && lane_program(s, size, value)) {
                s->sr_run = 0;
                s->dirty = 1;
                return;
            }
            if (s->mode == MODE_TX && s->fill + size == s->limit
                    && defer(s, word, size, offset, value))
                return;
            if (s->mode == MODE_TX && s->fill + size < s->limit) {
                for (unsigned i = 0; i < size; i++)
                    s->buf[s->fill + i] = (uint8_t)(value >> (8u * i));
                s->fill += size;
                s->beats++;
                s->sr_run = 0;
                s->dirty = 1;
                return;
            }
        } else if (size == 4u && plain_write(s, word, (uint32_t)value)) {
            s->sr_run = 0;
            s->dirty = 1;
            return;
        } else if (lane_start(s, find_reg(s, word), size, (uint32_t)value)
                   || lane_start_read(s, word == s->layout.offset[REG_AR], size,
                                      (uint32_t)value)
                   || lane_start_register_read(s, find_reg(s, word), size, (uint32_t)value)) {
            s->sr_run = 0;
            s->dirty = 1;
            return;
        } else if (defer(s, word, size, offset, value)) {
            return;
        }
    }
    s->slow_write(uc, offset, size, value, user);
}

/* -- data-loop turns (turns_fast.c) -------------------------------------------------------- */

/* One register access of a data loop's turn, in the turn's order. */
struct lane_access {
    uint32_t offset;
    uint8_t size, write, pad[2];
    uint32_t used;      /* a read: the bits of its value the turn uses (turns.py) */
};

/* An indirect read whose data the lane serves without time: its bus time is over (RX), or
 * over by now (RXT: an SR read then waits for nothing and reads as in RX). */
static int rx_ready(const struct qspi_fast *s)
{
    return s->mode == MODE_RX
           || (s->mode == MODE_RXT && lane_ready(s) && lane_now(s) >= s->done_fs);
}

/* The SR or control-register value a read in this mode returns without changing anything (as
 * qspi_fast_read serves it), into *value; 0: the read is not one of those. */
static int turn_read_value(const struct qspi_fast *s, const struct lane_access *a,
                           uint32_t *value)
{
    uint32_t word = a->offset & ~3u, shift = 8u * (a->offset & 3u);
    uint32_t full;
    if (word == s->layout.sr) {
        /* RX: as rx_status reads it while more than a FIFO's worth is left (lane_turn_room
         * keeps it so): TCF is not set on the way */
        full = s->mode == MODE_TX ? tx_status(s) : rx_value(s);
    } else {
        int i = find_reg(s, word);
        if (i < 0 || word == s->layout.dr)
            return 0;
        full = s->reg[i];
    }
    *value = (full >> shift) & lane_mask(a->size);
    return 1;
}

/* One turn of acc[0..n_acc) in an indirect read whose bus time is over, from byte pos with
 * the sticky flags *sticky, as qspi_fast_read serves it: each read's value into values[i] (SR
 * as rx_status reads it: TCF once the rest sits in the FIFO), the flags it leaves in *sticky.
 * 0: a DR read of the turn takes the read's last bytes (rx_last_beat: not a turn's). */
static int rx_turn(const struct qspi_fast *s, const struct lane_access *acc, uint32_t n_acc,
                   uint32_t pos, uint32_t *sticky, uint32_t *values)
{
    for (uint32_t i = 0; i < n_acc; i++) {
        const struct lane_access *a = &acc[i];
        uint32_t word = a->offset & ~3u;
        if (word == s->layout.dr) {
            if (pos + a->size >= s->len)
                return 0;
            pos += a->size;
            values[i] = 0;
        } else if (word == s->layout.sr) {
            values[i] = (rx_status_at(s, pos, sticky) >> (8u * (a->offset & 3u)))
                        & lane_mask(a->size);
        } else if (!turn_read_value(s, a, &values[i])) {
            return 0;
        }
    }
    return 1;
}

/* The turns of per_turn DR bytes an indirect read runs before its last FIFO's worth: SR reads
 * the same in all of them (level full, TCF not yet risen). */
static uint64_t rx_turns_before_tail(const struct qspi_fast *s, uint32_t per_turn)
{
    uint32_t left = s->len - s->pos;
    return left > s->fifo + per_turn ? (left - s->fifo - 1u) / per_turn : 0u;
}

/* How many turns making the accesses acc[0..n_acc) the lane serves here exactly as
 * qspi_fast_read/qspi_fast_write would serve them one by one: reads of SR and control
 * registers, and DR writes that do not complete an indirect write (TX) or DR reads before the
 * last one of an indirect read whose bus time is over (rx_ready). values[i]: what read i
 * returns in the first of them; in the others it returns the same in the bits the turn uses
 * (acc[i].used: in the last FIFO's worth SR's level falls a turn at a time and TCF rises; FTF
 * stays set while data is left in the FIFO after the read completed, RM0433 QUADSPI_SR). 0:
 * none. */
uint64_t lane_turn_room(const struct qspi_fast *s, const struct lane_access *acc, uint32_t n_acc,
                        uint32_t *values)
{
    if (s->pending || (s->flags & FLAG_IRQ) || (s->mode != MODE_TX && !rx_ready(s)))
        return 0;
    uint32_t per_turn = 0;
    for (uint32_t i = 0; i < n_acc; i++) {
        const struct lane_access *a = &acc[i];
        if ((a->offset & ~3u) == s->layout.dr) {
            if (a->write != (s->mode == MODE_TX) || (a->offset & 3u) || (a->size != 1u
                    && a->size != 2u && a->size != 4u))
                return 0;
            per_turn += a->size;
            values[i] = 0;
        } else if (a->write || !turn_read_value(s, a, &values[i])) {
            return 0;
        }
    }
    if (!per_turn)
        return 0;   /* polling, not moving data: the machine's polling skips see it */
    /* an SR read served here must not repeat the one before it more than QUIET_SR_READS times:
     * every turn moves data, so a run of SR reads is at most the turn's longest, wrapped round */
    uint32_t run = 0, longest = 0;
    for (uint32_t k = 0; k < 2u * n_acc; k++) {
        const struct lane_access *a = &acc[k % n_acc];
        run = (a->offset & ~3u) == s->layout.sr && !a->write ? run + 1u : 0u;
        longest = run > longest ? run : longest;
    }
    if (longest > QUIET_SR_READS || (s->sr_run && (acc[0].offset & ~3u) == s->layout.sr))
        return 0;
    if (s->mode == MODE_TX)
        return s->fill + per_turn < s->limit ? (s->limit - s->fill - 1u) / per_turn : 0u;
    /* RX: while more than a FIFO's worth is left, SR reads the same in every turn; in the last
     * FIFO's worth its level falls a turn at a time and TCF rises, and the turns go on while
     * the bits each read is used for (a flag test) read as in the first turn, up to the DR
     * read of the last bytes */
    uint32_t sticky = s->sticky;
    uint32_t first[MAX_LANE_ACC], now[MAX_LANE_ACC];
    if (n_acc > MAX_LANE_ACC || !rx_turn(s, acc, n_acc, s->pos, &sticky, first))
        return 0;
    uint64_t same = rx_turns_before_tail(s, per_turn);
    uint64_t j = same ? same : 1u;
    if (same)
        sticky = s->sticky;     /* the turns before it raise no flag */
    for (;; j++) {
        uint32_t at = s->pos + (uint32_t)j * per_turn;
        if (!rx_turn(s, acc, n_acc, at, &sticky, now))
            break;
        uint32_t k = 0;
        while (k < n_acc && !((now[k] ^ first[k]) & acc[k].used))
            k++;
        if (k < n_acc)
            break;
    }
    for (uint32_t k = 0; k < n_acc; k++)
        values[k] = first[k];
    return j;
}

/* What a read of SR or a control register (acc) returns now without changing anything, when
 * the lane serves it so (turns.py, while it runs a turn on paper). 0: it does not. */
int lane_turn_peek(const struct qspi_fast *s, const struct lane_access *acc, uint32_t *value)
{
    /* an RXT read as it will read once its bus time is over: lane_turn_room checks that */
    if (s->pending || (s->mode != MODE_TX && s->mode != MODE_RX && s->mode != MODE_RXT)
            || acc->write)
        return 0;
    return turn_read_value(s, acc, value);
}

/* Serve n turns of acc[0..n_acc) (n at most lane_turn_room's): the DR writes' bytes from data
 * (n times the turn's DR bytes, in order), or the DR reads' bytes into data; the state after it
 * is the one the accesses one by one leave. */
void lane_turn_serve(struct qspi_fast *s, const struct lane_access *acc, uint32_t n_acc,
                     uint64_t n, uint8_t *data)
{
    uint32_t per_turn = 0, beats = 0;
    for (uint32_t i = 0; i < n_acc; i++)
        if ((acc[i].offset & ~3u) == s->layout.dr) {
            per_turn += acc[i].size;
            beats++;
        }
    uint64_t bytes = n * per_turn;
    /* RX: what the last turn's reads return, with the flags the turns before it left (TCF
     * rises at the first SR read in the last FIFO's worth), as lane_turn_room worked out */
    uint32_t last[MAX_LANE_ACC];
    int rx = s->mode != MODE_TX && n_acc <= MAX_LANE_ACC && n;
    if (rx) {
        uint32_t sticky = s->sticky;
        uint64_t same = rx_turns_before_tail(s, per_turn);
        for (uint64_t j = same < n ? same : n - 1u; j < n && rx; j++)
            rx = rx_turn(s, acc, n_acc, s->pos + (uint32_t)j * per_turn, &sticky, last);
        if (rx)
            s->sticky = sticky;
    }
    if (s->mode == MODE_TX) {
        memcpy(s->buf + s->fill, data, bytes);
        s->fill += (uint32_t)bytes;
    } else {
        memcpy(data, s->rx + s->pos, bytes);
        s->pos += (uint32_t)bytes;
    }
    s->beats += n * beats;
    s->dirty = 1;
    /* the SR-read bookkeeping of the last turn (the turn before it ended with the same) */
    for (uint32_t i = 0; i < n_acc; i++) {
        const struct lane_access *a = &acc[i];
        uint32_t value;
        if (rx && (a->offset & ~3u) == s->layout.sr) {
            uint64_t key;
            s->sr_run = sr_read_run(s, a->size, a->offset, last[i], &key);
            s->sr_last = key;
        } else if ((a->offset & ~3u) == s->layout.sr && turn_read_value(s, a, &value)) {
            uint64_t key;
            s->sr_run = sr_read_run(s, a->size, a->offset, value, &key);
            s->sr_last = key;
        } else {
            s->sr_run = 0;
        }
    }
}

/* -- the tick loop's view (ticks_fast.c) ---------------------------------------------------- */

/* At the end of a slice the tick loop may take: -1 if Python must handle something first (a
 * deferred write); 0 if the lane holds nothing; else it holds what it ran or served since
 * Python last took it over (commands and their log, the chip's state, accesses it served, the
 * time it let pass): 1 if it woke the core for this tick (a polling skip ran into it), 2 if the
 * tick came while the loader was busy with the controller. It keeps all of that across the
 * exception: none of it depends on when Python takes it over (the log's times and the chip's
 * end of busy are absolute, served bytes wait in the capture buffer), an access of the handler
 * to the controller is served from that same state (here, or by Python after a take-over), and
 * the time it let pass moves the clock now (added to *skip_fs and *skip_cycles). The Python run
 * loop takes it all over at every slice's end instead; tests/emu/test_ticks_native.py holds
 * the two equal. Changes nothing. */
int lane_tick_state(const struct qspi_fast *s, uint64_t *skip_fs, uint64_t *skip_cycles)
{
    if (s->pending)
        return -1;
    if (s->lane_dirty) {
        *skip_fs += s->skip_fs;
        *skip_cycles += s->skip_cycles;
        return s->woke ? 1 : 2;
    }
    return s->dirty ? 2 : 0;
}

/* The tick loop took the slice's end: the time a lane that holds something let pass is the
 * clock's now (_take_lane_time), the slice is over (_slice_ended) and the core took an
 * exception (_interrupted). */
void lane_tick_ended(struct qspi_fast *s, int32_t holds)
{
    if (holds) {
        s->woke = 0;
        s->base_fs += s->skip_fs;
        s->skip_fs = s->skip_cycles = 0;
    }
    s->time_valid = 0;
    s->sr_run = 0;
}

/* The next slice starts (CommandEngine._slice_started): the lane's time base. */
void lane_tick_start(struct qspi_fast *s, uint64_t now_fs, uint64_t fs_per_cycle,
                     uint64_t event_fs, uint64_t limit_fs, uint64_t event2_fs, uint32_t wakes,
                     uint64_t slice_end_fs, uint32_t capped)
{
    if (!s->lane)
        return;
    s->slice_end_fs = slice_end_fs;
    s->capped = capped;
    s->base_fs = now_fs;
    s->base_count = 0;
    s->fs_per_cycle = fs_per_cycle;
    s->event_fs = event_fs;
    s->limit_fs = limit_fs;
    s->event2_fs = event2_fs;
    s->wakes = wakes;
    s->time_valid = 1;
}

/* The layout check the loader runs before trusting the struct. */
uint32_t qspi_fast_struct_size(void)
{
    return (uint32_t)sizeof(struct qspi_fast);
}

/* Native fast path of the QUADSPI model (extflash.emu.periph.quadspi).
 *
 * unicorn calls these two functions for every access to the QUADSPI register page. They serve
 * the accesses that neither observe nor move virtual time nor involve the flash chip, from a
 * state the Python model publishes after each access it handles itself:
 *   IDLE  (no operation in progress) SR reads; 32-bit writes of DLR, PSMKR, PSMAR, PIR, ABR, of
 *         CCR and AR when the write starts no command (an indirect write waiting for its data),
 *         and of CR when only bits without immediate effect change; the first DR write of an
 *         indirect write, which starts it here (TX);
 *   TX    (an indirect write collecting its data) SR reads and DR writes (the beat that
 *         completes the transfer goes to Python, which sends the command to the chip);
 *   RX    (an indirect read whose bus time is over) SR and DR reads (the beat that drains the
 *         last bytes goes to Python, which ends the operation);
 * and in all three: reads of the control registers, FCR flag clears (not RX, no interrupt
 * enabled) and writes of PSMKR/PSMAR/PIR/ABR. Writes that set reserved bits, byte and halfword
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
 * The struct layout is mirrored by QuadspiFastState in quadspi_fast.py. */
#include <stdint.h>

enum { MODE_FORWARD, MODE_IDLE, MODE_TX, MODE_RX };
/* Registers whose values the model publishes (reads are served from them) and, except CR and
 * DCR with their restrictions, that writes here may change. Order mirrored in Python. */
enum { REG_CR, REG_DCR, REG_DLR, REG_CCR, REG_AR, REG_ABR, REG_PSMKR, REG_PSMAR, REG_PIR,
       REG_COUNT };
static const uint8_t reg_offset[REG_COUNT] = {0x00, 0x04, 0x10, 0x14, 0x18, 0x1C, 0x24, 0x28,
                                              0x2C};

#define SR_OFFSET    0x08u
#define FCR_OFFSET   0x0Cu
#define DR_OFFSET    0x20u

#define SR_TCF    (1u << 1)
#define SR_FTF    (1u << 2)
#define SR_BUSY   (1u << 5)
#define FCR_FLAGS 0x1Bu                     /* CTEF CTCF CSMF CTOF */
#define PIR_BITS  0xFFFFu                   /* INTERVAL */
#define CCR_RESERVED ((1u << 23) | (1u << 29))
#define CR_RESERVED  ((1u << 5) | (7u << 13) | (1u << 21))
/* CR bits whose change has an immediate effect (enable, abort, dual-flash, interrupts): Python */
#define CR_ACTIVE    (1u | (1u << 1) | (1u << 6) | (0x1Fu << 16))
#define FMODE_WRITE  0u
#define FMODE_MAPPED 3u
#define ALL_ONES     0xFFFFFFFFu

#define FLAG_IRQ  4u    /* an interrupt is enabled: flag changes go through Python */

#define QUIET_SR_READS 3u   /* identical SR reads in a row served before Python sees them */

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
    /* kept here, cleared by every publish */
    uint32_t fill;      /* TX: bytes captured in buf since the last publish */
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
};

#define TX_CAPACITY (64u * 1024u)

static uint32_t lane_mask(unsigned size)
{
    return size >= 4u ? 0xFFFFFFFFu : (1u << (8u * size)) - 1u;
}

static uint32_t fmode(uint32_t ccr) { return (ccr >> 26) & 3u; }
static uint32_t admode(uint32_t ccr) { return (ccr >> 10) & 3u; }
static uint32_t dmode(uint32_t ccr) { return (ccr >> 24) & 3u; }
static int enabled(const struct qspi_fast *s) { return s->reg[REG_CR] & 1u; }
static int dual_flash(const struct qspi_fast *s) { return (s->reg[REG_CR] >> 6) & 1u; }

/* An indirect write with a data phase: it waits for its first DR write instead of starting on
 * the CCR or AR write. */
static int software_data(uint32_t ccr)
{
    return fmode(ccr) == FMODE_WRITE && dmode(ccr) != 0u;
}

static int find_reg(uint32_t word)
{
    for (int i = 0; i < REG_COUNT; i++)
        if (reg_offset[i] == word)
            return i;
    return -1;
}

/* SR without an operation: an indirect write mode shows FTF (the FIFO is empty, so free space
 * is above any threshold). */
static uint32_t idle_status(const struct qspi_fast *s)
{
    return s->sticky | (fmode(s->reg[REG_CCR]) == FMODE_WRITE ? SR_FTF : 0u);
}

static uint32_t rx_status(struct qspi_fast *s)
{
    uint32_t left = s->len - s->pos;
    uint32_t level = left < s->fifo ? left : s->fifo;
    uint32_t thr = ((s->reg[REG_CR] >> 8) & 0x1Fu) + 1u;
    if (!(s->sticky & SR_TCF) && left <= s->fifo)
        s->sticky |= SR_TCF;    /* the transfer is over and the rest sits in the FIFO */
    uint32_t value = s->sticky | SR_BUSY | level << 8;
    if (level >= thr || ((value & SR_TCF) && level))
        value |= SR_FTF;
    return value;
}

uint64_t qspi_fast_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    struct qspi_fast *s = user;
    uint32_t word = (uint32_t)offset & ~3u;
    uint32_t shift = 8u * ((uint32_t)offset & 3u);
    if (s->mode == MODE_FORWARD || s->pending)
        return s->slow_read(uc, offset, size, user);
    if (word == SR_OFFSET) {
        uint32_t full = s->mode == MODE_IDLE ? idle_status(s)
                        : s->mode == MODE_TX ? s->sticky | SR_BUSY | SR_FTF : rx_status(s);
        uint32_t value = (full >> shift) & lane_mask(size);
        uint64_t key = (uint64_t)size << 40 | offset << 32 | value;
        uint32_t run = s->sr_run && key == s->sr_last ? s->sr_run + 1u : 1u;
        s->dirty = 1;
        if (run <= QUIET_SR_READS) {
            s->sr_run = run;
            s->sr_last = key;
            return value;
        }
    } else if (word == DR_OFFSET) {
        if (s->mode == MODE_RX && s->pos + size < s->len) {
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
        int i = find_reg(word);
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
    uint32_t ccr = s->reg[REG_CCR];
    uint32_t dl = s->reg[REG_DLR];
    if (!enabled(s) || !software_data(ccr) || dl == ALL_ONES)
        return 0;
    if (admode(ccr) && s->reg[REG_AR] >= s->fsize)
        return 0;   /* a transfer error: Python raises TEF */
    s->mode = MODE_TX;
    s->started = 1;
    s->dirty = 1;
    s->fill = 0;
    s->limit = dl + 1u < TX_CAPACITY ? dl + 1u : TX_CAPACITY;
    return 1;
}

/* A 32-bit write of a register that has no effect but its value: 1 when served. */
static int plain_write(struct qspi_fast *s, uint32_t word, uint32_t value)
{
    int idle = s->mode == MODE_IDLE;
    int slot = find_reg(word);
    if (word == FCR_OFFSET) {
        if (s->mode == MODE_RX || (s->flags & FLAG_IRQ) || (value & ~FCR_FLAGS))
            return 0;
        s->sticky &= ~value;
        return 1;
    }
    switch (slot) {
    case REG_CR:
        if (!idle || (s->flags & FLAG_IRQ) || (value & CR_RESERVED)
                || ((value ^ s->reg[REG_CR]) & CR_ACTIVE))
            return 0;
        break;
    case REG_DLR:
        if (!idle)
            return 0;   /* ignored while busy: Python decides */
        if (dual_flash(s))
            value |= 1u;
        break;
    case REG_CCR:
        if (!idle || (value & CCR_RESERVED))
            return 0;
        if (enabled(s) && (fmode(value) == FMODE_MAPPED
                           || (admode(value) == 0u && !software_data(value))))
            return 0;   /* starts a command or memory-mapped mode */
        break;
    case REG_AR: {
        uint32_t ccr = s->reg[REG_CCR];
        if (!idle || fmode(ccr) == FMODE_MAPPED)
            return 0;
        if (enabled(s) && admode(ccr) != 0u && !software_data(ccr))
            return 0;   /* starts a command */
        if (dual_flash(s))
            value &= ~1u;
        break;
    }
    case REG_PIR:
        if (value & ~PIR_BITS)
            return 0;   /* reserved bits: Python reports them */
        break;
    case REG_ABR:
    case REG_PSMKR:
    case REG_PSMAR:
        break;
    default:
        return 0;       /* DCR and the rest: Python */
    }
    s->reg[slot] = value;
    s->written |= 1u << slot;
    return 1;
}

/* A write Python must handle but that only starts a command (CCR or AR in IDLE, the last DR
 * beat in TX): without an interrupt to raise, nothing can observe its effect before the next
 * QUADSPI access or time sync, so it waits for that one. Not memory-mapped mode (it maps the
 * window). 1 when deferred. */
static int defer(struct qspi_fast *s, uint32_t word, unsigned size, uint64_t offset,
                 uint64_t value)
{
    if (!s->counter || (s->flags & FLAG_IRQ))
        return 0;
    if (word == DR_OFFSET) {
        if (s->mode != MODE_TX)
            return 0;
    } else {
        uint32_t ccr = word == 0x14u ? (uint32_t)value : s->reg[REG_CCR];
        if (s->mode != MODE_IDLE || size != 4u || (word != 0x14u && word != 0x18u)
                || fmode(ccr) == FMODE_MAPPED || (word == 0x14u && (ccr & CCR_RESERVED)))
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
    if (s->mode != MODE_FORWARD && !s->pending) {
        if (word == DR_OFFSET) {
            if (s->mode == MODE_IDLE && !start_write(s)) {
                s->slow_write(uc, offset, size, value, user);
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
        } else if (defer(s, word, size, offset, value)) {
            return;
        }
    }
    s->slow_write(uc, offset, size, value, user);
}

/* The layout check the loader runs before trusting the struct. */
uint32_t qspi_fast_struct_size(void)
{
    return (uint32_t)sizeof(struct qspi_fast);
}

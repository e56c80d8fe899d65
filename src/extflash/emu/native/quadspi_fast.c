/* Native fast path of the QUADSPI model (extflash.emu.periph.quadspi).
 *
 * unicorn calls these two functions for every access to the QUADSPI register page. They serve
 * the accesses that neither observe nor move virtual time and start nothing, from a state the
 * Python model publishes after each access it handles itself:
 *   IDLE  (no operation in progress) SR reads; 32-bit writes of DLR, PSMKR, PSMAR, PIR, and of
 *         CCR and AR when the write starts no command (an indirect write waiting for data);
 *   TX    (an indirect write still collecting data) SR reads and DR writes (the beat that
 *         completes the transfer goes to Python, which sends the command to the chip);
 *   RX    (an indirect read whose bus time is over) SR and DR reads (the beat that drains the
 *         last bytes goes to Python, which ends the operation);
 * and in every mode FCR flag clears (not RX, no interrupt enabled) and PSMKR/PSMAR/PIR writes.
 * Writes that set reserved bits, byte and halfword writes of those registers, every other
 * access, and an SR read repeating the previous ones more than QUIET_SR_READS times (a polling
 * loop the machine must see) go to the Python callbacks. The Python model absorbs what was
 * served here before it handles an access, so both paths give identical results.
 *
 * The struct layout is mirrored by QuadspiFastState in quadspi_fast.py. */
#include <stdint.h>

enum { MODE_FORWARD, MODE_IDLE, MODE_TX, MODE_RX };
enum { REG_DLR, REG_CCR, REG_AR, REG_PSMKR, REG_PSMAR, REG_PIR, REG_COUNT };

#define SR_OFFSET    0x08u
#define FCR_OFFSET   0x0Cu
#define DLR_OFFSET   0x10u
#define CCR_OFFSET   0x14u
#define AR_OFFSET    0x18u
#define DR_OFFSET    0x20u
#define PSMKR_OFFSET 0x24u
#define PSMAR_OFFSET 0x28u
#define PIR_OFFSET   0x2Cu

#define SR_TCF    (1u << 1)
#define SR_FTF    (1u << 2)
#define SR_BUSY   (1u << 5)
#define FCR_FLAGS 0x1Bu                     /* CTEF CTCF CSMF CTOF */
#define PIR_BITS  0xFFFFu                   /* INTERVAL */
#define CCR_RESERVED ((1u << 23) | (1u << 29))
#define FMODE_WRITE  0u
#define FMODE_MAPPED 3u

#define FLAG_EN   1u    /* CR.EN */
#define FLAG_DFM  2u    /* dual-flash: DLR odd, AR even */
#define FLAG_IRQ  4u    /* an interrupt is enabled: flag changes go through Python */

#define QUIET_SR_READS 3u   /* identical SR reads in a row served before Python sees them */

typedef uint64_t (*read_fn)(void *uc, uint64_t offset, unsigned size, void *user);
typedef void (*write_fn)(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user);

struct qspi_fast {
    uint32_t mode;
    uint32_t sticky;    /* TEF/TCF/SMF/TOF (FCR clears them here; RX may set TCF) */
    uint32_t pad0;
    uint32_t fifo;      /* RX: FIFO depth in bytes */
    uint32_t thr;       /* RX: FIFO threshold in bytes (FTHRES + 1) */
    uint32_t fill;      /* TX: bytes captured in buf since the last publish */
    uint32_t limit;     /* TX: serve a beat while fill + size < limit */
    uint32_t pos;       /* RX: bytes of rx already read */
    uint32_t len;       /* RX: bytes in rx */
    uint32_t sr_run;    /* identical SR reads in a row, the last one sr_last (0: other access) */
    uint32_t dirty;     /* something was served here since the last publish */
    uint32_t flags;     /* FLAG_EN, FLAG_DFM, FLAG_IRQ */
    uint32_t written;   /* bit i: reg[i] was written here since the last publish */
    uint32_t reg[REG_COUNT];
    uint32_t pad;
    uint64_t sr_last;   /* size << 40 | offset << 32 | value */
    uint64_t beats;     /* DR accesses served here (data moving: not idle) */
    uint8_t *buf;       /* TX capture buffer */
    const uint8_t *rx;  /* RX data (the Python bytes object, kept alive by the model) */
    read_fn slow_read;
    write_fn slow_write;
};

static uint32_t lane_mask(unsigned size)
{
    return size >= 4u ? 0xFFFFFFFFu : (1u << (8u * size)) - 1u;
}

static uint32_t fmode(uint32_t ccr)
{
    return (ccr >> 26) & 3u;
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
    if (!(s->sticky & SR_TCF) && left <= s->fifo)
        s->sticky |= SR_TCF;    /* the transfer is over and the rest sits in the FIFO */
    uint32_t value = s->sticky | SR_BUSY | level << 8;
    if (level >= s->thr || ((value & SR_TCF) && level))
        value |= SR_FTF;
    return value;
}

/* Would a command with this CCR value start on its own (CCR write) or on the AR write? An
 * indirect write with a data phase waits for its first DR write instead. */
static int software_data(uint32_t ccr)
{
    return fmode(ccr) == FMODE_WRITE && ((ccr >> 24) & 3u) != 0u;
}

uint64_t qspi_fast_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    struct qspi_fast *s = user;
    uint32_t word = (uint32_t)offset & ~3u;
    if (s->mode != MODE_FORWARD && word == SR_OFFSET) {
        uint32_t full = s->mode == MODE_IDLE ? idle_status(s)
                        : s->mode == MODE_TX ? s->sticky | SR_BUSY | SR_FTF : rx_status(s);
        uint32_t value = (full >> (8u * ((uint32_t)offset & 3u))) & lane_mask(size);
        uint64_t key = (uint64_t)size << 40 | offset << 32 | value;
        uint32_t run = s->sr_run && key == s->sr_last ? s->sr_run + 1u : 1u;
        s->dirty = 1;
        if (run <= QUIET_SR_READS) {
            s->sr_run = run;
            s->sr_last = key;
            return value;
        }
    } else if (s->mode == MODE_RX && word == DR_OFFSET && s->pos + size < s->len) {
        uint32_t value = 0;
        for (unsigned i = 0; i < size; i++)
            value |= (uint32_t)s->rx[s->pos + i] << (8u * i);
        s->pos += size;
        s->beats++;
        s->sr_run = 0;
        s->dirty = 1;
        return value;
    }
    return s->slow_read(uc, offset, size, user);
}

/* A 32-bit write of a register that has no effect but its value: 1 when served. */
static int plain_write(struct qspi_fast *s, uint32_t word, uint32_t value)
{
    int idle = s->mode == MODE_IDLE;
    int slot;
    switch (word) {
    case FCR_OFFSET:
        if (s->mode == MODE_RX || (s->flags & FLAG_IRQ) || (value & ~FCR_FLAGS))
            return 0;
        s->sticky &= ~value;
        return 1;
    case DLR_OFFSET:
        if (!idle)
            return 0;   /* ignored while busy: Python decides */
        if (s->flags & FLAG_DFM)
            value |= 1u;
        slot = REG_DLR;
        break;
    case CCR_OFFSET:
        if (!idle || (value & CCR_RESERVED))
            return 0;
        if ((s->flags & FLAG_EN) && (fmode(value) == FMODE_MAPPED
                                     || (((value >> 10) & 3u) == 0u && !software_data(value))))
            return 0;   /* starts a command or memory-mapped mode */
        slot = REG_CCR;
        break;
    case AR_OFFSET: {
        uint32_t ccr = s->reg[REG_CCR];
        if (!idle || fmode(ccr) == FMODE_MAPPED)
            return 0;
        if ((s->flags & FLAG_EN) && ((ccr >> 10) & 3u) != 0u && !software_data(ccr))
            return 0;   /* starts a command */
        if (s->flags & FLAG_DFM)
            value &= ~1u;
        slot = REG_AR;
        break;
    }
    case PSMKR_OFFSET:
        slot = REG_PSMKR;
        break;
    case PSMAR_OFFSET:
        slot = REG_PSMAR;
        break;
    case PIR_OFFSET:
        if (value & ~PIR_BITS)
            return 0;   /* reserved bits: Python reports them */
        slot = REG_PIR;
        break;
    default:
        return 0;
    }
    s->reg[slot] = value;
    s->written |= 1u << slot;
    return 1;
}

void qspi_fast_write(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    struct qspi_fast *s = user;
    uint32_t word = (uint32_t)offset & ~3u;
    if (s->mode != MODE_FORWARD) {
        if (word == DR_OFFSET) {
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
        }
    }
    s->slow_write(uc, offset, size, value, user);
}

/* The layout check the loader runs before trusting the struct. */
uint32_t qspi_fast_struct_size(void)
{
    return (uint32_t)sizeof(struct qspi_fast);
}

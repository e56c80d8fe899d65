/* QUADSPI controller driver: indirect commands, automatic status polling, memory-mapped mode.
 * Register write order follows the reference manual's start-trigger rules: DLR, ABR, CCR, then AR;
 * a command starts on the CCR write (no address, no data to send), the AR write (address, no data
 * to send) or the first DR write (indirect write with data). */
#include "loader.h"

/* FIFO and flag waits are bounded by the bus: a few microseconds in practice. */
#define QSPI_FLAG_TIMEOUT_MS 10u

/* FIFO threshold 4 bytes (FTHRES = 3): FTF means room for a word (indirect write) or a word to
 * read (indirect read; also set once a read has ended with its last bytes in the FIFO). */
#define QSPI_FIFO_WORD 3u

/* The wait itself, out of line: the check that usually succeeds at once (wait_sr) stays a leaf
 * that needs no stack frame, which matters on the per-word path of the data phase. */
static int __attribute__((noinline)) wait_sr_timed(uint32_t mask, uint32_t want, uint32_t ms)
{
    timeout_t t;
    timeout_start(&t, ms);
    while ((QSPI->SR & mask) != want) {
        if (timeout_expired(&t))
            return 0;
    }
    return 1;
}

static inline int wait_sr(uint32_t mask, uint32_t want, uint32_t ms)
{
    return (QSPI->SR & mask) == want || wait_sr_timed(mask, want, ms);
}

void qspi_abort(void)
{
    /* Memory-mapped and polling modes only end with ABORT; so does a stuck transfer. */
    uint32_t fmode = QSPI->CCR & CCR_FMODE_MASK;
    if ((QSPI->SR & QSPI_SR_BUSY) || fmode == CCR_FMODE(FMODE_MAPPED) || fmode == CCR_FMODE(FMODE_POLL)) {
        QSPI->CR |= QSPI_CR_ABORT;
        timeout_t t;
        timeout_start(&t, QSPI_FLAG_TIMEOUT_MS);
        while ((QSPI->CR & QSPI_CR_ABORT) || (QSPI->SR & QSPI_SR_BUSY)) {
            if (timeout_expired(&t))
                break;
        }
    }
    QSPI->FCR = QSPI_FCR_ALL;
}

void qspi_setup(void)
{
    qspi_abort();
    QSPI->CR = 0u;                              /* EN = 0: CR and DCR may be reprogrammed */
    QSPI->CR = QSPI_CR_PRESCALER(QSPI_PRESCALER) | QSPI_CR_SSHIFT | QSPI_CR_APMS | QSPI_CR_BANK
             | QSPI_CR_FTHRES(QSPI_FIFO_WORD);
    QSPI->DCR = QSPI_DCR_FSIZE(QSPI_FSIZE) | QSPI_DCR_CSHT(QSPI_CSHT);
    QSPI->CR |= QSPI_CR_EN;
}

/* How many words may move after one status read that showed FTF: FTF alone guarantees one (room
 * for a word when writing, a word to read when reading); FLEVEL tells how many more. */
static uint32_t fifo_words(int reading, uint32_t sr)
{
    uint32_t level = QSPI_SR_FLEVEL(sr);
    uint32_t bytes = reading ? level : (level < QSPI_FIFO_BYTES ? QSPI_FIFO_BYTES - level : 0u);
    return bytes >= 4u ? bytes / 4u : 1u;
}

/* The data phase: 32-bit DR accesses while a whole word is left and the buffer is word-aligned,
 * as many as the FIFO allows per status read; single bytes for an unaligned head and the tail. */
static int move_data(int reading, uint8_t *data, uint32_t len)
{
    volatile uint8_t *dr8 = (volatile uint8_t *)&QSPI->DR;
    uint32_t i = 0;
    while (i < len) {
        uint32_t sr = QSPI->SR;
        if (!(sr & QSPI_SR_FTF)) {
            if (!wait_sr_timed(QSPI_SR_FTF, QSPI_SR_FTF, QSPI_FLAG_TIMEOUT_MS))
                return 0;
            sr = QSPI->SR;
        }
        if (len - i >= 4u && ((uint32_t)(uintptr_t)(data + i) & 3u) == 0u) {
            uint32_t words = fifo_words(reading, sr);
            if (words > (len - i) / 4u)
                words = (len - i) / 4u;
            uint32_t *word = (uint32_t *)(void *)(data + i);
            i += 4u * words;
            if (reading) {
                while (words--)
                    *word++ = QSPI->DR;
            } else {
                while (words--)
                    QSPI->DR = *word++;
            }
        } else {
            if (reading)
                data[i] = *dr8;
            else
                *dr8 = data[i];
            i++;
        }
    }
    return 1;
}

int qspi_run(uint32_t ccr, uint32_t addr, uint8_t *data, uint32_t len)
{
    if (!wait_sr(QSPI_SR_BUSY, 0u, QSPI_FLAG_TIMEOUT_MS))
        return 0;
    QSPI->FCR = QSPI_FCR_ALL;
    if (len)
        QSPI->DLR = len - 1u;
    QSPI->CCR = ccr;
    if (ccr & CCR_ADMODE_MASK)
        QSPI->AR = addr;
    if (!move_data((ccr & CCR_FMODE_MASK) == CCR_FMODE(FMODE_READ), data, len)) {
        qspi_abort();
        return 0;
    }
    if (!wait_sr(QSPI_SR_TCF, QSPI_SR_TCF, QSPI_FLAG_TIMEOUT_MS)) {
        qspi_abort();
        return 0;
    }
    QSPI->FCR = QSPI_FCR_ALL;
    return (QSPI->SR & QSPI_SR_TEF) == 0u;
}

int qspi_poll(uint32_t ccr, uint32_t mask, uint32_t match, uint32_t ms)
{
    if (!wait_sr(QSPI_SR_BUSY, 0u, QSPI_FLAG_TIMEOUT_MS))
        return 0;
    QSPI->FCR = QSPI_FCR_ALL;
    QSPI->PSMKR = mask;
    QSPI->PSMAR = match;
    QSPI->PIR = 0x10u;                          /* 16 CLK cycles between two status reads */
    QSPI->DLR = NOR_CHIPS - 1u;                 /* one status byte per chip */
    QSPI->CCR = ccr | CCR_DMODE(1) | CCR_FMODE(FMODE_POLL);
    if (!wait_sr(QSPI_SR_SMF, QSPI_SR_SMF, ms)) {
        qspi_abort();
        return 0;
    }
    QSPI->FCR = QSPI_FCR_ALL;
    return wait_sr(QSPI_SR_BUSY, 0u, QSPI_FLAG_TIMEOUT_MS);   /* APMS = 1: polling stops by itself */
}

int qspi_map(void)
{
    if (!wait_sr(QSPI_SR_BUSY, 0u, QSPI_FLAG_TIMEOUT_MS))
        return 0;
    QSPI->ABR = READ_MODE_BYTE;
    QSPI->CCR = READ_CCR | CCR_FMODE(FMODE_MAPPED);
    return 1;
}

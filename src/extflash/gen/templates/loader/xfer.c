/* Indirect commands and status polling, their data phase and the flag waits, shared by the
 * QUADSPI and the OCTOSPI/XSPI drivers (each writes its own command registers: ctl_issue). The
 * three controllers have the same SR flags (TEF, TCF, FTF, SMF, BUSY, FLEVEL at bit 8), the same
 * FCR, DLR, AR, PSMKR, PSMAR and PIR, and a FIFO reached through one DR, only at different
 * offsets (regs.h CTL) (peripherals.md §2.2-2.3, §4.2, §6.2). FTF with FTHRES = 3 means room for
 * a word (indirect write) or a word to read (indirect read; also set once a read has ended with
 * its last bytes in the FIFO). */
#include "loader.h"

/* The wait itself, out of line: the check that usually succeeds at once (ctl_wait) stays a leaf
 * that needs no stack frame, which matters on the per-word path of the data phase. */
int __attribute__((noinline)) ctl_wait_timed(uint32_t mask, uint32_t want, uint32_t ms)
{
    timeout_t t;
    timeout_start(&t, ms);
    while ((CTL->SR & mask) != want) {
        if (timeout_expired(&t))
            return 0;
    }
    return 1;
}

/* ctl_wait(CTL_SR_FTF, CTL_SR_FTF, ...) written for this loop: through ctl_wait, gcc 12 at -O2
 * sets up the timed wait's arguments before the test, three more instructions a word (a page
 * program 662 -> 840 instructions). */
static inline __attribute__((always_inline)) int ready(void)
{
    return (CTL->SR & CTL_SR_FTF) || ctl_wait_timed(CTL_SR_FTF, CTL_SR_FTF, CTL_FLAG_TIMEOUT_MS);
}

/* The data phase: 32-bit DR accesses while the buffer is word-aligned and a whole word is left,
 * single bytes for the rest; each after FTF (room for a word when writing, a word to read when
 * reading; a read that has ended sets it for its last bytes too). One status read per word, as
 * HAL's byte loop makes per byte: the bus drains a word in 8 clocks at 4 lines, so the core does
 * not wait on it, and the loop is one turn per word that the virtual board runs at once (its
 * data-loop summaries, README "Speed"). */
int ctl_move_data(int reading, uint8_t *data, uint32_t len)
{
    volatile uint8_t *dr8 = (volatile uint8_t *)&CTL->DR;
    uint32_t words = ((uint32_t)(uintptr_t)data & 3u) == 0u ? len / 4u : 0u;
    uint32_t *word = (uint32_t *)(void *)data;
    if (reading) {
        for (; words; words--, word++) {
            if (!ready())
                return 0;
            *word = CTL->DR;
        }
    } else {
        for (; words; words--, word++) {
            if (!ready())
                return 0;
            CTL->DR = *word;
        }
    }
    for (uint8_t *byte = (uint8_t *)word; byte < data + len; byte++) {
        if (!ready())
            return 0;
        if (reading)
            *byte = *dr8;
        else
            *dr8 = *byte;
    }
    return 1;
}

/* The status once any of ``mask`` is set in it, or 0 when ``ms`` pass first. */
uint32_t __attribute__((noinline)) ctl_any_timed(uint32_t mask, uint32_t ms)
{
    timeout_t t;
    timeout_start(&t, ms);
    for (;;) {
        uint32_t sr = CTL->SR;
        if (sr & mask)
            return sr;
        if (timeout_expired(&t))
            return 0u;
    }
}

/* Every command starts here: the controller idle (its registers may be written only with
 * BUSY = 0) and the flags cleared, so no flag an earlier command left (its TCF, a poll's SMF)
 * ends this one's waits; they are not cleared again after it (one register write fewer per
 * command). */
static inline __attribute__((always_inline)) int begin_command(void)
{
    if (!ctl_wait(CTL_SR_BUSY, 0u, CTL_FLAG_TIMEOUT_MS))
        return 0;
    CTL->FCR = CTL_FCR_ALL;
    return 1;
}

/* One indirect command: the controller driver writes its command registers (ctl_issue, in the
 * order that starts the command), then the data phase and the end of transfer. */
int qspi_run(ctl_cmd_t cmd, uint32_t addr, uint8_t *data, uint32_t len)
{
    if (!begin_command())
        return 0;
    if (len)
        CTL->DLR = len - 1u;
    ctl_issue(cmd, addr);
    /* TCF ends the transfer; TEF (an address beyond the device size) fails it */
    int reading = ((uint32_t)cmd & CCR_FMODE_MASK) == CCR_FMODE(FMODE_READ);
    uint32_t sr = ctl_move_data(reading, data, len)
                ? ctl_any(CTL_SR_TCF | CTL_SR_TEF, CTL_FLAG_TIMEOUT_MS) : 0u;
    if (!(sr & CTL_SR_TCF) || (sr & CTL_SR_TEF)) {
        qspi_abort();
        return 0;
    }
    return 1;
}

/* An instruction alone, issued and not waited for: nothing can fail in it (TEF needs an address),
 * the next command's BUSY wait sees it end, and that command clears the TCF it leaves with the
 * other flags. A page program's write enable so needs one status read fewer. */
int qspi_send(ctl_cmd_t cmd)
{
    if (!begin_command())
        return 0;
    ctl_issue(cmd, 0u);
    return 1;
}

/* PSMKR and PSMAR as the last poll wrote them (poll_known: since the last qspi_abort, which
 * qspi_setup runs first). Every page's busy poll has the same mask and match, so only a change
 * (the write-enable check's) writes them, and this RAM, again. */
static uint32_t poll_mask, poll_match;
static int poll_known;

void ctl_forget(void)
{
    poll_known = 0;
}

/* Automatic status polling until (status & mask) == match, within ``ms`` (the interval between
 * two status reads is set once, by qspi_setup: CTL_POLL_INTERVAL). */
int qspi_poll(ctl_cmd_t cmd, uint32_t mask, uint32_t match, uint32_t bytes, uint32_t ms)
{
    if (!begin_command())
        return 0;
    if (!poll_known || mask != poll_mask || match != poll_match) {
        CTL->PSMKR = poll_mask = mask;
        CTL->PSMAR = poll_match = match;
        poll_known = 1;
    }
    CTL->DLR = bytes - 1u;                      /* one status byte per chip */
    ctl_issue(cmd | CCR_FMODE(FMODE_POLL), 0u);
    if (!ctl_wait(CTL_SR_SMF, CTL_SR_SMF, ms)) {
        qspi_abort();
        return 0;
    }
    return 1;   /* APMS = 1: the polling stops by itself; what comes next waits for BUSY = 0 */
}

/* QUADSPI controller driver: indirect commands, automatic status polling, memory-mapped mode
 * (the command sequence, the data phase and flag waits are in xfer.c).
 * Register write order follows the reference manual's start-trigger rules: DLR, ABR, CCR, then AR;
 * a command starts on the CCR write (no address, no data to send), the AR write (address, no data
 * to send) or the first DR write (indirect write with data). */
#include "loader.h"

void qspi_abort(void)
{
    ctl_forget();
    /* Memory-mapped and polling modes only end with ABORT; so does a stuck transfer. */
    uint32_t fmode = QSPI->CCR & CCR_FMODE_MASK;
    if ((QSPI->SR & CTL_SR_BUSY) || fmode == CCR_FMODE(FMODE_MAPPED) || fmode == CCR_FMODE(FMODE_POLL)) {
        QSPI->CR |= QSPI_CR_ABORT;
        timeout_t t;
        timeout_start(&t, CTL_FLAG_TIMEOUT_MS);
        while ((QSPI->CR & QSPI_CR_ABORT) || (QSPI->SR & CTL_SR_BUSY)) {
            if (timeout_expired(&t))
                break;
        }
    }
    QSPI->FCR = CTL_FCR_ALL;
}

/* CR while the controller runs (EN set last) and DCR: what qspi_setup writes. */
#define CR_RUN (QSPI_CR_PRESCALER(QSPI_PRESCALER) | QSPI_CR_SSHIFT | QSPI_CR_APMS | QSPI_CR_BANK \
                | QSPI_CR_FTHRES(CTL_FIFO_WORD) | QSPI_CR_EN)
#define DCR_RUN (QSPI_DCR_FSIZE(QSPI_FSIZE) | QSPI_DCR_CSHT(QSPI_CSHT))

int qspi_setup(void)
{
    qspi_abort();
    QSPI->CR = 0u;                              /* EN = 0: CR and DCR may be reprogrammed */
    QSPI->CR = CR_RUN & ~QSPI_CR_EN;
    QSPI->DCR = DCR_RUN;
    QSPI->PIR = CTL_POLL_INTERVAL;              /* written while BUSY = 0 (after the abort) */
    QSPI->CR = CR_RUN;
    return 1;
}

/* A command starts on the CCR write when it has no address (and nothing to send), else on the AR
 * write (RM0433 QUADSPI indirect mode). */
void ctl_issue(ctl_cmd_t cmd, uint32_t addr)
{
    QSPI->CCR = cmd;
    if (cmd & CCR_ADMODE_MASK)
        QSPI->AR = addr;
}

int qspi_map(void)
{
    if (!ctl_wait(CTL_SR_BUSY, 0u, CTL_FLAG_TIMEOUT_MS))
        return 0;
    QSPI->ABR = READ_MODE_BYTE;
    QSPI->CCR = READ_CCR | CCR_FMODE(FMODE_MAPPED);
    return 1;
}

/* Does the controller hold exactly what qspi_setup and qspi_map leave: memory-mapped with the read
 * command, this clock and this device size? Registers read back what was written (reserved bits
 * as 0), and a reset of the controller (system reset, RCC peripheral reset) or another set-up
 * changes at least one of them. */
int qspi_still_mapped(void)
{
    return QSPI->CR == CR_RUN && QSPI->DCR == DCR_RUN && QSPI->ABR == READ_MODE_BYTE
        && QSPI->CCR == (READ_CCR | CCR_FMODE(FMODE_MAPPED));
}

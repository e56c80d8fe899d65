/*
 * QUADSPI driver in the HAL's register order. See hal_qspi.h for why the order matters.
 */
#include "hal_qspi.h"

#define QSPI_ABORT_TIMEOUT_MS 5000u

static HAL_StatusTypeDef wait_sr(QSPI_HandleTypeDef *h, uint32_t flag, uint32_t state,
                                 uint32_t timeout)
{
    return HAL_WaitForFlag(&h->Instance->SR, flag, state ? flag : 0u, timeout);
}

HAL_StatusTypeDef HAL_QSPI_Init(QSPI_HandleTypeDef *h)
{
    QUADSPI_TypeDef *q = h->Instance;
    q->CR = (q->CR & ~QSPI_CR_FTHRES_MASK)
            | ((h->Init.FifoThreshold - 1u) << QSPI_CR_FTHRES_POS);
    if (wait_sr(h, QSPI_SR_BUSY, 0u, HAL_QSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->CR = (q->CR & ~(QSPI_CR_PRESCALER_MASK | QSPI_CR_SSHIFT | QSPI_CR_FSEL | QSPI_CR_DFM))
            | (h->Init.ClockPrescaler << QSPI_CR_PRESCALER_POS) | h->Init.SampleShifting
            | h->Init.FlashID | h->Init.DualFlash;
    q->DCR = (q->DCR & ~(QSPI_DCR_FSIZE_MASK | QSPI_DCR_CSHT_MASK | QSPI_DCR_CKMODE))
             | (h->Init.FlashSize << QSPI_DCR_FSIZE_POS)
             | (h->Init.ChipSelectHighTime << QSPI_DCR_CSHT_POS) | h->Init.ClockMode;
    q->CR |= QSPI_CR_EN;
    return HAL_OK;
}

/* The HAL's QSPI_Config: DLR, ABR, CCR, then AR. In indirect read or polling mode with an
 * address, the AR write starts the command; with neither address nor data, the CCR write does. */
static void QSPI_Config(QSPI_HandleTypeDef *h, const QSPI_CommandTypeDef *cmd, uint32_t fmode)
{
    QUADSPI_TypeDef *q = h->Instance;
    if (cmd->DataMode != 0u && fmode != QSPI_FMODE_MEMORY_MAPPED) {
        q->DLR = cmd->NbData - 1u;
    }
    if (cmd->AlternateByteMode != 0u) {
        q->ABR = cmd->AlternateBytes;
    }
    q->CCR = cmd->SIOOMode | cmd->AlternateBytesSize | cmd->AlternateByteMode
             | (cmd->DummyCycles << QSPI_CCR_DCYC_POS) | cmd->DataMode | cmd->AddressSize
             | cmd->AddressMode | cmd->InstructionMode
             | (cmd->Instruction << QSPI_CCR_INSTRUCTION_POS) | (fmode << QSPI_CCR_FMODE_POS);
    if (cmd->AddressMode != 0u && fmode != QSPI_FMODE_MEMORY_MAPPED) {
        q->AR = cmd->Address;
    }
}

HAL_StatusTypeDef HAL_QSPI_Command(QSPI_HandleTypeDef *h, const QSPI_CommandTypeDef *cmd,
                                   uint32_t timeout)
{
    if (wait_sr(h, QSPI_SR_BUSY, 0u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    /* Always configured as an indirect write: a command with data waits for Transmit's first
     * DR write, or for Receive to switch FMODE and re-write AR. */
    QSPI_Config(h, cmd, QSPI_FMODE_INDIRECT_WRITE);
    if (cmd->DataMode == 0u) {
        if (wait_sr(h, QSPI_SR_TCF, 1u, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        h->Instance->FCR = QSPI_FCR_CTCF;
    }
    return HAL_OK;
}

HAL_StatusTypeDef HAL_QSPI_Transmit(QSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout)
{
    QUADSPI_TypeDef *q = h->Instance;
    uint32_t count = q->DLR + 1u;
    q->FCR = QSPI_FCR_CTEF | QSPI_FCR_CTCF;
    q->CCR = (q->CCR & ~QSPI_CCR_FMODE_MASK) | (QSPI_FMODE_INDIRECT_WRITE << QSPI_CCR_FMODE_POS);
    while (count > 0u) {
        if (wait_sr(h, QSPI_SR_FTF, 1u, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        *(volatile uint8_t *)&q->DR = *data++;
        count--;
    }
    if (wait_sr(h, QSPI_SR_TCF, 1u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->FCR = QSPI_FCR_CTCF;
    return HAL_OK;
}

HAL_StatusTypeDef HAL_QSPI_Receive(QSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout)
{
    QUADSPI_TypeDef *q = h->Instance;
    uint32_t count = q->DLR + 1u;
    uint32_t address = q->AR;
    q->FCR = QSPI_FCR_CTEF | QSPI_FCR_CTCF;
    /* Switching FMODE starts an address-less read (RDID, RDSR); re-writing AR starts a read
     * with an address (and is ignored by a controller that is already busy). */
    q->CCR = (q->CCR & ~QSPI_CCR_FMODE_MASK) | (QSPI_FMODE_INDIRECT_READ << QSPI_CCR_FMODE_POS);
    q->AR = address;
    while (count > 0u) {
        /* FTF: the FIFO holds data; TCF: the transfer ended with bytes left in the FIFO */
        uint32_t start = HAL_GetTick();
        while ((q->SR & (QSPI_SR_FTF | QSPI_SR_TCF)) == 0u) {
            if ((HAL_GetTick() - start) > timeout) {
                return HAL_TIMEOUT;
            }
        }
        *data++ = *(volatile uint8_t *)&q->DR;
        count--;
    }
    if (wait_sr(h, QSPI_SR_TCF, 1u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->FCR = QSPI_FCR_CTCF;
    return HAL_OK;
}

HAL_StatusTypeDef HAL_QSPI_AutoPolling(QSPI_HandleTypeDef *h, QSPI_CommandTypeDef *cmd,
                                       const QSPI_AutoPollingTypeDef *cfg, uint32_t timeout)
{
    QUADSPI_TypeDef *q = h->Instance;
    if (wait_sr(h, QSPI_SR_BUSY, 0u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->PSMAR = cfg->Match;
    q->PSMKR = cfg->Mask;
    q->PIR = cfg->Interval;
    /* APMS: stop at the first match, as the blocking HAL call forces */
    q->CR = (q->CR & ~(QSPI_CR_PMM | QSPI_CR_APMS)) | cfg->MatchMode | QSPI_CR_APMS;
    cmd->NbData = cfg->StatusBytesSize;
    QSPI_Config(h, cmd, QSPI_FMODE_AUTO_POLLING);
    if (wait_sr(h, QSPI_SR_SMF, 1u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->FCR = QSPI_FCR_CSMF;
    return HAL_OK;
}

HAL_StatusTypeDef HAL_QSPI_MemoryMapped(QSPI_HandleTypeDef *h, const QSPI_CommandTypeDef *cmd)
{
    QUADSPI_TypeDef *q = h->Instance;
    if (wait_sr(h, QSPI_SR_BUSY, 0u, HAL_QSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    /* No timeout counter: nCS stays low while the prefetch waits, which is what the host's
     * debug-port reads of the 0x90000000 window expect. */
    q->CR &= ~QSPI_CR_TCEN;
    QSPI_Config(h, cmd, QSPI_FMODE_MEMORY_MAPPED);
    return HAL_OK;
}

/* ABORT, wait for TCF, clear it, wait for BUSY = 0, then FMODE back to indirect write. */
HAL_StatusTypeDef HAL_QSPI_Abort(QSPI_HandleTypeDef *h)
{
    QUADSPI_TypeDef *q = h->Instance;
    if ((q->SR & QSPI_SR_BUSY) == 0u) {
        return HAL_OK;
    }
    q->CR |= QSPI_CR_ABORT;
    if (wait_sr(h, QSPI_SR_TCF, 1u, QSPI_ABORT_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->FCR = QSPI_FCR_CTCF;
    if (wait_sr(h, QSPI_SR_BUSY, 0u, QSPI_ABORT_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    q->CCR &= ~QSPI_CCR_FMODE_MASK;
    return HAL_OK;
}

int HAL_QSPI_IsMemoryMapped(const QSPI_HandleTypeDef *h)
{
    return (h->Instance->CCR & QSPI_CCR_FMODE_MASK)
           == (QSPI_FMODE_MEMORY_MAPPED << QSPI_CCR_FMODE_POS);
}

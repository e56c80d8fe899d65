/*
 * OCTOSPI/XSPI driver in the HAL's order (peripherals.md §4.3). The order matters because the
 * controller starts a command on a register write, not on a "go" bit: on IR when there is
 * neither address nor data, on AR when there is an address, on DR for an indirect write with
 * data; a CCR write never starts anything. Data moves one BYTE at a time through DR, with an
 * FTF (or TCF) poll and a HAL_GetTick timeout check around every byte, as the HAL does.
 */
#include "hal_ospi.h"

#define MODIFY_REG(reg, clear, set) ((reg) = (((reg) & ~(clear)) | (set)))

static HAL_StatusTypeDef wait_sr(OSPI_HandleTypeDef *h, uint32_t flag, int set,
                                 uint32_t timeout)
{
    return HAL_WaitForFlag(&h->Instance->SR, flag, set ? flag : 0u, timeout);
}

HAL_StatusTypeDef HAL_OSPI_Init(OSPI_HandleTypeDef *h)
{
    OCTOSPI_TypeDef *o = h->Instance;
    const OSPI_InitTypeDef *in = &h->Init;
#if OH_XSPI
    /* HAL_XSPI: MemorySize is the raw DEVSIZE, ClockPrescaler the raw PRESCALER */
    uint32_t devsize = in->DeviceSize;
    uint32_t prescaler = in->ClockPrescaler;
    uint32_t dcr1_clear = OSPI_DCR1_MTYP_MASK | OSPI_DCR1_DEVSIZE_MASK | OSPI_DCR1_CSHT_MASK
                          | OSPI_DCR1_CKMODE;
#else
    /* HAL_OSPI: DeviceSize counts address bits, ClockPrescaler is the divider */
    uint32_t devsize = in->DeviceSize - 1u;
    uint32_t prescaler = in->ClockPrescaler - 1u;
    uint32_t dcr1_clear = OSPI_DCR1_MTYP_MASK | OSPI_DCR1_DEVSIZE_MASK | OSPI_DCR1_CSHT_MASK
                          | OSPI_DCR1_DLYBYP | OSPI_DCR1_CKMODE;
#endif
    MODIFY_REG(o->DCR1, dcr1_clear,
               in->MemoryType | (devsize << OSPI_DCR1_DEVSIZE_POS)
               | ((in->ChipSelectHighTime - 1u) << OSPI_DCR1_CSHT_POS) | in->DelayBlockBypass
               | in->ClockMode);
    MODIFY_REG(o->DCR2, OSPI_DCR2_WRAPSIZE_MASK, 0u);
    o->DCR3 = in->ChipSelectBoundary << OSPI_DCR3_CSBOUND_POS;
    o->DCR4 = 0u; /* no refresh: a NOR flash needs none */
    MODIFY_REG(o->CR, OSPI_CR_FTHRES_MASK, (in->FifoThreshold - 1u) << OSPI_CR_FTHRES_POS);
    if (wait_sr(h, OSPI_SR_BUSY, 0, OSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    MODIFY_REG(o->DCR2, OSPI_DCR2_PRESCALER_MASK, prescaler);
    MODIFY_REG(o->CR, OSPI_CR_DQM, in->DualQuad);
    MODIFY_REG(o->TCR, OSPI_TCR_SSHIFT | OSPI_TCR_DHQC,
               in->SampleShifting | in->DelayHoldQuarterCycle);
    o->CR |= OSPI_CR_EN;
    if (in->FreeRunningClock != 0u) {
        o->DCR1 |= OSPI_DCR1_FRCK; /* FRCK only after EN */
    }
    return HAL_OK;
}

HAL_StatusTypeDef HAL_OSPI_DeInit(OSPI_HandleTypeDef *h)
{
    h->Instance->CR &= ~OSPI_CR_EN;
    return HAL_OK;
}

#if !OH_REGISTER_LEVEL
/* ospi_ll.c replaces these four with word-wise register-level versions. */

/* The HAL's OSPI_ConfigCmd: the ten steps of peripherals.md §4.3, in that order. */
static void OSPI_ConfigCmd(OSPI_HandleTypeDef *h, const OSPI_RegularCmdTypeDef *cmd)
{
    OCTOSPI_TypeDef *o = h->Instance;
    volatile uint32_t *ccr = &o->CCR, *tcr = &o->TCR, *ir = &o->IR, *abr = &o->ABR;

    o->CR &= ~OSPI_CR_FMODE_MASK;
#if OH_XSPI
    o->CR &= ~(XSPI_CR_MSEL_MASK | XSPI_CR_CSSEL); /* data on IO[7:0], nCS1 */
#else
    if (h->Init.DualQuad == 0u) {
        MODIFY_REG(o->CR, OSPI_CR_FSEL, cmd->FlashId);
    }
#endif
    if (cmd->OperationType == OSPI_OPTYPE_WRITE_CFG) {
        ccr = &o->WCCR, tcr = &o->WTCR, ir = &o->WIR, abr = &o->WABR;
    }
    *ccr = cmd->DQSMode | cmd->SIOOMode;
    if (cmd->AlternateBytesMode != 0u) {
        *abr = cmd->AlternateBytes;
        MODIFY_REG(*ccr, OSPI_CCR_ALTERNATE_FIELDS,
                   cmd->AlternateBytesMode | cmd->AlternateBytesDtrMode
                   | cmd->AlternateBytesSize);
    }
    MODIFY_REG(*tcr, OSPI_TCR_DCYC_MASK, cmd->DummyCycles);
    if (cmd->DataMode != 0u && cmd->OperationType == OSPI_OPTYPE_COMMON_CFG) {
        o->DLR = cmd->NbData - 1u;
    }
    uint32_t fields = OSPI_CCR_INSTRUCTION_FIELDS;
    uint32_t value = cmd->InstructionMode | cmd->InstructionDtrMode | cmd->InstructionSize;
    if (cmd->AddressMode != 0u) {
        fields |= OSPI_CCR_ADDRESS_FIELDS;
        value |= cmd->AddressMode | cmd->AddressDtrMode | cmd->AddressSize;
    }
    if (cmd->DataMode != 0u) {
        fields |= OSPI_CCR_DATA_FIELDS;
        value |= cmd->DataMode | cmd->DataDtrMode;
    }
    MODIFY_REG(*ccr, fields, value);
    *ir = cmd->Instruction;
    if (cmd->AddressMode != 0u) {
        o->AR = cmd->Address;
    }
}

HAL_StatusTypeDef HAL_OSPI_Command(OSPI_HandleTypeDef *h, const OSPI_RegularCmdTypeDef *cmd,
                                   uint32_t timeout)
{
    if (wait_sr(h, OSPI_SR_BUSY, 0, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    OSPI_ConfigCmd(h, cmd);
    if (cmd->DataMode == 0u) {
        /* The IR or AR write started it: wait for the end before the next command. */
        if (wait_sr(h, OSPI_SR_TCF, 1, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        h->Instance->FCR = OSPI_FCR_CTCF;
    }
    return HAL_OK;
}

HAL_StatusTypeDef HAL_OSPI_Transmit(OSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    uint32_t count = o->DLR + 1u;
    MODIFY_REG(o->CR, OSPI_CR_FMODE_MASK, OSPI_FMODE_INDIRECT_WRITE << OSPI_CR_FMODE_POS);
    do {
        if (wait_sr(h, OSPI_SR_FTF, 1, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        *(volatile uint8_t *)&o->DR = *data++; /* the first write starts the command */
    } while (--count != 0u);
    if (wait_sr(h, OSPI_SR_TCF, 1, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CTCF;
    return HAL_OK;
}

/* Switching to indirect read does not start the command: re-writing AR (or IR when there is
 * no address) does, with the values OSPI_ConfigCmd left there. */
static void start_read(OCTOSPI_TypeDef *o, uint32_t fmode)
{
    uint32_t address = o->AR;
    uint32_t instruction = o->IR;
    MODIFY_REG(o->CR, OSPI_CR_FMODE_MASK, fmode << OSPI_CR_FMODE_POS);
    if ((o->CCR & (7u << OSPI_CCR_ADMODE_POS)) != 0u) {
        o->AR = address;
    } else {
        o->IR = instruction;
    }
}

HAL_StatusTypeDef HAL_OSPI_Receive(OSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    uint32_t count = o->DLR + 1u;
    start_read(o, OSPI_FMODE_INDIRECT_READ);
    do {
        /* FTF: the FIFO holds data; TCF: the transfer ended with bytes left in the FIFO */
        uint32_t start = HAL_GetTick();
        while ((o->SR & (OSPI_SR_FTF | OSPI_SR_TCF)) == 0u) {
            if ((HAL_GetTick() - start) > timeout) {
                return HAL_TIMEOUT;
            }
        }
        *data++ = *(volatile uint8_t *)&o->DR;
    } while (--count != 0u);
    if (wait_sr(h, OSPI_SR_TCF, 1, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CTCF;
    return HAL_OK;
}

/* After HAL_OSPI_Command configured the status read (with data, so it did not start). */
HAL_StatusTypeDef HAL_OSPI_AutoPolling(OSPI_HandleTypeDef *h, const OSPI_AutoPollingTypeDef *cfg,
                                       uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    if (wait_sr(h, OSPI_SR_BUSY, 0, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->PSMAR = cfg->Match;
    o->PSMKR = cfg->Mask;
    o->PIR = cfg->Interval;
    MODIFY_REG(o->CR, OSPI_CR_PMM | OSPI_CR_APMS, cfg->MatchMode | cfg->AutomaticStop);
    start_read(o, OSPI_FMODE_AUTO_POLLING);
    if (wait_sr(h, OSPI_SR_SMF, 1, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CSMF; /* with APMS the command ends here; the next one waits for BUSY */
    return HAL_OK;
}

#endif

/* After HAL_OSPI_Command configured the read (and, for writes through the window, WCCR). */
HAL_StatusTypeDef HAL_OSPI_MemoryMapped(OSPI_HandleTypeDef *h,
                                        const OSPI_MemoryMappedTypeDef *cfg)
{
    OCTOSPI_TypeDef *o = h->Instance;
    if (wait_sr(h, OSPI_SR_BUSY, 0, OSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    if (cfg->TimeOutActivation != 0u) {
        o->LPTR = cfg->TimeOutPeriod;
        o->FCR = OSPI_FCR_CTOF;
    }
    MODIFY_REG(o->CR, OSPI_CR_TCEN | OSPI_CR_FMODE_MASK,
               cfg->TimeOutActivation | (OSPI_FMODE_MEMORY_MAPPED << OSPI_CR_FMODE_POS));
    return HAL_OK;
}

/* ABORT, wait for TCF, clear it, wait for BUSY = 0 (HAL_OSPI_Abort). */
HAL_StatusTypeDef HAL_OSPI_Abort(OSPI_HandleTypeDef *h)
{
    OCTOSPI_TypeDef *o = h->Instance;
    if ((o->SR & OSPI_SR_BUSY) == 0u) {
        return HAL_OK;
    }
    o->CR |= OSPI_CR_ABORT;
    if (wait_sr(h, OSPI_SR_TCF, 1, OSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CTCF;
    return wait_sr(h, OSPI_SR_BUSY, 0, OSPI_TIMEOUT_DEFAULT_VALUE);
}

int HAL_OSPI_IsMemoryMapped(const OSPI_HandleTypeDef *h)
{
    return (h->Instance->CR & OSPI_CR_FMODE_MASK)
           == (OSPI_FMODE_MEMORY_MAPPED << OSPI_CR_FMODE_POS);
}

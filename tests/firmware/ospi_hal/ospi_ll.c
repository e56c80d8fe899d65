/*
 * Register-level variant (OH_REGISTER_LEVEL = 1) of Command, Transmit, Receive and
 * AutoPolling, for the benchmark: the way hand-written community loaders drive the controller.
 * Each command is one burst of register writes (FMODE first, then DLR, ABR, TCR, CCR, IR, AR)
 * and data moves through DR a 32-bit WORD at a time while at least four bytes remain; the
 * tick is only read while a flag is not yet set. The start triggers are the controller's
 * (peripherals.md §4.3), so the last of IR/AR/DR still starts the command.
 */
#include "hal_ospi.h"

#if OH_REGISTER_LEVEL

static HAL_StatusTypeDef wait(OCTOSPI_TypeDef *o, uint32_t flags, uint32_t timeout)
{
    if ((o->SR & flags) != 0u) {
        return HAL_OK;
    }
    uint32_t start = HAL_GetTick();
    while ((o->SR & flags) == 0u) {
        if ((HAL_GetTick() - start) > timeout) {
            return HAL_TIMEOUT;
        }
    }
    return HAL_OK;
}

static HAL_StatusTypeDef idle(OCTOSPI_TypeDef *o, uint32_t timeout)
{
    return HAL_WaitForFlag(&o->SR, OSPI_SR_BUSY, 0u, timeout);
}

HAL_StatusTypeDef HAL_OSPI_Command(OSPI_HandleTypeDef *h, const OSPI_RegularCmdTypeDef *cmd,
                                   uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    if (idle(o, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    uint32_t ccr = cmd->DQSMode | cmd->SIOOMode | cmd->InstructionMode | cmd->InstructionDtrMode
                   | cmd->InstructionSize | cmd->AddressMode | cmd->AddressDtrMode
                   | cmd->AddressSize | cmd->AlternateBytesMode | cmd->AlternateBytesDtrMode
                   | cmd->AlternateBytesSize | cmd->DataMode | cmd->DataDtrMode;
    /* indirect write: a command with data waits for DR, Receive or AutoPolling */
    o->CR &= ~OSPI_CR_FMODE_MASK;
    if (cmd->OperationType == OSPI_OPTYPE_WRITE_CFG) {
        o->WABR = cmd->AlternateBytes;
        o->WTCR = cmd->DummyCycles;
        o->WCCR = ccr;
        o->WIR = cmd->Instruction;
        return HAL_OK;
    }
    if (cmd->DataMode != 0u && cmd->OperationType == OSPI_OPTYPE_COMMON_CFG) {
        o->DLR = cmd->NbData - 1u;
    }
    o->ABR = cmd->AlternateBytes;
    o->TCR = (o->TCR & ~OSPI_TCR_DCYC_MASK) | cmd->DummyCycles;
    o->CCR = ccr;
    o->IR = cmd->Instruction;
    if (cmd->AddressMode != 0u) {
        o->AR = cmd->Address;
    }
    if (cmd->DataMode == 0u) {
        if (wait(o, OSPI_SR_TCF, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        o->FCR = OSPI_FCR_CTCF;
    }
    return HAL_OK;
}

HAL_StatusTypeDef HAL_OSPI_Transmit(OSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    uint32_t count = o->DLR + 1u;
    while (count != 0u) {
        /* FTF with FTHRES = 4: at least four bytes of the FIFO are free */
        if (wait(o, OSPI_SR_FTF, timeout) != HAL_OK) {
            return HAL_TIMEOUT;
        }
        if (count >= 4u) {
            uint32_t word = (uint32_t)data[0] | ((uint32_t)data[1] << 8)
                            | ((uint32_t)data[2] << 16) | ((uint32_t)data[3] << 24);
            o->DR = word;
            data += 4, count -= 4u;
        } else {
            *(volatile uint8_t *)&o->DR = *data++;
            count--;
        }
    }
    if (wait(o, OSPI_SR_TCF, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CTCF;
    return HAL_OK;
}

static void start(OCTOSPI_TypeDef *o, uint32_t fmode)
{
    uint32_t address = o->AR;
    o->CR = (o->CR & ~OSPI_CR_FMODE_MASK) | (fmode << OSPI_CR_FMODE_POS);
    if ((o->CCR & (7u << OSPI_CCR_ADMODE_POS)) != 0u) {
        o->AR = address;
    } else {
        o->IR = o->IR;
    }
}

HAL_StatusTypeDef HAL_OSPI_Receive(OSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    uint32_t count = o->DLR + 1u;
    start(o, OSPI_FMODE_INDIRECT_READ);
    while (count != 0u) {
        if (count >= 4u) {
            /* FTF with FTHRES = 4: four bytes are waiting */
            if (wait(o, OSPI_SR_FTF, timeout) != HAL_OK) {
                return HAL_TIMEOUT;
            }
            uint32_t word = o->DR;
            data[0] = (uint8_t)word;
            data[1] = (uint8_t)(word >> 8);
            data[2] = (uint8_t)(word >> 16);
            data[3] = (uint8_t)(word >> 24);
            data += 4, count -= 4u;
        } else {
            /* the tail: TCF says the transfer ended with these bytes in the FIFO */
            if (wait(o, OSPI_SR_FTF | OSPI_SR_TCF, timeout) != HAL_OK) {
                return HAL_TIMEOUT;
            }
            *data++ = *(volatile uint8_t *)&o->DR;
            count--;
        }
    }
    if (wait(o, OSPI_SR_TCF, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CTCF;
    return HAL_OK;
}

HAL_StatusTypeDef HAL_OSPI_AutoPolling(OSPI_HandleTypeDef *h, const OSPI_AutoPollingTypeDef *cfg,
                                       uint32_t timeout)
{
    OCTOSPI_TypeDef *o = h->Instance;
    o->PSMAR = cfg->Match;
    o->PSMKR = cfg->Mask;
    o->PIR = cfg->Interval;
    o->CR = (o->CR & ~(OSPI_CR_PMM | OSPI_CR_APMS)) | cfg->MatchMode | cfg->AutomaticStop;
    start(o, OSPI_FMODE_AUTO_POLLING);
    if (wait(o, OSPI_SR_SMF, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->FCR = OSPI_FCR_CSMF;
    return HAL_OK;
}

#endif

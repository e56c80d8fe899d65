/* The XSPI HAL subset of hal_xspi.h over the test HAL of tests/firmware/ospi_hal (the same
 * register layout): each call forwards to its HAL_OSPI_* counterpart. */
#include "hal_xspi.h"

static OSPI_HandleTypeDef ospi(XSPI_HandleTypeDef *h)
{
    OSPI_HandleTypeDef o = {0};
    o.Instance = h->Instance;
    return o;
}

HAL_StatusTypeDef HAL_XSPI_Command(XSPI_HandleTypeDef *h, const XSPI_RegularCmdTypeDef *cmd,
                                   uint32_t timeout)
{
    OSPI_HandleTypeDef o = ospi(h);
    OSPI_RegularCmdTypeDef c = {0};
    c.OperationType = cmd->OperationType;
    c.Instruction = cmd->Instruction;
    c.InstructionMode = cmd->InstructionMode;
    c.InstructionSize = cmd->InstructionWidth;
    c.InstructionDtrMode = cmd->InstructionDTRMode;
    c.Address = cmd->Address;
    c.AddressMode = cmd->AddressMode;
    c.AddressSize = cmd->AddressWidth;
    c.AddressDtrMode = cmd->AddressDTRMode;
    c.AlternateBytes = cmd->AlternateBytes;
    c.AlternateBytesMode = cmd->AlternateBytesMode;
    c.AlternateBytesSize = cmd->AlternateBytesWidth;
    c.AlternateBytesDtrMode = cmd->AlternateBytesDTRMode;
    c.DataMode = cmd->DataMode;
    c.NbData = cmd->DataLength;
    c.DataDtrMode = cmd->DataDTRMode;
    c.DummyCycles = cmd->DummyCycles;
    c.DQSMode = cmd->DQSMode;
    return HAL_OSPI_Command(&o, &c, timeout);
}

HAL_StatusTypeDef HAL_XSPI_Transmit(XSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout)
{
    OSPI_HandleTypeDef o = ospi(h);
    return HAL_OSPI_Transmit(&o, data, timeout);
}

HAL_StatusTypeDef HAL_XSPI_Receive(XSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout)
{
    OSPI_HandleTypeDef o = ospi(h);
    return HAL_OSPI_Receive(&o, data, timeout);
}

HAL_StatusTypeDef HAL_XSPI_AutoPolling(XSPI_HandleTypeDef *h, const XSPI_AutoPollingTypeDef *cfg,
                                       uint32_t timeout)
{
    OSPI_HandleTypeDef o = ospi(h);
    OSPI_AutoPollingTypeDef c = {cfg->MatchValue, cfg->MatchMask, cfg->MatchMode,
                                 cfg->AutomaticStop, cfg->IntervalTime};
    return HAL_OSPI_AutoPolling(&o, &c, timeout);
}

HAL_StatusTypeDef HAL_XSPI_MemoryMapped(XSPI_HandleTypeDef *h, const XSPI_MemoryMappedTypeDef *cfg)
{
    OSPI_HandleTypeDef o = ospi(h);
    OSPI_MemoryMappedTypeDef c = {cfg->TimeOutActivation, cfg->TimeoutPeriodClock};
    return HAL_OSPI_MemoryMapped(&o, &c);
}

HAL_StatusTypeDef HAL_XSPI_Abort(XSPI_HandleTypeDef *h)
{
    OSPI_HandleTypeDef o = ospi(h);
    return HAL_OSPI_Abort(&o);
}

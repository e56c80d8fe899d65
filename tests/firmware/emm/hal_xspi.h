/* The XSPI HAL subset a USER driver calls (HAL_XSPI_Command, _Transmit, _Receive, _AutoPolling,
 * _MemoryMapped, _Abort), declared from the HAL's documented API. The mode constants are the
 * register encodings (RM0477 XSPI_CCR: IMODE [2:0], ISIZE [5:4], ADMODE [10:8], ADSIZE [13:12],
 * ABMODE [18:16], ABSIZE [21:20], DMODE [26:24]; IDTR, ADDTR, ABDTR, DDTR bits 3, 11, 19, 27;
 * DQSE bit 29), so hal_xspi_shim.c passes them on to the
 * test HAL of tests/firmware/ospi_hal, whose register layout is the XSPI's. */
#ifndef HAL_XSPI_H
#define HAL_XSPI_H

#include <stddef.h>
#include "hal_ospi.h"

typedef struct {
    OCTOSPI_TypeDef *Instance;
} XSPI_HandleTypeDef;

typedef struct {
    uint32_t OperationType;
    uint32_t IOSelect;
    uint32_t Instruction;
    uint32_t InstructionMode;
    uint32_t InstructionWidth;
    uint32_t InstructionDTRMode;
    uint32_t Address;
    uint32_t AddressMode;
    uint32_t AddressWidth;
    uint32_t AddressDTRMode;
    uint32_t AlternateBytes;
    uint32_t AlternateBytesMode;
    uint32_t AlternateBytesWidth;
    uint32_t AlternateBytesDTRMode;
    uint32_t DataMode;
    uint32_t DataLength;
    uint32_t DataDTRMode;
    uint32_t DummyCycles;
    uint32_t DQSMode;
} XSPI_RegularCmdTypeDef;

typedef struct {
    uint32_t MatchValue;
    uint32_t MatchMask;
    uint32_t MatchMode;
    uint32_t AutomaticStop;
    uint32_t IntervalTime;
} XSPI_AutoPollingTypeDef;

typedef struct {
    uint32_t TimeOutActivation;
    uint32_t TimeoutPeriodClock;
} XSPI_MemoryMappedTypeDef;

#define HAL_XSPI_OPTYPE_COMMON_CFG OSPI_OPTYPE_COMMON_CFG
#define HAL_XSPI_OPTYPE_READ_CFG   OSPI_OPTYPE_READ_CFG
#define HAL_XSPI_OPTYPE_WRITE_CFG  OSPI_OPTYPE_WRITE_CFG
#define HAL_XSPI_SELECT_IO_3_0     0u
#define HAL_XSPI_SELECT_IO_7_0     0u

#define HAL_XSPI_INSTRUCTION_1_LINE       OSPI_INSTRUCTION_LINES(1)
#define HAL_XSPI_INSTRUCTION_8_LINES      OSPI_INSTRUCTION_LINES(8)
#define HAL_XSPI_INSTRUCTION_8_BITS       OSPI_INSTRUCTION_BITS(8)
#define HAL_XSPI_INSTRUCTION_16_BITS      OSPI_INSTRUCTION_BITS(16)
#define HAL_XSPI_INSTRUCTION_DTR_DISABLE  0u
#define HAL_XSPI_INSTRUCTION_DTR_ENABLE   OSPI_CCR_IDTR
#define HAL_XSPI_ADDRESS_NONE             0u
#define HAL_XSPI_ADDRESS_1_LINE           OSPI_ADDRESS_LINES(1)
#define HAL_XSPI_ADDRESS_2_LINES          OSPI_ADDRESS_LINES(2)
#define HAL_XSPI_ADDRESS_4_LINES          OSPI_ADDRESS_LINES(4)
#define HAL_XSPI_ADDRESS_8_LINES          OSPI_ADDRESS_LINES(8)
#define HAL_XSPI_ADDRESS_24_BITS          OSPI_ADDRESS_BITS(24)
#define HAL_XSPI_ADDRESS_32_BITS          OSPI_ADDRESS_BITS(32)
#define HAL_XSPI_ADDRESS_DTR_DISABLE      0u
#define HAL_XSPI_ADDRESS_DTR_ENABLE       OSPI_CCR_ADDTR
#define HAL_XSPI_ALT_BYTES_NONE           0u
#define HAL_XSPI_ALT_BYTES_1_LINE         OSPI_ALTERNATE_LINES(1)
#define HAL_XSPI_ALT_BYTES_2_LINES        OSPI_ALTERNATE_LINES(2)
#define HAL_XSPI_ALT_BYTES_4_LINES        OSPI_ALTERNATE_LINES(4)
#define HAL_XSPI_ALT_BYTES_8_BITS         OSPI_ALTERNATE_BITS(8)
#define HAL_XSPI_ALT_BYTES_DTR_DISABLE    0u
#define HAL_XSPI_DATA_NONE                0u
#define HAL_XSPI_DATA_1_LINE              OSPI_DATA_LINES(1)
#define HAL_XSPI_DATA_2_LINES             OSPI_DATA_LINES(2)
#define HAL_XSPI_DATA_4_LINES             OSPI_DATA_LINES(4)
#define HAL_XSPI_DATA_8_LINES             OSPI_DATA_LINES(8)
#define HAL_XSPI_DATA_DTR_DISABLE         0u
#define HAL_XSPI_DATA_DTR_ENABLE          OSPI_CCR_DDTR
#define HAL_XSPI_DQS_DISABLE              0u
#define HAL_XSPI_DQS_ENABLE               OSPI_CCR_DQSE
#define HAL_XSPI_MATCH_MODE_AND           0u
#define HAL_XSPI_AUTOMATIC_STOP_ENABLE    OSPI_CR_APMS
#define HAL_XSPI_TIMEOUT_COUNTER_DISABLE  0u

HAL_StatusTypeDef HAL_XSPI_Command(XSPI_HandleTypeDef *h, const XSPI_RegularCmdTypeDef *cmd,
                                   uint32_t timeout);
HAL_StatusTypeDef HAL_XSPI_Transmit(XSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_XSPI_Receive(XSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_XSPI_AutoPolling(XSPI_HandleTypeDef *h, const XSPI_AutoPollingTypeDef *cfg,
                                       uint32_t timeout);
HAL_StatusTypeDef HAL_XSPI_MemoryMapped(XSPI_HandleTypeDef *h, const XSPI_MemoryMappedTypeDef *cfg);
HAL_StatusTypeDef HAL_XSPI_Abort(XSPI_HandleTypeDef *h);

#endif

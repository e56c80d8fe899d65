/*
 * QUADSPI driver with the HAL's API shape and, more importantly, the HAL's register write
 * ORDER (peripherals.md §2.4), because that order decides when the controller starts a
 * command: Init writes FTHRES, waits for BUSY = 0, then CR, DCR and EN; a command writes DLR,
 * ABR, CCR, AR; Transmit and Receive move data one BYTE at a time through DR.
 */
#ifndef HS_HAL_QSPI_H
#define HS_HAL_QSPI_H

#include "hal.h"
#include "stm32_quadspi.h"

typedef struct {
    uint32_t ClockPrescaler;     /* raw CR.PRESCALER: CLK = kernel / (value + 1) */
    uint32_t FifoThreshold;      /* 1..16 bytes */
    uint32_t SampleShifting;     /* 0 or QSPI_CR_SSHIFT */
    uint32_t FlashSize;          /* raw DCR.FSIZE: 2^(value + 1) bytes */
    uint32_t ChipSelectHighTime; /* raw DCR.CSHT: value + 1 cycles */
    uint32_t ClockMode;          /* 0 (mode 0) or QSPI_DCR_CKMODE (mode 3) */
    uint32_t FlashID;            /* 0 = bank 1, QSPI_CR_FSEL = bank 2 */
    uint32_t DualFlash;          /* 0 or QSPI_CR_DFM */
} QSPI_InitTypeDef;

typedef struct {
    QUADSPI_TypeDef *Instance;
    QSPI_InitTypeDef Init;
} QSPI_HandleTypeDef;

/* Fields hold values already shifted into their CCR position, as in the HAL. */
typedef struct {
    uint32_t Instruction;
    uint32_t Address;
    uint32_t AlternateBytes;
    uint32_t AddressSize;
    uint32_t AlternateBytesSize;
    uint32_t DummyCycles;
    uint32_t InstructionMode;
    uint32_t AddressMode;
    uint32_t AlternateByteMode;
    uint32_t DataMode;
    uint32_t NbData;
    uint32_t SIOOMode;
} QSPI_CommandTypeDef;

typedef struct {
    uint32_t Match;
    uint32_t Mask;
    uint32_t Interval;
    uint32_t StatusBytesSize;
    uint32_t MatchMode; /* 0 = AND, QSPI_CR_PMM = OR */
} QSPI_AutoPollingTypeDef;

/* Line count n (0, 1, 2, 4) as a CCR mode field at position pos */
#define QSPI_MODE(n, pos) ((uint32_t)((n) == 4 ? QSPI_LINES_4 : (n)) << (pos))
#define QSPI_INSTRUCTION_LINES(n) QSPI_MODE(n, QSPI_CCR_IMODE_POS)
#define QSPI_ADDRESS_LINES(n)     QSPI_MODE(n, QSPI_CCR_ADMODE_POS)
#define QSPI_ALTERNATE_LINES(n)   QSPI_MODE(n, QSPI_CCR_ABMODE_POS)
#define QSPI_DATA_LINES(n)        QSPI_MODE(n, QSPI_CCR_DMODE_POS)
#define QSPI_ADDRESS_BITS(b)      ((uint32_t)((b) / 8u - 1u) << QSPI_CCR_ADSIZE_POS)
#define QSPI_ALTERNATE_BITS(b)    ((uint32_t)((b) / 8u - 1u) << QSPI_CCR_ABSIZE_POS)

#define HAL_QSPI_TIMEOUT_DEFAULT_VALUE 5000u

HAL_StatusTypeDef HAL_QSPI_Init(QSPI_HandleTypeDef *h);
HAL_StatusTypeDef HAL_QSPI_Command(QSPI_HandleTypeDef *h, const QSPI_CommandTypeDef *cmd,
                                   uint32_t timeout);
HAL_StatusTypeDef HAL_QSPI_Transmit(QSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_QSPI_Receive(QSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_QSPI_AutoPolling(QSPI_HandleTypeDef *h, QSPI_CommandTypeDef *cmd,
                                       const QSPI_AutoPollingTypeDef *cfg, uint32_t timeout);
HAL_StatusTypeDef HAL_QSPI_MemoryMapped(QSPI_HandleTypeDef *h, const QSPI_CommandTypeDef *cmd);
HAL_StatusTypeDef HAL_QSPI_Abort(QSPI_HandleTypeDef *h);
int HAL_QSPI_IsMemoryMapped(const QSPI_HandleTypeDef *h);

#endif

/*
 * OCTOSPI / XSPI driver with the HAL's API shape and register write order.
 *
 * One driver serves both controllers: XSPI (STM32H7R/S, RM0477) keeps OCTOSPI's register map
 * for everything a NOR loader uses (peripherals.md §6.2) and differs in compile-time facts,
 * selected by OH_XSPI = 1: CR has CSSEL/MSEL instead of FSEL, DCR1 has no DLYBYP, CCR has no
 * SIOO, and the HAL encodes the device size and the prescaler raw where HAL_OSPI subtracts 1.
 * Register offsets and bits: CMSIS stm32h7b3xx.h / stm32u585xx.h / stm32h7s7xx.h, checked
 * against the STM32H723, U575, L552, H563 and H7S SVD files.
 */
#ifndef OH_HAL_OSPI_H
#define OH_HAL_OSPI_H

#include <stddef.h>

#include "hal.h"

typedef struct {
    volatile uint32_t CR;    /* 0x000 */
    uint32_t reserved0;
    volatile uint32_t DCR1;  /* 0x008 */
    volatile uint32_t DCR2;  /* 0x00C */
    volatile uint32_t DCR3;  /* 0x010 */
    volatile uint32_t DCR4;  /* 0x014 */
    uint32_t reserved1[2];
    volatile uint32_t SR;    /* 0x020 */
    volatile uint32_t FCR;   /* 0x024 */
    uint32_t reserved2[6];
    volatile uint32_t DLR;   /* 0x040 */
    uint32_t reserved3;
    volatile uint32_t AR;    /* 0x048 */
    uint32_t reserved4;
    volatile uint32_t DR;    /* 0x050 */
    uint32_t reserved5[11];
    volatile uint32_t PSMKR; /* 0x080 */
    uint32_t reserved6;
    volatile uint32_t PSMAR; /* 0x088 */
    uint32_t reserved7;
    volatile uint32_t PIR;   /* 0x090 */
    uint32_t reserved8[27];
    volatile uint32_t CCR;   /* 0x100 */
    uint32_t reserved9;
    volatile uint32_t TCR;   /* 0x108 */
    uint32_t reserved10;
    volatile uint32_t IR;    /* 0x110 */
    uint32_t reserved11[3];
    volatile uint32_t ABR;   /* 0x120 */
    uint32_t reserved12[3];
    volatile uint32_t LPTR;  /* 0x130 */
    uint32_t reserved13[19];
    volatile uint32_t WCCR;  /* 0x180 */
    uint32_t reserved14;
    volatile uint32_t WTCR;  /* 0x188 */
    uint32_t reserved15;
    volatile uint32_t WIR;   /* 0x190 */
    uint32_t reserved16[3];
    volatile uint32_t WABR;  /* 0x1A0 */
} OCTOSPI_TypeDef;

_Static_assert(offsetof(OCTOSPI_TypeDef, DR) == 0x50u, "DR at 0x050");
_Static_assert(offsetof(OCTOSPI_TypeDef, PIR) == 0x90u, "PIR at 0x090");
_Static_assert(offsetof(OCTOSPI_TypeDef, CCR) == 0x100u, "CCR at 0x100");
_Static_assert(offsetof(OCTOSPI_TypeDef, LPTR) == 0x130u, "LPTR at 0x130");
_Static_assert(offsetof(OCTOSPI_TypeDef, WABR) == 0x1A0u, "WABR at 0x1A0");

#define OSPI_CR_EN          (1u << 0)
#define OSPI_CR_ABORT       (1u << 1)
#define OSPI_CR_TCEN        (1u << 3)
#define OSPI_CR_DQM         (1u << 6)  /* XSPI: DMM, the same bit */
#define OSPI_CR_FSEL        (1u << 7)  /* OCTOSPI only */
#define OSPI_CR_FTHRES_POS  8u
#define OSPI_CR_FTHRES_MASK (((1u << OH_FTHRES_WIDTH) - 1u) << OSPI_CR_FTHRES_POS)
#define OSPI_CR_APMS        (1u << 22)
#define OSPI_CR_PMM         (1u << 23)
#define XSPI_CR_CSSEL       (1u << 24) /* XSPI only: nCS1 or nCS2 */
#define OSPI_CR_FMODE_POS   28u
#define OSPI_CR_FMODE_MASK  (3u << OSPI_CR_FMODE_POS)
#define XSPI_CR_MSEL_MASK   (3u << 30) /* XSPI only: which IO lanes carry the data */

#define OSPI_DCR1_CKMODE      (1u << 0)
#define OSPI_DCR1_FRCK        (1u << 1)
#define OSPI_DCR1_DLYBYP      (1u << 3) /* OCTOSPI only */
#define OSPI_DCR1_CSHT_POS    8u
#define OSPI_DCR1_CSHT_MASK   (0x3Fu << OSPI_DCR1_CSHT_POS)
#define OSPI_DCR1_DEVSIZE_POS 16u
#define OSPI_DCR1_DEVSIZE_MASK (0x1Fu << OSPI_DCR1_DEVSIZE_POS)
#define OSPI_DCR1_MTYP_POS    24u
#define OSPI_DCR1_MTYP_MASK   (7u << OSPI_DCR1_MTYP_POS)
#define OSPI_DCR2_PRESCALER_MASK 0xFFu
#define OSPI_DCR2_WRAPSIZE_MASK  (7u << 16)
#define OSPI_DCR3_CSBOUND_POS 16u

#define OSPI_SR_TEF  (1u << 0)
#define OSPI_SR_TCF  (1u << 1)
#define OSPI_SR_FTF  (1u << 2)
#define OSPI_SR_SMF  (1u << 3)
#define OSPI_SR_TOF  (1u << 4)
#define OSPI_SR_BUSY (1u << 5)
#define OSPI_FCR_CTEF (1u << 0)
#define OSPI_FCR_CTCF (1u << 1)
#define OSPI_FCR_CSMF (1u << 3)
#define OSPI_FCR_CTOF (1u << 4)

#define OSPI_CCR_IMODE_POS  0u
#define OSPI_CCR_IDTR       (1u << 3)
#define OSPI_CCR_ISIZE_POS  4u
#define OSPI_CCR_ADMODE_POS 8u
#define OSPI_CCR_ADDTR      (1u << 11)
#define OSPI_CCR_ADSIZE_POS 12u
#define OSPI_CCR_ABMODE_POS 16u
#define OSPI_CCR_ABDTR      (1u << 19)
#define OSPI_CCR_ABSIZE_POS 20u
#define OSPI_CCR_DMODE_POS  24u
#define OSPI_CCR_DDTR       (1u << 27)
#define OSPI_CCR_DQSE       (1u << 29)
#define OSPI_CCR_SIOO       (1u << 31) /* OCTOSPI only */
#define OSPI_CCR_INSTRUCTION_FIELDS ((7u << 0) | OSPI_CCR_IDTR | (3u << 4))
#define OSPI_CCR_ADDRESS_FIELDS     ((7u << 8) | OSPI_CCR_ADDTR | (3u << 12))
#define OSPI_CCR_ALTERNATE_FIELDS   ((7u << 16) | OSPI_CCR_ABDTR | (3u << 20))
#define OSPI_CCR_DATA_FIELDS        ((7u << 24) | OSPI_CCR_DDTR)
#define OSPI_TCR_DCYC_MASK  0x1Fu
#define OSPI_TCR_DHQC       (1u << 28)
#define OSPI_TCR_SSHIFT     (1u << 30)

/* FMODE values */
#define OSPI_FMODE_INDIRECT_WRITE 0u
#define OSPI_FMODE_INDIRECT_READ  1u
#define OSPI_FMODE_AUTO_POLLING   2u
#define OSPI_FMODE_MEMORY_MAPPED  3u

/* MTYP values (DCR1): byte order and DQS polarity in DTR (octal-chips-and-kits.md §1.6) */
#define OSPI_MEMTYPE_MICRON   (0u << OSPI_DCR1_MTYP_POS)
#define OSPI_MEMTYPE_MACRONIX (1u << OSPI_DCR1_MTYP_POS)

/* Phase encodings: line count as xMODE (000 none, 001 1, 010 2, 011 4, 100 8), size in bits as
 * xSIZE (00 8 ... 11 32), each already shifted into its CCR position as the HAL's constants. */
#define OSPI_LINES_CODE(n) ((n) == 8 ? 4u : (n) == 4 ? 3u : (n) == 2 ? 2u : (n) == 1 ? 1u : 0u)
#define OSPI_INSTRUCTION_LINES(n) (OSPI_LINES_CODE(n) << OSPI_CCR_IMODE_POS)
#define OSPI_ADDRESS_LINES(n)     (OSPI_LINES_CODE(n) << OSPI_CCR_ADMODE_POS)
#define OSPI_ALTERNATE_LINES(n)   (OSPI_LINES_CODE(n) << OSPI_CCR_ABMODE_POS)
#define OSPI_DATA_LINES(n)        (OSPI_LINES_CODE(n) << OSPI_CCR_DMODE_POS)
#define OSPI_INSTRUCTION_BITS(b)  ((uint32_t)((b) / 8u - 1u) << OSPI_CCR_ISIZE_POS)
#define OSPI_ADDRESS_BITS(b)      ((uint32_t)((b) / 8u - 1u) << OSPI_CCR_ADSIZE_POS)
#define OSPI_ALTERNATE_BITS(b)    ((uint32_t)((b) / 8u - 1u) << OSPI_CCR_ABSIZE_POS)

/* Which register set a command configures (HAL OperationType) */
#define OSPI_OPTYPE_COMMON_CFG 0u
#define OSPI_OPTYPE_READ_CFG   1u
#define OSPI_OPTYPE_WRITE_CFG  2u

#define OSPI_TIMEOUT_DEFAULT_VALUE 5000u

typedef struct {
    uint32_t FifoThreshold;         /* 1..FIFO size, in bytes */
    uint32_t DualQuad;              /* 0 or OSPI_CR_DQM */
    uint32_t MemoryType;            /* OSPI_MEMTYPE_* */
    uint32_t DeviceSize;            /* OCTOSPI: address bits; XSPI: raw DEVSIZE */
    uint32_t ChipSelectHighTime;    /* cycles (1..) */
    uint32_t FreeRunningClock;      /* 0 or OSPI_DCR1_FRCK */
    uint32_t ClockMode;             /* 0 (mode 0) or OSPI_DCR1_CKMODE (mode 3) */
    uint32_t ClockPrescaler;        /* OCTOSPI: divider (1..256); XSPI: raw PRESCALER */
    uint32_t SampleShifting;        /* 0 or OSPI_TCR_SSHIFT */
    uint32_t DelayHoldQuarterCycle; /* 0 or OSPI_TCR_DHQC */
    uint32_t ChipSelectBoundary;    /* raw CSBOUND */
    uint32_t DelayBlockBypass;      /* 0 or OSPI_DCR1_DLYBYP (OCTOSPI only) */
} OSPI_InitTypeDef;

typedef struct {
    OCTOSPI_TypeDef *Instance;
    OSPI_InitTypeDef Init;
} OSPI_HandleTypeDef;

typedef struct {
    uint32_t OperationType;
    uint32_t FlashId;               /* 0 = FSEL flash 1 (OCTOSPI) */
    uint32_t Instruction;
    uint32_t InstructionMode;
    uint32_t InstructionSize;
    uint32_t InstructionDtrMode;    /* 0 or OSPI_CCR_IDTR */
    uint32_t Address;
    uint32_t AddressMode;
    uint32_t AddressSize;
    uint32_t AddressDtrMode;        /* 0 or OSPI_CCR_ADDTR */
    uint32_t AlternateBytes;
    uint32_t AlternateBytesMode;
    uint32_t AlternateBytesSize;
    uint32_t AlternateBytesDtrMode; /* 0 or OSPI_CCR_ABDTR */
    uint32_t DataMode;
    uint32_t NbData;
    uint32_t DataDtrMode;           /* 0 or OSPI_CCR_DDTR */
    uint32_t DummyCycles;
    uint32_t DQSMode;               /* 0 or OSPI_CCR_DQSE */
    uint32_t SIOOMode;              /* 0 or OSPI_CCR_SIOO (OCTOSPI only) */
} OSPI_RegularCmdTypeDef;

typedef struct {
    uint32_t Match;
    uint32_t Mask;
    uint32_t MatchMode;     /* 0 = AND, OSPI_CR_PMM = OR */
    uint32_t AutomaticStop; /* OSPI_CR_APMS: stop at the first match */
    uint32_t Interval;      /* clock cycles between two reads */
} OSPI_AutoPollingTypeDef;

typedef struct {
    uint32_t TimeOutActivation; /* 0 or OSPI_CR_TCEN */
    uint32_t TimeOutPeriod;     /* LPTR: cycles of idle bus before nCS is released */
} OSPI_MemoryMappedTypeDef;

HAL_StatusTypeDef HAL_OSPI_Init(OSPI_HandleTypeDef *h);
HAL_StatusTypeDef HAL_OSPI_DeInit(OSPI_HandleTypeDef *h);
HAL_StatusTypeDef HAL_OSPI_Command(OSPI_HandleTypeDef *h, const OSPI_RegularCmdTypeDef *cmd,
                                   uint32_t timeout);
HAL_StatusTypeDef HAL_OSPI_Transmit(OSPI_HandleTypeDef *h, const uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_OSPI_Receive(OSPI_HandleTypeDef *h, uint8_t *data, uint32_t timeout);
HAL_StatusTypeDef HAL_OSPI_AutoPolling(OSPI_HandleTypeDef *h, const OSPI_AutoPollingTypeDef *cfg,
                                       uint32_t timeout);
HAL_StatusTypeDef HAL_OSPI_MemoryMapped(OSPI_HandleTypeDef *h,
                                        const OSPI_MemoryMappedTypeDef *cfg);
HAL_StatusTypeDef HAL_OSPI_Abort(OSPI_HandleTypeDef *h);
int HAL_OSPI_IsMemoryMapped(const OSPI_HandleTypeDef *h);

/* IO manager (hal_ospim.c): route the controller to its port, power the port. */
HAL_StatusTypeDef HAL_OSPIM_Config(OSPI_HandleTypeDef *h, uint32_t timeout);

#endif

/*
 * The STM32 QUADSPI controller: one register block, the same on H74x/H75x (0x52005000) and on
 * F4/F7/L4/G4 (0xA0001000). Offsets and fields from the STM32H743 and STM32G474 SVD files
 * (QUADSPI CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR).
 * The F4/L4/G4 FIFO is 16 bytes (FTHRES 4 bits), the H7 one 32 bytes (FTHRES 5 bits).
 */
#ifndef EXTFLASH_TEST_STM32_QUADSPI_H
#define EXTFLASH_TEST_STM32_QUADSPI_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CR;    /* 0x00 */
    volatile uint32_t DCR;   /* 0x04 */
    volatile uint32_t SR;    /* 0x08 */
    volatile uint32_t FCR;   /* 0x0C */
    volatile uint32_t DLR;   /* 0x10 */
    volatile uint32_t CCR;   /* 0x14 */
    volatile uint32_t AR;    /* 0x18 */
    volatile uint32_t ABR;   /* 0x1C */
    volatile uint32_t DR;    /* 0x20 */
    volatile uint32_t PSMKR; /* 0x24 */
    volatile uint32_t PSMAR; /* 0x28 */
    volatile uint32_t PIR;   /* 0x2C */
    volatile uint32_t LPTR;  /* 0x30 */
} QUADSPI_TypeDef;

/* CR */
#define QSPI_CR_EN             (1u << 0)
#define QSPI_CR_ABORT          (1u << 1)
#define QSPI_CR_TCEN           (1u << 3)
#define QSPI_CR_SSHIFT         (1u << 4)
#define QSPI_CR_DFM            (1u << 6)
#define QSPI_CR_FSEL           (1u << 7)
#define QSPI_CR_FTHRES_POS     8u
#define QSPI_CR_FTHRES_MASK    (0x1Fu << QSPI_CR_FTHRES_POS)
#define QSPI_CR_APMS           (1u << 22)
#define QSPI_CR_PMM            (1u << 23)
#define QSPI_CR_PRESCALER_POS  24u
#define QSPI_CR_PRESCALER_MASK (0xFFu << QSPI_CR_PRESCALER_POS)

/* DCR */
#define QSPI_DCR_CKMODE        (1u << 0)
#define QSPI_DCR_CSHT_POS      8u
#define QSPI_DCR_CSHT_MASK     (7u << QSPI_DCR_CSHT_POS)
#define QSPI_DCR_FSIZE_POS     16u
#define QSPI_DCR_FSIZE_MASK    (0x1Fu << QSPI_DCR_FSIZE_POS)

/* SR and FCR */
#define QSPI_SR_TEF   (1u << 0)
#define QSPI_SR_TCF   (1u << 1)
#define QSPI_SR_FTF   (1u << 2)
#define QSPI_SR_SMF   (1u << 3)
#define QSPI_SR_TOF   (1u << 4)
#define QSPI_SR_BUSY  (1u << 5)
#define QSPI_FCR_CTEF (1u << 0)
#define QSPI_FCR_CTCF (1u << 1)
#define QSPI_FCR_CSMF (1u << 3)
#define QSPI_FCR_CTOF (1u << 4)

/* CCR */
#define QSPI_CCR_INSTRUCTION_POS 0u
#define QSPI_CCR_IMODE_POS       8u
#define QSPI_CCR_ADMODE_POS      10u
#define QSPI_CCR_ADSIZE_POS      12u
#define QSPI_CCR_ABMODE_POS      14u
#define QSPI_CCR_ABSIZE_POS      16u
#define QSPI_CCR_DCYC_POS        18u
#define QSPI_CCR_DMODE_POS       24u
#define QSPI_CCR_FMODE_POS       26u
#define QSPI_CCR_FMODE_MASK      (3u << QSPI_CCR_FMODE_POS)
#define QSPI_CCR_SIOO            (1u << 28)
#define QSPI_CCR_DHHC            (1u << 30)
#define QSPI_CCR_DDRM            (1u << 31)

/* Line counts for IMODE/ADMODE/ABMODE/DMODE, and ADSIZE/ABSIZE byte counts */
#define QSPI_LINES_NONE 0u
#define QSPI_LINES_1    1u
#define QSPI_LINES_2    2u
#define QSPI_LINES_4    3u
#define QSPI_SIZE_8     0u
#define QSPI_SIZE_16    1u
#define QSPI_SIZE_24    2u
#define QSPI_SIZE_32    3u

/* FMODE values */
#define QSPI_FMODE_INDIRECT_WRITE 0u
#define QSPI_FMODE_INDIRECT_READ  1u
#define QSPI_FMODE_AUTO_POLLING   2u
#define QSPI_FMODE_MEMORY_MAPPED  3u

#endif

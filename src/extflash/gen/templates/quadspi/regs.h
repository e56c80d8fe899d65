/* Register definitions used by the loader: QUADSPI, GPIO and the Cortex-M tick sources.
 * Only what the loader touches is declared; addresses of the family's blocks come from config.h.
 * Sources: RM0433/RM0385/RM0390/RM0351/RM0440 QUADSPI chapters (same IP on every family). */
#ifndef REGS_H
#define REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

typedef struct {
    volatile uint32_t CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR;
} qspi_regs_t;

#define QSPI ((qspi_regs_t *)QSPI_BASE)

#define QSPI_CR_EN           (1u << 0)
#define QSPI_CR_ABORT        (1u << 1)
#define QSPI_CR_SSHIFT       (1u << 4)
#define QSPI_CR_DFM          (1u << 6)
#define QSPI_CR_FSEL         (1u << 7)
#define QSPI_CR_FTHRES(n)    ((uint32_t)(n) << 8)
#define QSPI_CR_APMS         (1u << 22)
#define QSPI_CR_PRESCALER(n) ((uint32_t)(n) << 24)

#define QSPI_DCR_CSHT(n)     ((uint32_t)(n) << 8)
#define QSPI_DCR_FSIZE(n)    ((uint32_t)(n) << 16)

#define QSPI_SR_TEF   (1u << 0)
#define QSPI_SR_TCF   (1u << 1)
#define QSPI_SR_FTF   (1u << 2)
#define QSPI_SR_SMF   (1u << 3)
#define QSPI_SR_BUSY  (1u << 5)
/* FIFO level in bytes: 5 to 7 bits wide depending on the family; the bits above read as 0. */
#define QSPI_SR_FLEVEL(sr)  (((sr) >> 8) & 0x7Fu)
#define QSPI_FCR_ALL  0x1Bu            /* CTEF | CTCF | CSMF | CTOF */

/* CCR fields. Line counts use the register encoding: 0 none, 1 single, 2 dual, 3 quad. */
#define LINES(n)       ((n) == 4 ? 3u : (uint32_t)(n))
#define CCR_IMODE(n)   (LINES(n) << 8)
#define CCR_ADMODE(n)  (LINES(n) << 10)
#define CCR_ADSIZE(b)  ((uint32_t)((b) - 1) << 12)
#define CCR_ABMODE(n)  (LINES(n) << 14)
#define CCR_ABSIZE(b)  ((uint32_t)((b) - 1) << 16)
#define CCR_DCYC(n)    ((uint32_t)(n) << 18)
#define CCR_DMODE(n)   (LINES(n) << 24)
#define CCR_FMODE(n)   ((uint32_t)(n) << 26)
#define CCR_ADMODE_MASK (3u << 10)
#define CCR_FMODE_MASK  (3u << 26)

#define FMODE_WRITE  0u
#define FMODE_READ   1u
#define FMODE_POLL   2u
#define FMODE_MAPPED 3u

typedef struct {
    volatile uint32_t MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFR[2];
} gpio_regs_t;

/* Cortex-M debug and system timer registers (ARMv7-M ARM, C1.8 and B3.3). */
#define DEMCR          REG32(0xE000EDFCu)
#define DEMCR_TRCENA   (1u << 24)
#define DWT_CTRL       REG32(0xE0001000u)
#define DWT_CYCCNT     REG32(0xE0001004u)
#define DWT_LAR        REG32(0xE0001FB0u)
#define SYST_CSR       REG32(0xE000E010u)
#define SYST_RVR       REG32(0xE000E014u)
#define SYST_CVR       REG32(0xE000E018u)

#endif

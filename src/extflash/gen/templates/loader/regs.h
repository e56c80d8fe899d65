/* Register definitions used by the loader: the memory controller (QUADSPI, or OCTOSPI/XSPI when
 * LOADER_OSPI is 1) and the Cortex-M tick sources (the pins are register steps in board_config.c). Only what the loader touches is declared;
 * addresses of the family's blocks come from config.h.
 * Sources: RM0433/RM0385/RM0390/RM0351/RM0440 QUADSPI chapters (same IP on every family);
 * RM0455/RM0468/RM0456/RM0438/RM0432/RM0481 OCTOSPI and RM0477 XSPI chapters (one register map:
 * XSPI drops DLYBYP, SIOO and FSEL and adds CSSEL/MSEL, all left at their reset values here). */
#ifndef REGS_H
#define REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* Status and flag-clear bits shared by the three controllers (same positions in each SR/FCR). */
#define CTL_SR_TEF   (1u << 0)
#define CTL_SR_TCF   (1u << 1)
#define CTL_SR_FTF   (1u << 2)
#define CTL_SR_SMF   (1u << 3)
#define CTL_SR_BUSY  (1u << 5)
#define CTL_FCR_ALL  0x1Bu            /* CTEF | CTCF | CSMF | CTOF */

#define FMODE_WRITE  0u
#define FMODE_READ   1u
#define FMODE_POLL   2u
#define FMODE_MAPPED 3u

#if !LOADER_OSPI

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

#define CTL       QSPI

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
#define CCR_OPCODE(op)  ((uint32_t)(op))
#define CCR_ADMODE_MASK (3u << 10)
#define CCR_FMODE_MASK  (3u << 26)

/* The driver's command word: CCR as written (qspi.c). */
typedef uint32_t ctl_cmd_t;

#else

/* OCTOSPI and XSPI: one register map (peripherals.md §4.2, §6.2). */
typedef struct {
    volatile uint32_t CR, RES0, DCR1, DCR2, DCR3, DCR4, RES1[2], SR, FCR, RES2[6], DLR, RES3, AR,
        RES4, DR, RES5[11], PSMKR, RES6, PSMAR, RES7, PIR, RES8[27], CCR, RES9, TCR, RES10, IR,
        RES11[3], ABR, RES12[3], LPTR, RES13[19], WCCR, RES14, WTCR, RES15, WIR;
} ospi_regs_t;

#define CTL ((ospi_regs_t *)CTL_BASE)

#define OSPI_CR_EN           (1u << 0)
#define OSPI_CR_ABORT        (1u << 1)
#define OSPI_CR_FTHRES(n)    ((uint32_t)(n) << 8)
#define OSPI_CR_APMS         (1u << 22)
#define OSPI_CR_FMODE(n)     ((uint32_t)(n) << 28)
#define OSPI_CR_FMODE_MASK   (3u << 28)
#define OSPI_DCR1_DLYBYP     (1u << 3)      /* OCTOSPI only: delay block bypassed */
#define OSPI_DCR1_CSHT(n)    ((uint32_t)(n) << 8)
#define OSPI_DCR1_DEVSIZE(n) ((uint32_t)(n) << 16)
#define OSPI_DCR1_MTYP(n)    ((uint32_t)(n) << 24)
#define OSPI_TCR_DHQC        (1u << 28)
#define OSPI_TCR_SSHIFT      (1u << 30)
#define OSPI_CCR_IDTR        (1u << 3)
#define OSPI_CCR_ISIZE16     (1u << 4)
#define OSPI_CCR_ADDTR       (1u << 11)
#define OSPI_CCR_ABDTR       (1u << 19)
#define OSPI_CCR_DDTR        (1u << 27)
#define OSPI_CCR_DQSE        (1u << 29)

/* The driver's command word (ospi.c writes it): 64 bits, the registers' own fields where they
 * sit, so that issuing a command is a few masks, not a decoding.
 *   low word:  CCR as written (IMODE [2:0], IDTR 3, ISIZE [5:4], ADMODE [10:8], ADDTR 11,
 *              ADSIZE [13:12], ABMODE [18:16], ABDTR 19, DMODE [26:24], DDTR 27, DQSE 29)
 *              and FMODE at [23:22], reserved in CCR (CR.FMODE [29:28] gets it)
 *   high word: TCR.DCYC [4:0] and IR [15:0] at [23:8]
 * TCR's sample bits come from IDTR: SSHIFT (a half-cycle shift for the board's delays) for STR
 * commands, DHQC (the quarter-cycle data hold; SSHIFT must stay 0) for DTR ones (RM0455
 * OCTOSPI_TCR). Line counts use the OCTOSPI encoding 0 none, 1, 2, 4 (3) or 8 (4) lines. */
typedef uint64_t ctl_cmd_t;
#define LINES(n)       ((n) == 8 ? 4u : (n) == 4 ? 3u : (uint32_t)(n))
#define CCR_IMODE(n)   (LINES(n) << 0)
#define CCR_IDTR       OSPI_CCR_IDTR
#define CCR_ISIZE16    OSPI_CCR_ISIZE16
#define CCR_ADMODE(n)  (LINES(n) << 8)
#define CCR_ADDTR      OSPI_CCR_ADDTR
#define CCR_ADSIZE(b)  ((uint32_t)((b) - 1) << 12)
#define CCR_ABMODE(n)  (LINES(n) << 16)
#define CCR_ABSIZE(b)  0u               /* one mode byte: the only size the loader sends */
#define CCR_DMODE(n)   (LINES(n) << 24)
#define CCR_DDTR       OSPI_CCR_DDTR
#define CCR_DQSE       OSPI_CCR_DQSE
#define CCR_FMODE(n)   ((uint32_t)(n) << 22)
#define CCR_DCYC(n)    ((uint64_t)(n) << 32)
#define CCR_OPCODE(op) ((uint64_t)(op) << 40)
/* Octal instructions are two bytes: the opcode, then its extension (inverted or repeated). */
#define CCR_OPCODE16(op) (CCR_OPCODE(((uint32_t)(op) << 8) \
                                     | (OCTAL_EXT_INVERTED ? (~(uint32_t)(op) & 0xFFu) : (op))) \
                          | CCR_ISIZE16)
#define CCR_ADMODE_MASK (7u << 8)
#define CCR_FMODE_MASK  (3u << 22)
#define TCR_DCYC_MASK   0x1Fu

#endif


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

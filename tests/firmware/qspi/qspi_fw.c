/*
 * Register-level QUADSPI test firmware for the virtual boards: every address and opcode comes
 * from a config block the test writes into RAM, so one build serves every family and chip.
 */
#include <stdint.h>
#include "stm32_quadspi.h"

struct pin { uint32_t gpio_base, number, af; };

struct cfg {
    uint32_t qspi_base;
    uint32_t qspi_enr, qspi_bit;      /* RCC register and bit enabling QUADSPI */
    uint32_t gpio_enr, gpio_bits;     /* RCC register and bits enabling the GPIO ports */
    uint32_t cr, dcr;                 /* PRESCALER/FTHRES/DFM/FSEL and FSIZE/CSHT */
    uint32_t adsize;                  /* QSPI_SIZE_24 or QSPI_SIZE_32 */
    uint32_t en4b;                    /* opcode entering 4-byte mode (after WREN), 0: none */
    uint32_t op_read, read_dummy, read_lines;  /* read command: data lines 1 or 4 (1-1-n) */
    uint32_t op_pp, op_erase;
    uint32_t page;                    /* bytes per page program (x2 in dual-flash) */
    uint32_t status_mask, status_dl;  /* WIP mask over the (interleaved) status bytes */
    uint32_t wait_wip;                /* 0: a buggy loader that never waits for WIP */
    uint32_t npins;
    struct pin pins[11];
};

#define REG(a) (*(volatile uint32_t *)(a))
#define CCR(instr, im, am, dm, fm, dcyc, ads) \
    ((instr) | (im) << QSPI_CCR_IMODE_POS | (am) << QSPI_CCR_ADMODE_POS | \
     (ads) << QSPI_CCR_ADSIZE_POS | (dcyc) << QSPI_CCR_DCYC_POS | (dm) << QSPI_CCR_DMODE_POS | \
     (fm) << QSPI_CCR_FMODE_POS)

static QUADSPI_TypeDef *q(const struct cfg *c) { return (QUADSPI_TypeDef *)c->qspi_base; }

static void wait_tc(QUADSPI_TypeDef *qs)
{
    while (!(qs->SR & QSPI_SR_TCF)) {}
    qs->FCR = QSPI_FCR_CTCF;
}

static void simple(const struct cfg *c, uint32_t op)
{
    QUADSPI_TypeDef *qs = q(c);
    qs->CCR = CCR(op, QSPI_LINES_1, 0u, 0u, QSPI_FMODE_INDIRECT_WRITE, 0u, 0u);
    wait_tc(qs);
}

static void wait_ready(const struct cfg *c)
{
    QUADSPI_TypeDef *qs = q(c);
    if (!c->wait_wip)
        return;
    qs->PSMKR = c->status_mask;
    qs->PSMAR = 0;
    qs->PIR = 16;
    qs->CR |= QSPI_CR_APMS;
    qs->DLR = c->status_dl;
    qs->CCR = CCR(0x05u, QSPI_LINES_1, 0u, QSPI_LINES_1, QSPI_FMODE_AUTO_POLLING, 0u, 0u);
    while (!(qs->SR & QSPI_SR_SMF)) {}
    qs->FCR = QSPI_FCR_CSMF;
}

static void leave_mapped(const struct cfg *c)
{
    QUADSPI_TypeDef *qs = q(c);
    if (((qs->CCR & QSPI_CCR_FMODE_MASK) >> QSPI_CCR_FMODE_POS) == QSPI_FMODE_MEMORY_MAPPED) {
        qs->CR |= QSPI_CR_ABORT;
        while (qs->SR & QSPI_SR_BUSY) {}
        qs->FCR = QSPI_FCR_CTCF;
        qs->CCR = 0;
    }
}

int qspi_init(const struct cfg *c)
{
    REG(c->qspi_enr) |= 1u << c->qspi_bit;
    REG(c->gpio_enr) |= c->gpio_bits;
    (void)REG(c->gpio_enr);
    for (uint32_t i = 0; i < c->npins; i++) {
        const struct pin *p = &c->pins[i];
        uint32_t n = p->number;
        REG(p->gpio_base + 0x00) = (REG(p->gpio_base + 0x00) & ~(3u << (2 * n))) | (2u << (2 * n));
        REG(p->gpio_base + 0x08) |= 3u << (2 * n);
        uint32_t afr = p->gpio_base + (n < 8 ? 0x20 : 0x24);
        uint32_t sh = 4 * (n & 7);
        REG(afr) = (REG(afr) & ~(0xFu << sh)) | (p->af << sh);
    }
    QUADSPI_TypeDef *qs = q(c);
    qs->CR = c->cr;
    qs->DCR = c->dcr;
    qs->CR = c->cr | QSPI_CR_EN;
    if (c->en4b) {
        simple(c, 0x06u);
        simple(c, c->en4b);
    }
    return 0;
}

uint32_t qspi_rdid(const struct cfg *c)
{
    QUADSPI_TypeDef *qs = q(c);
    leave_mapped(c);
    qs->DLR = 2;
    qs->CCR = CCR(0x9Fu, QSPI_LINES_1, 0u, QSPI_LINES_1, QSPI_FMODE_INDIRECT_READ, 0u, 0u);
    uint32_t id = 0;
    for (int i = 0; i < 3; i++)
        id |= (uint32_t)*(volatile uint8_t *)&qs->DR << (8 * i);
    wait_tc(qs);
    return id;
}

int qspi_erase(const struct cfg *c, uint32_t address)
{
    QUADSPI_TypeDef *qs = q(c);
    leave_mapped(c);
    simple(c, 0x06u);
    qs->CCR = CCR(c->op_erase, QSPI_LINES_1, QSPI_LINES_1, 0u, QSPI_FMODE_INDIRECT_WRITE, 0u,
                  c->adsize);
    qs->AR = address;
    wait_tc(qs);
    wait_ready(c);
    return 0;
}

int qspi_program(const struct cfg *c, uint32_t address, const uint8_t *src, uint32_t len)
{
    QUADSPI_TypeDef *qs = q(c);
    leave_mapped(c);
    while (len) {
        uint32_t n = c->page - (address % c->page);
        if (n > len)
            n = len;
        simple(c, 0x06u);
        qs->DLR = n - 1;
        qs->CCR = CCR(c->op_pp, QSPI_LINES_1, QSPI_LINES_1, QSPI_LINES_1,
                      QSPI_FMODE_INDIRECT_WRITE, 0u, c->adsize);
        qs->AR = address;
        uint32_t i = 0;
        for (; i + 4 <= n; i += 4) {
            while (!(qs->SR & QSPI_SR_FTF)) {}
            qs->DR = (uint32_t)src[i] | (uint32_t)src[i + 1] << 8 | (uint32_t)src[i + 2] << 16 |
                     (uint32_t)src[i + 3] << 24;
        }
        for (; i < n; i++)
            *(volatile uint8_t *)&qs->DR = src[i];
        wait_tc(qs);
        wait_ready(c);
        address += n;
        src += n;
        len -= n;
    }
    return 0;
}

/* HAL style: one byte per DR access, FTF checked before each */
int qspi_program_bytes(const struct cfg *c, uint32_t address, const uint8_t *src, uint32_t len)
{
    QUADSPI_TypeDef *qs = q(c);
    leave_mapped(c);
    while (len) {
        uint32_t n = c->page - (address % c->page);
        if (n > len)
            n = len;
        simple(c, 0x06u);
        qs->DLR = n - 1;
        qs->CCR = CCR(c->op_pp, QSPI_LINES_1, QSPI_LINES_1, QSPI_LINES_1,
                      QSPI_FMODE_INDIRECT_WRITE, 0u, c->adsize);
        qs->AR = address;
        for (uint32_t i = 0; i < n; i++) {
            while (!(qs->SR & QSPI_SR_FTF)) {}
            *(volatile uint8_t *)&qs->DR = src[i];
        }
        wait_tc(qs);
        wait_ready(c);
        address += n;
        src += n;
        len -= n;
    }
    return 0;
}

int qspi_read(const struct cfg *c, uint32_t address, uint8_t *dst, uint32_t len)
{
    QUADSPI_TypeDef *qs = q(c);
    uint32_t dm = c->read_lines == 4 ? QSPI_LINES_4 : QSPI_LINES_1;
    leave_mapped(c);
    qs->DLR = len - 1;
    qs->CCR = CCR(c->op_read, QSPI_LINES_1, QSPI_LINES_1, dm, QSPI_FMODE_INDIRECT_READ,
                  c->read_dummy, c->adsize);
    qs->AR = address;
    for (uint32_t i = 0; i < len; i++)
        dst[i] = *(volatile uint8_t *)&qs->DR;
    wait_tc(qs);
    return 0;
}

int qspi_mapped(const struct cfg *c)
{
    QUADSPI_TypeDef *qs = q(c);
    uint32_t dm = c->read_lines == 4 ? QSPI_LINES_4 : QSPI_LINES_1;
    leave_mapped(c);
    qs->CCR = CCR(c->op_read, QSPI_LINES_1, QSPI_LINES_1, dm, QSPI_FMODE_MEMORY_MAPPED,
                  c->read_dummy, c->adsize);
    return 0;
}

uint32_t sum_window(const uint32_t *p, uint32_t words)
{
    uint32_t s = 0;
    while (words--)
        s += *p++;
    return s;
}

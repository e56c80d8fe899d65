/* A CMSIS-style flash algorithm built position-independent (code at 0, data through R9):
 * FlashDevice in DevDscr, the FLM entry points returning 0 for success. */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))
#define QSPI 0x52005000u

struct FlashSector {
    uint32_t szSector;
    uint32_t AddrSector;
};

struct FlashDevice {
    uint16_t Vers;
    char DevName[128];
    uint16_t DevType;
    uint32_t DevAdr;
    uint32_t szDev;
    uint32_t szPage;
    uint32_t Res;
    uint8_t valEmpty;
    uint32_t toProg;
    uint32_t toErase;
    struct FlashSector sectors[3];
};

__attribute__((used, section("DevDscr")))
const struct FlashDevice FlashDevice = {
    0x0101, "extflash FLM test W25Q64", 5, 0x90000000u, 0x00800000u, 0x100u, 0, 0xFFu,
    300u, 6000u,
    {{0x1000u, 0x000000u}, {0x10000u, 0x010000u}, {0xFFFFFFFFu, 0xFFFFFFFFu}},
};

static uint32_t base_address;
static uint32_t current_function;
/* A pointer table in RW data: absolute addresses the host must relocate (R_ARM_ABS32). */
static const volatile uint32_t *const status_regs[2] = {&base_address, &current_function};

static int busy(void) { return (REG(QSPI + 0x08u) & 0x20u) != 0; }

int Init(uint32_t adr, uint32_t clk, uint32_t fnc) {
    (void)clk;
    base_address = adr;
    current_function = fnc;
    REG(0x58024400u + 0xD4u) |= 1u << 14;
    REG(QSPI) = 1u;
    return 0;
}

int UnInit(uint32_t fnc) {
    current_function = 0;
    return (int)*status_regs[fnc & 1u];
}

int EraseChip(void) {
    REG(QSPI + 0x14u) = 0xC7u;
    while (busy()) {
    }
    return 0;
}

int EraseSector(uint32_t adr) {
    REG(QSPI + 0x18u) = adr - base_address;
    REG(QSPI + 0x14u) = 0x20u;
    while (busy()) {
    }
    return (int)*status_regs[0] - (int)base_address;
}

int ProgramPage(uint32_t adr, uint32_t sz, uint8_t *buf) {
    REG(QSPI + 0x18u) = adr - base_address;
    for (uint32_t i = 0; i < sz; i++) {
        *(volatile uint8_t *)(QSPI + 0x20u) = buf[i];
    }
    return 0;
}

/* CMSIS-Pack flash algorithm (FLM) entry points over the same drivers as the .stldr.
 * Return 0 on success (the opposite of the .stldr convention); Verify returns adr + sz. */
#include "loader.h"

struct FlashSectors {
    uint32_t size;
    uint32_t address;     /* offset from DevAdr */
};

struct FlashDevice {
    uint16_t version;
    char name[128];
    uint16_t type;
    uint32_t address;
    uint32_t size;
    uint32_t page_size;
    uint32_t reserved;
    uint8_t empty;
    uint32_t program_timeout_ms;
    uint32_t erase_timeout_ms;
    struct FlashSectors sectors[2];
};

#define FLASH_DRV_VERSION 0x0101u
#define EXT_SPI 5u

__attribute__((used, section("DevDscr")))
const struct FlashDevice FlashDevice = {
    FLASH_DRV_VERSION,
    LOADER_NAME,
    EXT_SPI,
    WINDOW_BASE,
    FLASH_SIZE,
    PAGE_SIZE,
    0u,
    0xFFu,
    TIMEOUT_PAGE_MS,
    TIMEOUT_SECTOR_MS,
    {{SECTOR_SIZE, 0u}, {0xFFFFFFFFu, 0xFFFFFFFFu}},
};

/* As the .stldr's leave_mapped: the window mapped again only after a success. */
static int done(int ok)
{
    return ok && qspi_map() ? 0 : 1;
}

ENTRY_POINT int Init(uint32_t adr, uint32_t clk, uint32_t fnc)
{
    (void)adr, (void)clk, (void)fnc;
    return loader_init() ? 0 : 1;
}

ENTRY_POINT int UnInit(uint32_t fnc)
{
    (void)fnc;
    return 0;
}

ENTRY_POINT int EraseChip(void)
{
    qspi_abort();
    return done(nor_erase_chip());
}

ENTRY_POINT int EraseSector(uint32_t adr)
{
    uint32_t offset = flash_offset(adr);
    qspi_abort();
    return done(nor_erase_sectors(offset, offset));
}

ENTRY_POINT int ProgramPage(uint32_t adr, uint32_t sz, uint8_t *buf)
{
    qspi_abort();
    return done(nor_program(flash_offset(adr), buf, sz));
}

ENTRY_POINT uint32_t Verify(uint32_t adr, uint32_t sz, uint8_t *buf)
{
    const volatile uint8_t *flash = (const volatile uint8_t *)(WINDOW_BASE + flash_offset(adr));
    for (uint32_t i = 0; i < sz; i++) {
        if (flash[i] != buf[i])
            return adr + i;
    }
    return adr + sz;
}

ENTRY_POINT int BlankCheck(uint32_t adr, uint32_t sz, uint8_t pat)
{
    const volatile uint8_t *flash = (const volatile uint8_t *)(WINDOW_BASE + flash_offset(adr));
    for (uint32_t i = 0; i < sz; i++) {
        if (flash[i] != pat)
            return 1;
    }
    return 0;
}

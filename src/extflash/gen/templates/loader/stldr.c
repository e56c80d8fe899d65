/* STM32CubeProgrammer external-loader entry points (.stldr).
 * Return 1 on success, 0 on failure. After every call the flash is left memory-mapped, so a host
 * can read the window directly. */
#include "loader.h"

struct SectorInfo {
    uint32_t count;
    uint32_t size;
};

struct StorageInfo {
    char name[100];
    uint16_t type;
    uint32_t start;
    uint32_t size;
    uint32_t page_size;
    uint8_t erase_value;
    struct SectorInfo sectors[10];
};

_Static_assert(sizeof(struct StorageInfo) == 200, "StorageInfo must be 200 bytes");

#define NOR_FLASH 3u

__attribute__((used, section(".storage_info")))
const struct StorageInfo StorageInfo = {
    LOADER_NAME,
    NOR_FLASH,
    WINDOW_BASE,
    FLASH_SIZE,
    PAGE_SIZE,
    0xFFu,
    {{FLASH_SIZE / SECTOR_SIZE, SECTOR_SIZE}, {0u, 0u}},
};

/* A successful operation leaves the window mapped for the host's reads; a failed one leaves the
 * controller as the failure left it, so the next Init sets the controller and the chip up again
 * (loader_init). */
static int leave_mapped(int result)
{
    return result && qspi_map();
}

ENTRY_POINT int Init(void)
{
    return loader_init();
}

ENTRY_POINT int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    qspi_abort();
    return leave_mapped(nor_program(flash_offset(Address), buffer, Size));
}

ENTRY_POINT int Read(uint32_t Address, uint32_t Size, uint8_t *Buffer)
{
    if (Size == 0u)
        return 0;
    window_read(flash_offset(Address), Buffer, Size);
    return 1;
}

ENTRY_POINT int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress)
{
    uint32_t first = flash_offset(EraseStartAddress);
    uint32_t last = flash_offset(EraseEndAddress);
    if (last < first)
        return 0;
    qspi_abort();
    if (first == 0u && last >= FLASH_SIZE - SECTOR_SIZE)
        return leave_mapped(nor_erase_chip());
    return leave_mapped(nor_erase_sectors(first, last));
}

ENTRY_POINT int MassErase(uint32_t Parallelism)
{
    (void)Parallelism;
    qspi_abort();
    return leave_mapped(nor_erase_chip());
}

ENTRY_POINT uint32_t CheckSum(uint32_t StartAddress, uint32_t Size, uint32_t InitVal)
{
    return byte_sum(StartAddress, Size, InitVal);
}

/* Size is in 32-bit words; missalignement bits 0-3 skip leading bytes and bits 16-19 trailing
 * bytes of the checksum. Low word: 0 when every byte matches, else the first differing address
 * (ST's reference returns a skewed address there; this one is exact). High word: checksum. */
ENTRY_POINT uint64_t Verify(uint32_t MemoryAddr, uint32_t RAMBufferAddr, uint32_t Size, uint32_t missalignement)
{
    uint32_t bytes = Size * 4u;
    uint32_t sum = byte_sum(MemoryAddr + (missalignement & 0xFu),
                            bytes - ((missalignement >> 16) & 0xFu), 0u);
    const volatile uint8_t *flash = (const volatile uint8_t *)(WINDOW_BASE + flash_offset(MemoryAddr));
    const uint8_t *ram = (const uint8_t *)RAMBufferAddr;
    for (uint32_t i = 0; i < bytes; i++) {
        if (flash[i] != ram[i])
            return ((uint64_t)sum << 32) | (MemoryAddr + i);
    }
    return (uint64_t)sum << 32;
}

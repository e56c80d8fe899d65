/*
 * HAL-style external loader: the entry points STM32CubeProgrammer calls (stldr-abi.md §3).
 *
 * It behaves like a loader built from ST's CubeIDE template: Init brings up the clock tree,
 * a 1 kHz SysTick interrupt through the RAM vector table, the GPIOs and the QUADSPI, then
 * leaves the flash memory-mapped; every entry point clears PRIMASK while it works (so
 * HAL_GetTick advances and timeouts work) and sets it again before returning to the host.
 * All entry points return 1 on success and 0 on failure; Verify returns 64 bits.
 */
#include "nor.h"

#define QSPI_WINDOW      0x90000000u
#define ADDRESS_MASK     0x0FFFFFFFu /* host addresses are window addresses */
#define DEVICE_NOR_FLASH 3u

struct DeviceSectors {
    uint32_t SectorNum;
    uint32_t SectorSize;
};

struct StorageInfo {
    char DeviceName[100];
    uint16_t DeviceType;
    uint32_t DeviceStartAddress;
    uint32_t DeviceSize;
    uint32_t PageSize;
    uint8_t EraseValue;
    struct DeviceSectors sectors[10];
};
_Static_assert(sizeof(struct StorageInfo) == 200, "StorageInfo is 200 bytes");

/* In its own section, placed inside the RAM image as CubeIDE builds do (see the .ld files). */
__attribute__((section(".Dev_info"), used))
const struct StorageInfo StorageInfo = {
    .DeviceName = HS_DEVICE_NAME,
    .DeviceType = DEVICE_NOR_FLASH,
    .DeviceStartAddress = QSPI_WINDOW,
    .DeviceSize = HS_DEVICE_SIZE,
    .PageSize = HS_DEVICE_PAGE,
    .EraseValue = 0xFFu,
    .sectors = { { HS_DEVICE_SIZE / HS_DEVICE_SECTOR, HS_DEVICE_SECTOR }, { 0u, 0u } },
};

static const hs_pin_t qspi_pins[] = { HS_QSPI_PINS };

extern uint32_t _sbss, _ebss;

/* The host does not promise a zeroed .bss, and a second Init must not trust old state. */
static void zero_bss(void)
{
    for (volatile uint32_t *p = &_sbss; p < &_ebss; p++) {
        *p = 0u;
    }
}

static void MX_GPIO_Init(void)
{
    for (uint32_t i = 0; i < sizeof qspi_pins / sizeof qspi_pins[0]; i++) {
        HAL_RCC_GPIO_CLK_ENABLE(qspi_pins[i].port);
        HAL_GPIO_Init_AF(&qspi_pins[i]);
    }
}

static HAL_StatusTypeDef MX_QUADSPI_Init(void)
{
    HAL_RCC_QSPI_CLK_ENABLE();
    hqspi.Instance = (QUADSPI_TypeDef *)HS_QUADSPI_BASE;
    /* A previous Init (or the application) may have left the controller memory-mapped. */
    if (HAL_QSPI_Abort(&hqspi) != HAL_OK) {
        return HAL_ERROR;
    }
    HAL_RCC_QSPI_FORCE_RESET();
    hqspi.Init.ClockPrescaler = HS_QSPI_PRESCALER;
    hqspi.Init.FifoThreshold = 4u;
    hqspi.Init.SampleShifting = QSPI_CR_SSHIFT; /* sample half a cycle late: board delays */
    hqspi.Init.FlashSize = HS_QSPI_FSIZE;
    hqspi.Init.ChipSelectHighTime = 1u; /* 2 cycles: tSHSL of these parts is a few ns */
    hqspi.Init.ClockMode = 0u;
#if HS_QSPI_BANK == 2
    hqspi.Init.FlashID = QSPI_CR_FSEL;
#else
    hqspi.Init.FlashID = 0u;
#endif
    hqspi.Init.DualFlash = HS_QSPI_BANK == 3 ? QSPI_CR_DFM : 0u;
    return HAL_QSPI_Init(&hqspi);
}

static int leave_memory_mapped(void)
{
    return HAL_QSPI_IsMemoryMapped(&hqspi) ? HAL_QSPI_Abort(&hqspi) == HAL_OK : 1;
}

static int enter_memory_mapped(void)
{
    return HAL_QSPI_IsMemoryMapped(&hqspi) ? 1 : nor_memory_mapped() == HAL_OK;
}

static int done(int ok)
{
    cm_set_primask(1);
    return ok;
}

int Init(void)
{
    /* As the CubeIDE template does: clear C_MASKINTS, in case the host set it, so that the
     * SysTick interrupt can be taken while the core runs under the debugger. */
    CORE_DHCSR = CORE_DHCSR_DBGKEY;
    zero_bss();
    SystemInit();
    cm_set_primask(0);
    if (HAL_Init() != HAL_OK || SystemClock_Config() != HAL_OK) {
        return done(0);
    }
    MX_GPIO_Init();
    if (MX_QUADSPI_Init() != HAL_OK || nor_init() != HAL_OK) {
        return done(0);
    }
    /* Hosts without Read (or verifying by read-back) read the window over the debug port. */
    return done(nor_memory_mapped() == HAL_OK);
}

/* Dual-flash transfers move whole byte pairs (the controller forces AR[0] = 0 and an even
 * length), so a lone first or last byte is programmed as a pair padded with 0xFF, which
 * leaves the neighbouring flash byte unchanged. */
static int program(uint32_t address, uint32_t size, const uint8_t *data)
{
    if (HS_NOR_CHIPS == 2u && size != 0u && (address & 1u) != 0u) {
        uint8_t pair[2] = { 0xFFu, data[0] };
        if (nor_program(address - 1u, pair, 2u) != HAL_OK) {
            return 0;
        }
        address++, data++, size--;
    }
    if (HS_NOR_CHIPS == 2u && (size & 1u) != 0u) {
        uint8_t pair[2] = { data[size - 1u], 0xFFu };
        if (nor_program(address + size - 1u, pair, 2u) != HAL_OK) {
            return 0;
        }
        size--;
    }
    while (size != 0u) {
        uint32_t chunk = HS_DEVICE_PAGE - (address % HS_DEVICE_PAGE);
        if (chunk > size) {
            chunk = size;
        }
        if (nor_program(address, data, chunk) != HAL_OK) {
            return 0;
        }
        address += chunk, data += chunk, size -= chunk;
    }
    return 1;
}

int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset = Address & ADDRESS_MASK;
    cm_set_primask(0);
    if (offset > HS_DEVICE_SIZE || Size > HS_DEVICE_SIZE - offset) {
        return done(0);
    }
    return done(leave_memory_mapped() && program(offset, Size, buffer));
}

static int read(uint32_t address, uint32_t size, uint8_t *data)
{
    uint8_t pair[2];
    if (HS_NOR_CHIPS == 2u && size != 0u && (address & 1u) != 0u) {
        if (nor_read(address - 1u, pair, 2u) != HAL_OK) {
            return 0;
        }
        *data++ = pair[1];
        address++, size--;
    }
    if (HS_NOR_CHIPS == 2u && (size & 1u) != 0u) {
        if (nor_read(address + size - 1u, pair, 2u) != HAL_OK) {
            return 0;
        }
        data[size - 1u] = pair[0];
        size--;
    }
    return size == 0u || nor_read(address, data, size) == HAL_OK;
}

int Read(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset = Address & ADDRESS_MASK;
    cm_set_primask(0);
    if (offset > HS_DEVICE_SIZE || Size > HS_DEVICE_SIZE - offset) {
        return done(0);
    }
    return done(leave_memory_mapped() && read(offset, Size, buffer));
}

/* Both bounds are inclusive sector addresses (stldr-abi.md §3). */
int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress)
{
    uint32_t first = (EraseStartAddress & ADDRESS_MASK) / HS_DEVICE_SECTOR;
    uint32_t last = (EraseEndAddress & ADDRESS_MASK) / HS_DEVICE_SECTOR;
    cm_set_primask(0);
    if (first > last || last >= HS_DEVICE_SIZE / HS_DEVICE_SECTOR || !leave_memory_mapped()) {
        return done(0);
    }
    for (uint32_t sector = first; sector <= last; sector++) {
        if (nor_erase_sector(sector * HS_DEVICE_SECTOR) != HAL_OK) {
            return done(0);
        }
    }
    return done(1);
}

int MassErase(uint32_t Parallelism)
{
    (void)Parallelism; /* no host passes anything but 0 */
    cm_set_primask(0);
    return done(leave_memory_mapped() && nor_erase_chip() == HAL_OK);
}

static uint32_t byte_sum(uint32_t address, uint32_t size, uint32_t sum)
{
    const volatile uint8_t *p = (const volatile uint8_t *)address;
    while (size-- != 0u) {
        sum += *p++;
    }
    return sum;
}

/* Additive byte sum read through the memory-mapped window. */
uint32_t CheckSum(uint32_t StartAddress, uint32_t Size, uint32_t InitVal)
{
    cm_set_primask(0);
    if (!enter_memory_mapped()) {
        done(0);
        return InitVal;
    }
    uint32_t sum = byte_sum(StartAddress, Size, InitVal);
    done(1);
    return sum;
}

/* Size is in words; missalignement holds the skipped head (bits 3:0) and padded tail
 * (bits 19:16) byte counts. The high word returns the checksum the way ST's loaders compute
 * it; the low word is 0 when all bytes match, otherwise the address of the first difference. */
uint64_t Verify(uint32_t MemoryAddr, uint32_t RAMBufferAddr, uint32_t Size,
                uint32_t missalignement)
{
    uint32_t bytes = Size * 4u;
    uint32_t head = missalignement & 0xFu;
    uint32_t tail = (missalignement >> 16) & 0xFu;
    const volatile uint8_t *flash = (const volatile uint8_t *)MemoryAddr;
    const uint8_t *ram = (const uint8_t *)RAMBufferAddr;
    uint32_t failed = 0u;

    cm_set_primask(0);
    if (!enter_memory_mapped()) {
        done(0);
        return MemoryAddr | 1u; /* never 0: the host sees a failure */
    }
    uint32_t sum = byte_sum(MemoryAddr + head, bytes - tail, 0u);
    for (uint32_t i = 0; i < bytes; i++) {
        if (flash[i] != ram[i]) {
            failed = MemoryAddr + i;
            break;
        }
    }
    done(1);
    return ((uint64_t)sum << 32) | failed;
}

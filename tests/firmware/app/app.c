/* A small application with code in internal flash and assets in external QSPI flash, as users
 * build it: the test suite programs its external part through loaders. */
#include <stdint.h>

__attribute__((section(".ext_text"), used, noinline)) uint32_t ext_checksum(const uint8_t *p, uint32_t n)
{
    uint32_t sum = 0x1234;
    while (n--) {
        sum = (sum << 5) ^ (sum >> 27) ^ *p++;
    }
    return sum;
}

/* 12 KiB + 100 bytes of asset data in external flash: spans several 4 KiB sectors and ends
 * inside a sector, so programs exercise partial-sector preservation. */
#define ASSET_WORDS (3 * 1024 + 25)
#define F(i) ((uint32_t)(i) * 2654435761u)
#define R4(i) F(i), F((i) + 1), F((i) + 2), F((i) + 3)
#define R16(i) R4(i), R4((i) + 4), R4((i) + 8), R4((i) + 12)
#define R64(i) R16(i), R16((i) + 16), R16((i) + 32), R16((i) + 48)
#define R256(i) R64(i), R64((i) + 64), R64((i) + 128), R64((i) + 192)
#define R1K(i) R256(i), R256((i) + 256), R256((i) + 512), R256((i) + 768)
__attribute__((section(".ext_rodata"), used)) const uint32_t assets[ASSET_WORDS] = {
    R1K(0), R1K(1024), R1K(2048), R16(3072), R4(3088), R4(3092), F(3096)
};

int main(void)
{
    return (int)ext_checksum((const uint8_t *)assets, sizeof assets);
}

void Reset_Handler(void)
{
    main();
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used)) const void *vectors[2] = {
    (void *)0x20020000, (void *)Reset_Handler
};

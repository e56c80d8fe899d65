/*
 * On-target CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) used by extflash to compare flash
 * sectors with an image without reading them back over the debug port.
 *
 * Called like a loader function: r0 = data pointer (memory-mapped flash window), r1 = length,
 * r2 = running CRC (0 to start), r3 = address of a 16-entry nibble table the host writes into
 * RAM next to this code. Taking the table as an argument keeps the code free of absolute
 * addresses, so the host can place it anywhere. Returns the updated CRC in r0.
 * Built for ARMv6-M so the same code runs on every Cortex-M.
 */
typedef unsigned int u32;

u32 extflash_crc32(const unsigned char *p, u32 n, u32 crc, const u32 *table16)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ table16[crc & 15u];
        crc = (crc >> 4) ^ table16[crc & 15u];
    }
    return ~crc;
}

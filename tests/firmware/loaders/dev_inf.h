/* StorageInfo as STM32CubeProgrammer reads it (ST Dev_Inf.h layout, 200 bytes with 10 sector
 * slots). The padding is spelled out so fixtures can set it. */
#ifndef DEV_INF_H
#define DEV_INF_H
#include <stdint.h>

#ifndef SECTOR_NUM
#define SECTOR_NUM 10
#endif

struct DeviceSectors {
    uint32_t SectorNum;
    uint32_t SectorSize;
};

struct StorageInfo {
    char DeviceName[100];
    uint16_t DeviceType;
    uint8_t pad1[2];
    uint32_t DeviceStartAddress;
    uint32_t DeviceSize;
    uint32_t PageSize;
    uint8_t EraseValue;
    uint8_t pad2[3];
    struct DeviceSectors sectors[SECTOR_NUM];
};

#endif

/* The StorageInfo of the test loaders; every field comes from a -D so tests can assert them. */
#include "dev_inf.h"

#ifndef DEV_NAME
#define DEV_NAME "W25Q128_extflash-test"
#endif
#ifndef DEV_TYPE
#define DEV_TYPE 3
#endif
#ifndef DEV_START
#define DEV_START 0x90000000u
#endif
#ifndef SECTOR_COUNT
#define SECTOR_COUNT 256u
#endif
#ifndef SECTOR_SIZE
#define SECTOR_SIZE 0x10000u
#endif
#ifndef DEV_SIZE
#define DEV_SIZE (SECTOR_COUNT * SECTOR_SIZE + SECTOR2_COUNT * SECTOR2_SIZE)
#endif
#ifndef SECTOR2_COUNT
#define SECTOR2_COUNT 0u
#define SECTOR2_SIZE 0u
#endif
#ifndef DEV_PAGE
#define DEV_PAGE 0x100u
#endif
#ifndef DEV_ERASE
#define DEV_ERASE 0xFFu
#endif
#ifndef PAD1
#define PAD1 0
#endif
#ifndef SI_SYMBOL
#define SI_SYMBOL StorageInfo
#endif

#ifndef NO_STORAGE_INFO
__attribute__((used, section(".rodata.StorageInfo")))
const struct StorageInfo SI_SYMBOL = {
    DEV_NAME,
    DEV_TYPE,
    {PAD1, 0},
    DEV_START,
    DEV_SIZE,
    DEV_PAGE,
    DEV_ERASE,
    {0, 0, 0},
    {{SECTOR_COUNT, SECTOR_SIZE}, {SECTOR2_COUNT, SECTOR2_SIZE}},
};
#endif

/* Stand-in for the USER driver's types (External Memory Manager, USER driver): the user object
 * {MemID, PtrUserDriver} and the memory information {MemSize (log2 of the size), MpuCache}. */
#ifndef STM32_USER_DRIVER_TYPE_H
#define STM32_USER_DRIVER_TYPE_H

#include <stdint.h>

typedef struct {
    uint32_t MemID;
    void *PtrUserDriver;
} EXTMEM_DRIVER_USER_ObjectTypeDef;

typedef struct {
    uint32_t MemSize;
    uint32_t MpuCache;
} EXTMEM_USER_MemInfoTypeDef;

#endif

/* Stand-in for the USER driver's API (External Memory Manager, USER driver): the hooks the
 * manager calls and their status codes (OK 0, errors -1 to -10, NOTSUPPORTED -128). */
#ifndef STM32_USER_DRIVER_API_H
#define STM32_USER_DRIVER_API_H

#include <stdint.h>
#include "stm32_user_driver_type.h"

typedef enum {
    EXTMEM_DRIVER_USER_OK = 0,
    EXTMEM_DRIVER_USER_NOTSUPPORTED = -128,
} EXTMEM_DRIVER_USER_StatusTypeDef;

EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_Init(uint32_t MemoryId,
                                                         EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_DeInit(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_Read(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject,
                                                         uint32_t Address, uint8_t *Data, uint32_t Size);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_Write(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject,
                                                          uint32_t Address, const uint8_t *Data,
                                                          uint32_t Size);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_EraseSector(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject,
                                                                uint32_t Address, uint32_t Size);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_MassErase(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_Enable_MemoryMappedMode(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_Disable_MemoryMappedMode(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_GetMapAddress(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject,
                                                                  uint32_t *BaseAddress);
EXTMEM_DRIVER_USER_StatusTypeDef EXTMEM_DRIVER_USER_GetInfo(EXTMEM_DRIVER_USER_ObjectTypeDef *UserObject,
                                                            EXTMEM_USER_MemInfoTypeDef *MemInfo);

#endif

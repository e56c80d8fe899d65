/* Stand-in for the project's stm32_extmem_conf.h: CubeMX sets EXTMEM_DRIVER_USER to 1 when
 * memory 1's driver is EXTMEM_USER. */
#ifndef STM32_EXTMEM_CONF_H
#define STM32_EXTMEM_CONF_H

#define EXTMEM_DRIVER_USER 1

#endif

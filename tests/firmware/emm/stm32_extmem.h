/* Stand-in for the External Memory Manager's stm32_extmem.h, written from its documented API for
 * the USER-driver test: what a USER driver sees through it is the HAL (here the XSPI subset). */
#ifndef STM32_EXTMEM_H
#define STM32_EXTMEM_H

#include "hal_xspi.h"

#endif

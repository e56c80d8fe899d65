/*
 * IO manager: which controller drives which port's pins.
 *
 * OCTOSPIM (H7A3/B3, H72x/73x, U5, L4R/L4S; peripherals.md §5): one PCR per port at 0x04 + 4n
 * with an enable and a source per signal group. Like HAL_OSPIM_Config, both controllers are
 * disabled while the mapping changes, every group the controller drives elsewhere is released,
 * then its port is claimed: CLK, NCS, IO[3:0] (IOL from the controller's IO[3:0]) and, when
 * used, IO[7:4] and DQS.
 *
 * XSPIM (H7R/S; peripherals.md §6.2): a single CR. MODE = 1 swaps the ports (XSPI1 on port 2
 * and XSPI2 on port 1); both XSPIs must be disabled while it changes, as HAL_XSPIM_Config does.
 */
#include "hal_ospi.h"

#define OH_IOM_NONE     0
#define OH_IOM_OCTOSPIM 1
#define OH_IOM_XSPIM    2

#if OH_IOM_KIND != OH_IOM_NONE
#define IOM_REG(off) OH_REG(OH_IOM_BASE + (off))

#define PCR_CLKEN   (1u << 0)
#define PCR_CLKSRC  1u
#define PCR_DQSEN   (1u << 4)
#define PCR_DQSSRC  5u
#define PCR_NCSEN   (1u << 8)
#define PCR_NCSSRC  9u
#define PCR_IOLEN   (1u << 16)
#define PCR_IOLSRC  17u
#define PCR_IOHEN   (1u << 24)
#define PCR_IOHSRC  25u
#define XSPIM_CR_MODE (1u << 1)

static HAL_StatusTypeDef disable(OCTOSPI_TypeDef *o, uint32_t timeout)
{
    if (HAL_WaitForFlag(&o->SR, OSPI_SR_BUSY, 0u, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    o->CR &= ~OSPI_CR_EN;
    return HAL_OK;
}
#endif

HAL_StatusTypeDef HAL_OSPIM_Config(OSPI_HandleTypeDef *h, uint32_t timeout)
{
#if OH_IOM_KIND == OH_IOM_NONE
    (void)h;
    (void)timeout;
    return HAL_OK;
#else
    OCTOSPI_TypeDef *peer = (OCTOSPI_TypeDef *)OH_IOM_PEER_BASE;
    uint32_t own_enabled = h->Instance->CR & OSPI_CR_EN;
    uint32_t peer_enabled = peer->CR & OSPI_CR_EN;
    if (disable(h->Instance, timeout) != HAL_OK || disable(peer, timeout) != HAL_OK) {
        return HAL_TIMEOUT;
    }
#if OH_IOM_KIND == OH_IOM_OCTOSPIM
    const uint32_t src = OH_INSTANCE - 1u; /* 0 = OCTOSPI1, 1 = OCTOSPI2 */
    for (uint32_t port = 0; port < OH_IOM_PORTS; port++) {
        uint32_t pcr = IOM_REG(0x04u + 4u * port);
        if (((pcr >> PCR_CLKSRC) & 1u) == src) {
            pcr &= ~PCR_CLKEN;
        }
        if (((pcr >> PCR_DQSSRC) & 1u) == src) {
            pcr &= ~PCR_DQSEN;
        }
        if (((pcr >> PCR_NCSSRC) & 1u) == src) {
            pcr &= ~PCR_NCSEN;
        }
        if (((pcr >> PCR_IOLSRC) & 3u) >> 1 == src) {
            pcr &= ~PCR_IOLEN;
        }
        if (((pcr >> PCR_IOHSRC) & 3u) >> 1 == src) {
            pcr &= ~PCR_IOHEN;
        }
        IOM_REG(0x04u + 4u * port) = pcr;
    }
    /* IOxSRC: 00 OCTOSPI1 IO[3:0], 01 OCTOSPI1 IO[7:4], 10 OCTOSPI2 IO[3:0], 11 IO[7:4] */
    uint32_t pcr = PCR_CLKEN | (src << PCR_CLKSRC) | PCR_NCSEN | (src << PCR_NCSSRC)
                   | PCR_IOLEN | ((2u * src) << PCR_IOLSRC);
#if OH_DATA_LINES == 8
    pcr |= PCR_IOHEN | ((2u * src + 1u) << PCR_IOHSRC);
#endif
#if OH_USES_DQS
    pcr |= PCR_DQSEN | (src << PCR_DQSSRC);
#endif
    IOM_REG(0x04u + 4u * (OH_PORT - 1u)) = pcr;
#else
    uint32_t swapped = (OH_INSTANCE != OH_PORT) ? XSPIM_CR_MODE : 0u;
    IOM_REG(0x00u) = (IOM_REG(0x00u) & ~XSPIM_CR_MODE) | swapped;
#endif
    peer->CR |= peer_enabled;
    h->Instance->CR |= own_enabled;
    return HAL_OK;
#endif
}

/*
 * GPIO set-up for the memory interface pins, in the HAL_GPIO_Init order: speed and output
 * type, pull, alternate function, and the mode last, each by read-modify-write so the other
 * pins of the port (a debug probe's SWD pins among them) keep their configuration.
 */
#include "hal.h"

#define GPIO_MODER   0x00u
#define GPIO_OTYPER  0x04u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR   0x0Cu
#define GPIO_AFR     0x20u /* AFRL; AFRH follows at 0x24 */

#define GPIO_MODE_AF        2u
#define GPIO_SPEED_VERYHIGH 3u

void HAL_GPIO_Init_AF(const hs_pin_t *p)
{
    uint32_t base = HS_GPIO_BASE + HS_GPIO_PORT_STRIDE * p->port;
    uint32_t two = 2u * p->pin;
    uint32_t v;

    v = HS_REG(base, GPIO_OSPEEDR) & ~(3u << two);
    HS_REG(base, GPIO_OSPEEDR) = v | (GPIO_SPEED_VERYHIGH << two);
    HS_REG(base, GPIO_OTYPER) &= ~(1u << p->pin); /* push-pull */
    HS_REG(base, GPIO_PUPDR) &= ~(3u << two);     /* no pull */

    uint32_t afr = GPIO_AFR + 4u * (p->pin >> 3);
    uint32_t four = 4u * (p->pin & 7u);
    v = HS_REG(base, afr) & ~(0xFu << four);
    HS_REG(base, afr) = v | ((uint32_t)p->af << four);

    v = HS_REG(base, GPIO_MODER) & ~(3u << two);
    HS_REG(base, GPIO_MODER) = v | (GPIO_MODE_AF << two);
}

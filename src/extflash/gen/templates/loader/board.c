/* Clock tree, peripheral clocks and pins, driven by the tables in board_config.c. */
#include "loader.h"

/* Upper bound for one clock-tree wait (oscillator or PLL start-up, clock switch). */
#define CLOCK_STEP_TIMEOUT_MS 100u

static int apply_ops(const reg_op_t *ops, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        const reg_op_t *op = &ops[i];
        volatile uint32_t *reg = (volatile uint32_t *)op->addr;
        if (!op->wait) {
            *reg = (*reg & ~op->mask) | op->value;
            continue;
        }
        timeout_t t;
        timeout_start(&t, CLOCK_STEP_TIMEOUT_MS);
        while ((*reg & op->mask) != op->value) {
            if (timeout_expired(&t))
                return 0;
        }
    }
    return 1;
}

static void field(volatile uint32_t *reg, uint32_t pin, uint32_t bits, uint32_t value)
{
    uint32_t shift = pin * bits;
    uint32_t mask = ((1u << bits) - 1u) << shift;
    *reg = (*reg & ~mask) | (value << shift);
}

static void configure_pins(void)
{
    for (uint32_t i = 0; i < board_pin_count; i++) {
        const pin_cfg_t *p = &board_pins[i];
        gpio_regs_t *gpio = (gpio_regs_t *)p->gpio;
        /* AF number before the mode switch, so the pin never drives another function. */
        field(&gpio->AFR[p->pin >> 3], p->pin & 7u, 4u, p->af);
        field(&gpio->OSPEEDR, p->pin, 2u, 3u);          /* very high speed */
        field(&gpio->OTYPER, p->pin, 1u, 0u);           /* push-pull */
        field(&gpio->PUPDR, p->pin, 2u, p->pull);
        field(&gpio->MODER, p->pin, 2u, 2u);            /* alternate function */
    }
}

/* Does every register hold what the clock sequence and configure_pins() leave behind? */
static int board_ready_now(void)
{
    for (uint32_t i = 0; i < board_ready_count; i++) {
        const reg_op_t *c = &board_ready[i];
        if ((*(volatile uint32_t *)c->addr & c->mask) != c->value)
            return 0;
    }
    return 1;
}

int board_init(void)
{
    /* Hosts call Init before every operation (stldr-abi §5.2). Once the clocks and pins are
     * set, running the sequence again would switch the core to HSI, stop and relock the PLL
     * and switch back, every call: a few register reads say it is not needed. */
    if (board_ready_now())
        return 1;
    if (!apply_ops(board_clock_ops, board_clock_op_count))
        return 0;
    configure_pins();
    return 1;
}

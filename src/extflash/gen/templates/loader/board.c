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

/* The steps of one pin's set-up, as writes: the AF number before the mode switch, so the pin
 * never drives another function. */
#define PIN_STEPS 5u
static void pin_steps(const pin_cfg_t *p, reg_op_t step[PIN_STEPS])
{
    gpio_regs_t *gpio = (gpio_regs_t *)p->gpio;
    uint32_t n = p->pin, a = 4u * (p->pin & 7u);
    step[0] = (reg_op_t){(uint32_t)&gpio->AFR[n >> 3], 0xFu << a, (uint32_t)p->af << a, 0u};
    step[1] = (reg_op_t){(uint32_t)&gpio->OSPEEDR, 3u << 2u * n, 3u << 2u * n, 0u}; /* very high */
    step[2] = (reg_op_t){(uint32_t)&gpio->OTYPER, 1u << n, 0u, 0u};          /* push-pull */
    step[3] = (reg_op_t){(uint32_t)&gpio->PUPDR, 3u << 2u * n, (uint32_t)p->pull << 2u * n, 0u};
    step[4] = (reg_op_t){(uint32_t)&gpio->MODER, 3u << 2u * n, 2u << 2u * n, 0u}; /* AF mode */
}

/* Does every register hold what these steps write? */
static int ops_hold(const reg_op_t *ops, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if ((*(volatile uint32_t *)ops[i].addr & ops[i].mask) != ops[i].value)
            return 0;
    }
    return 1;
}

/* 1: configure the pins; 0: only say whether they are configured already. */
static int pins(int configure)
{
    for (uint32_t i = 0; i < board_pin_count; i++) {
        reg_op_t step[PIN_STEPS];
        pin_steps(&board_pins[i], step);
        if (configure)
            apply_ops(step, PIN_STEPS);
        else if (!ops_hold(step, PIN_STEPS))
            return 0;
    }
    return 1;
}

int board_init(void)
{
    /* Hosts call Init before every operation (stldr-abi §5.2). Once the clocks and pins are
     * set, running the sequence again would switch the core to HSI, stop and relock the PLL
     * and switch back, every call: a few register reads say it is not needed. */
    if (ops_hold(board_clock_ready, board_clock_ready_count) && pins(0))
        return 1;
    if (!apply_ops(board_clock_ops, board_clock_op_count))
        return 0;
    return pins(1);
}

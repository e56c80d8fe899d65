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

/* Does every register hold what these steps leave behind? */
static int ops_hold(const reg_op_t *ops, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if ((*(volatile uint32_t *)ops[i].addr & ops[i].mask) != ops[i].value)
            return 0;
    }
    return 1;
}

int board_init(void)
{
    /* Hosts call Init before every operation (stldr-abi §5.2). Once the clocks and pins are
     * set, running the sequence again would switch the core to HSI, stop and relock the PLL
     * and switch back, every call: a few register reads say it is not needed. */
    if (ops_hold(board_ready, board_ready_count))
        return 1;
    return apply_ops(board_clock_ops, board_clock_ops_count)
           && apply_ops(board_pin_ops, board_pin_ops_count);
}


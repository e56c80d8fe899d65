/* A minimal application for the internal flash: the reset handler counts in a RAM word. */
#include <stdint.h>

extern uint32_t _stack_top;
void reset_handler(void);

__attribute__((section(".vectors"), used)) const uint32_t vectors[2] = {
    (uint32_t)&_stack_top,
    (uint32_t)reset_handler,
};

volatile uint32_t counter __attribute__((section(".noinit")));

void reset_handler(void)
{
    counter = 0;
    for (;;)
        counter++;
}

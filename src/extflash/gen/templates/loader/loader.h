/* Internal interfaces of the loader: the board bring-up, the controller driver (qspi.c for
 * QUADSPI, ospi.c for OCTOSPI/XSPI, both over xfer.c) and the NOR driver.
 * The entry points (stldr.c, flm.c) only use these functions. */
#ifndef LOADER_H
#define LOADER_H

#include <stdint.h>
#include "config.h"
#include "regs.h"

/* Everything is private to the image: in the position-independent FLM build this makes every
 * reference PC-relative instead of going through a GOT the host would have to relocate. */
#pragma GCC visibility push(hidden)

/* An entry point only the host calls: kept by the link-time optimisation (-flto), which would
 * otherwise drop it as unreferenced. */
#define ENTRY_POINT __attribute__((used))

/* One step of the clock/enable sequence: read-modify-write a register field, or wait for it. */
typedef struct {
    uint32_t addr;
    uint32_t mask;
    uint32_t value;
    uint32_t wait;      /* 0: write (reg & ~mask) | value; 1: wait until (reg & mask) == value */
} reg_op_t;

extern const reg_op_t board_clock_ops[];
extern const uint32_t board_clock_ops_count;
extern const reg_op_t board_pin_ops[];
extern const uint32_t board_pin_ops_count;
extern const reg_op_t board_ready[];
extern const uint32_t board_ready_count;

/* timeouts (tick.c): never interrupt-driven */
typedef struct {
    uint32_t last;
    uint64_t left;
} timeout_t;
void tick_init(void);
void timeout_start(timeout_t *t, uint32_t ms);
int timeout_expired(timeout_t *t);
void delay_us(uint32_t us);

/* board.c */
int board_init(void);

/* xfer.c: flag waits, the FIFO data phase, indirect commands and status polling, common to every
 * controller */
#define CTL_FLAG_TIMEOUT_MS 10u     /* FIFO and flag waits are bounded by the bus: microseconds */
#define CTL_FIFO_WORD 3u            /* FTHRES = 3: FTF means a 32-bit word can move */
#define CTL_POLL_INTERVAL 0x10u     /* PIR: 16 CLK cycles between two automatic status reads */
int ctl_wait_timed(uint32_t mask, uint32_t want, uint32_t ms);
int ctl_move_data(int reading, uint8_t *data, uint32_t len);

static inline int ctl_wait(uint32_t mask, uint32_t want, uint32_t ms)
{
    return (CTL->SR & mask) == want || ctl_wait_timed(mask, want, ms);
}

uint32_t ctl_any_timed(uint32_t mask, uint32_t ms);

/* The status once any of ``mask`` is set in it (0: ``ms`` passed first). */
static inline uint32_t ctl_any(uint32_t mask, uint32_t ms)
{
    uint32_t sr = CTL->SR;
    return (sr & mask) ? sr : ctl_any_timed(mask, ms);
}

int qspi_run(ctl_cmd_t cmd, uint32_t addr, uint8_t *data, uint32_t len);
int qspi_send(ctl_cmd_t cmd);
int qspi_poll(ctl_cmd_t cmd, uint32_t mask, uint32_t match, uint32_t bytes, uint32_t ms);

/* qspi.c or ospi.c: ``cmd`` is the command word regs.h describes for the controller;
 * ctl_issue writes it (and the address) in the order that starts the command. */
void ctl_issue(ctl_cmd_t cmd, uint32_t addr);
void qspi_abort(void);
/* xfer.c: the next poll writes PSMKR and PSMAR whatever they held (qspi_abort calls it). */
void ctl_forget(void);
int qspi_setup(void);
/* Is the controller memory-mapped exactly as qspi_setup and qspi_map leave it? */
int qspi_still_mapped(void);
/* Out of line under -flto too: it runs once per call, and it is where a debugger breaks to see
 * the controller before the window opens. */
__attribute__((noinline)) int qspi_map(void);

/* nor.c: offsets are relative to the start of the (logical) flash */
int nor_init(void);
/* The chip is in the state nor_init left it in (the commands take that form again). */
void nor_resume(void);
int nor_erase_sectors(uint32_t first, uint32_t last);
int nor_erase_chip(void);
int nor_program(uint32_t offset, const uint8_t *data, uint32_t size);

/* linker-script symbols bounding .bss */
extern uint32_t __bss_start__[], __bss_end__[];

/* common.c */
int loader_init(void);
uint32_t flash_offset(uint32_t address);
uint32_t byte_sum(uint32_t address, uint32_t size, uint32_t sum);
void window_read(uint32_t offset, uint8_t *out, uint32_t size);

#pragma GCC visibility pop

#endif

/* Native exception entry and return for extflash.emu.cortexm.ExceptionUnit: the same register
 * and stack work as its Python path (ARMv7-M ARM B1.5.6 exception entry, B1.5.8 return), in one
 * call instead of a handful of unicorn calls and Python list work. unicorn's C functions come as
 * pointers from the Python side (this file links against nothing); register ids too.
 *
 * Python keeps the stack of active exceptions and its listeners; these functions only move the
 * frame between the registers and guest memory and jump. The Python path is the reference: the
 * differential test (tests/emu/test_exceptions_native.py) runs both on identical machines. */
#include <stdint.h>

typedef int (*reg_batch_fn)(void *uc, const int *regs, void *const *vals, int count);
typedef int (*mem_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);

/* Register ids, in this order (filled in by Python from unicorn's arm_const). */
enum { R0, R1, R2, R3, R12, LR, PC, XPSR, CONTROL, MSP, PSP, CPSR, S0, FPSCR = S0 + 16,
       ID_COUNT };

struct exc_unit {
    void *uc;
    reg_batch_fn reg_read_batch;
    reg_batch_fn reg_write_batch;
    mem_fn mem_read;
    mem_fn mem_write;
    int32_t has_fpu;
    int id[ID_COUNT];   /* S0..S15 and FPSCR contiguous: one batch */
};

#define CONTROL_SPSEL (1u << 1)
#define CONTROL_FPCA  (1u << 2)
#define XPSR_T        (1u << 24)
#define XPSR_ALIGNED  (1u << 9)     /* the frame was realigned to 8 bytes */
#define BASIC_WORDS   8u
#define FP_WORDS      26u           /* basic frame + s0..s15 + FPSCR + reserved word */
#define FP_REGS       17u           /* s0..s15, FPSCR */

static int read_regs(const struct exc_unit *u, const int *ids, uint32_t *values, int n)
{
    void *ptrs[FP_REGS + 12];
    for (int i = 0; i < n; i++) {
        ptrs[i] = &values[i];
    }
    return u->reg_read_batch(u->uc, ids, ptrs, n);
}

static int write_regs(const struct exc_unit *u, const int *ids, uint32_t *values, int n)
{
    void *ptrs[FP_REGS + 12];
    for (int i = 0; i < n; i++) {
        ptrs[i] = &values[i];
    }
    return u->reg_write_batch(u->uc, ids, ptrs, n);
}

/* Write CONTROL, the stack pointer(s) and XPSR (ids/values prepared by the caller), then rebuild
 * QEMU's hflags by writing CPSR back and jump: LR and PC. */
static int finish(const struct exc_unit *u, const int *ids, uint32_t *values, int n,
                  uint32_t lr, uint32_t pc)
{
    int status = write_regs(u, ids, values, n);
    if (status) {
        return status;
    }
    int jump_ids[3] = {u->id[CPSR], u->id[LR], u->id[PC]};
    uint32_t jump[3];
    status = read_regs(u, jump_ids, jump, 1);
    if (status) {
        return status;
    }
    jump[1] = lr;
    jump[2] = pc;
    return write_regs(u, jump_ids, jump, 3);
}

/* Stack the context and continue at handler as exception number. thread: no exception was
 * active (thread mode). Returns a unicorn status. */
int exc_enter(const struct exc_unit *u, uint32_t number, uint32_t handler, int32_t thread)
{
    int ids[11] = {u->id[R0], u->id[R1], u->id[R2], u->id[R3], u->id[R12], u->id[LR],
                   u->id[PC], u->id[XPSR], u->id[CONTROL], u->id[MSP], u->id[PSP]};
    uint32_t v[11];
    int status = read_regs(u, ids, v, 11);
    if (status) {
        return status;
    }
    uint32_t pc = v[6], xpsr = v[7], control = v[8], msp = v[9], psp = v[10];
    int use_psp = thread && (control & CONTROL_SPSEL);
    int fp = u->has_fpu && (control & CONTROL_FPCA);
    uint32_t frame = (use_psp ? psp : msp) - 4u * (fp ? FP_WORDS : BASIC_WORDS);
    if (frame & 4u) {
        frame -= 4u;
        xpsr |= XPSR_ALIGNED;
    } else {
        xpsr &= ~XPSR_ALIGNED;
    }
    uint32_t words[FP_WORDS];
    for (int i = 0; i < 6; i++) {
        words[i] = v[i];
    }
    words[6] = pc & ~1u;
    words[7] = xpsr;
    uint32_t count = BASIC_WORDS;
    if (fp) {
        status = read_regs(u, &u->id[S0], &words[BASIC_WORDS], FP_REGS);
        if (status) {
            return status;
        }
        words[FP_WORDS - 1] = 0;
        count = FP_WORDS;
    }
    status = u->mem_write(u->uc, frame, words, 4u * count);
    if (status) {
        return status;
    }
    uint32_t exc_return = fp ? 0xFFFFFFE1u : 0xFFFFFFF1u;
    if (thread) {
        exc_return |= 0x8u | (use_psp ? 0x4u : 0u);
    }
    control &= ~(CONTROL_SPSEL | CONTROL_FPCA);
    xpsr = XPSR_T | number;
    if (use_psp) {
        int stack_ids[4] = {u->id[CONTROL], u->id[MSP], u->id[PSP], u->id[XPSR]};
        uint32_t stack[4] = {control, msp, frame, xpsr};
        return finish(u, stack_ids, stack, 4, exc_return, handler | 1u);
    }
    int stack_ids[3] = {u->id[CONTROL], u->id[MSP], u->id[XPSR]};
    uint32_t stack[3] = {control, frame, xpsr};
    return finish(u, stack_ids, stack, 3, exc_return, handler | 1u);
}

/* Unstack the frame exc_return selects; current: the exception active after this return (0:
 * thread mode), for IPSR. Returns a unicorn status. */
int exc_leave(const struct exc_unit *u, uint32_t exc_return, uint32_t current)
{
    int use_psp = (exc_return & 0x4u) != 0;
    int fp = !(exc_return & 0x10u);
    int ids[3] = {u->id[CONTROL], u->id[MSP], u->id[PSP]};
    uint32_t v[3];
    int status = read_regs(u, ids, v, 3);
    if (status) {
        return status;
    }
    uint32_t control = v[0];
    uint32_t sp = use_psp ? v[2] : v[1];
    uint32_t count = fp ? FP_WORDS : BASIC_WORDS;
    uint32_t words[FP_WORDS];
    status = u->mem_read(u->uc, sp, words, 4u * count);
    if (status) {
        return status;
    }
    uint32_t xpsr = words[7];
    sp += 4u * count + ((xpsr & XPSR_ALIGNED) ? 4u : 0u);
    control &= ~(CONTROL_SPSEL | CONTROL_FPCA);
    if (use_psp) {
        control |= CONTROL_SPSEL;
    }
    if (fp) {
        control |= CONTROL_FPCA;
        status = write_regs(u, &u->id[S0], &words[BASIC_WORDS], FP_REGS);
        if (status) {
            return status;
        }
    }
    xpsr = (xpsr & ~XPSR_ALIGNED & ~0x1FFu) | XPSR_T | current;
    int stack_ids[9] = {u->id[R0], u->id[R1], u->id[R2], u->id[R3], u->id[R12], u->id[LR],
                        u->id[CONTROL], u->id[use_psp ? PSP : MSP], u->id[XPSR]};
    uint32_t stack[9] = {words[0], words[1], words[2], words[3], words[4], words[5], control,
                         sp, xpsr};
    return finish(u, stack_ids, stack, 9, words[5], words[6] | 1u);
}

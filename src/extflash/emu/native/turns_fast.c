/* Data-loop turns run at once: the turn summaries extflash/emu/turns.py makes, applied in C.
 *
 * A HAL-style loader moves each byte of a page program or an indirect read through a loop of
 * twenty to thirty instructions (a call to the flag wait, an SR read, a compare, the DR access,
 * the pointer and the count). turns.py runs one turn of such a loop symbolically and, when every
 * value the turn computes is an affine function of the turn number (a pointer moving by its
 * stride, a count, constants) or data it only copies (the byte it loads and writes to DR), and
 * every register access it makes is one the command lane serves here without time (SR reads,
 * DR writes that do not complete the transfer, DR reads of data already read off the bus),
 * summarises the turn as a program for the small machine below: how to compute each value of
 * turn 0 from the core registers and memory, how far each branch keeps its direction, and what
 * the turn leaves in registers, memory and the lane.
 *
 * How it runs. A block hook on the loop's head (turn_hook) sees the core enter a turn; inside
 * the C tick loop (ticks_fast.c, with the slice's instruction counter and limit), when the lane
 * has room for a few turns, it evaluates the summary right there, on the registers and memory
 * of now: n, the turns that keep every branch's direction, end before the slice's limit (the
 * next event) and that the lane serves; it writes what n turns leave (the lane's state, the
 * registers, the memory the turn stores) and moves the slice's instruction counter on by n
 * times the turn's instructions. A block hook's register writes are what the block then runs
 * on: unicorn calls hooks through a TCG helper declared without TCG's no-globals flags
 * (DEF_HELPER_4(uc_tracecode, ...)), so TCG stores the guest registers to the CPU state before
 * the call and loads them back after it. The core goes on at the
 * head with the turn after them: to the machine, the lanes and the time sources the turns ran,
 * one cycle per instruction, as they would have. When the summary does not hold (a branch
 * would turn at once, memory overlaps, the code changed) the core just goes on at the head.
 *
 * The differential tests (tests/emu/test_turns.py) run loaders with and without this file:
 * identical registers, memory, flash, cycles and virtual time. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int (*reg_batch_fn)(void *uc, const int *regs, void *const *vals, int count);
/* the command lane's side (quadspi_fast.c) */
struct lane_access {
    uint32_t offset;
    uint8_t size, write, pad[2];
    uint32_t used;      /* a read: the bits of its value the turn uses (turns.py) */
};
typedef uint64_t (*lane_room_fn)(const void *lane, const struct lane_access *acc, uint32_t n_acc,
                                 uint32_t *values);
typedef void (*lane_serve_fn)(void *lane, const struct lane_access *acc, uint32_t n_acc,
                              uint64_t n, uint8_t *data);

#define MAX_TEMPLATES 8u
#define MAX_OPS 192u
#define MAX_SLOTS 128u
#define MAX_ACC 8u
#define MAX_LOADS 16u
#define MAX_CODE 8u
#define MAX_REGIONS 8u
#define MAX_SPANS 48u
#define MIN_TURNS 4u
#define DATA_MAX (64u * 1024u)  /* the bytes one application moves through the lane at most */
#define COOL_DOWN 64u           /* head visits left alone after the summary did not hold */
#define GIVE_UP 16u             /* times it did not hold before it ever did: no more */
#define INF UINT64_MAX
#define IT_BITS 0x0600FC00u     /* xPSR.ICI/IT */
#define NO_LANE 0xFFFFFFFFu     /* a loop that moves data in memory only (memset, memcpy) */

/* Core registers read and written, in this order (ids filled in by Python). */
enum { R_SP = 13, R_LR = 14, R_PC = 15, R_XPSR = 16, R_NZCV = 17, R_IDS = 18 };

/* Op codes: values (dst <- base and per-turn coefficient) */
enum {
    T_REG = 1,      /* a: register; k: its per-turn step */
    T_CONST,        /* k */
    T_ADD, T_SUB,   /* a, b */
    T_MULK,         /* a * k */
    T_NOT,          /* ~a */
    /* turn constants only (inputs with no per-turn step) */
    T_AND, T_ORR, T_EOR, T_BIC, T_MUL, T_LSL, T_LSR, T_ASR, T_ROR,  /* a, b */
    T_LSRK, T_ASRK, T_RORK,                                          /* a, k */
    T_UBFX, T_SBFX,                                                  /* a, k: lsb, k2: width */
    T_CELL,         /* a: address; k: width | 8 signed; k2: per-turn step */
    T_MMIO,         /* a: access: the value the lane's read returns in every turn */
    T_CHECK,        /* a == b now, or the summary does not hold */
    /* bounds */
    T_COND,         /* a, b; k: condition | kind << 4 | taken << 8 */
    /* data */
    T_DLOAD,        /* dst: load; a: address; k: width | 8 signed; k2: 1 = the lane's DR read
                     * (access a; its byte offset in the turn's DR data: b) */
    /* stores and outputs take b, k2 as source_at reads them */
    T_DSTORE,       /* a: address; k: width (| shift << 8) */
    T_MMIOW,        /* a: access; k: shift << 8 */
    /* what the n turns leave */
    T_OUTREG,       /* a: register; k: shift << 8 */
    T_OUTCELL,      /* a: address; k: width (| shift << 8) */
    T_FLAGS,        /* k: flags (8 N, 4 Z, 2 C, 1 V) | kind << 4 | 0x100 when operand a is data
                     * load a (shifted right by k bits 9..13) | 0x4000 when operand b is data
                     * load b (shifted right by k bits 15..19); a, b; k2: shift (C) */
    /* bounds on data */
    T_DCOND,        /* a condition on data the turn loads from memory (a byte compared with a
                     * byte of another buffer, or with a value of every turn): k as T_COND's |
                     * 0x200 when operand a is data load a, 0x400 when b is data load b; k2:
                     * their right shifts (a: bits 0..4, b: bits 8..12) */
};
/* condition-flag kinds: how the setter computed the flags */
enum { K_SUB = 1, K_ADD, K_ZERO, K_CONSTC, K_LSLC, K_LSRC };

struct turn_op {
    uint16_t code, dst, a, b;
    uint32_t k, k2;
};

struct turn_template {
    uint32_t head;          /* the loop head: the hook stops the core before this block */
    uint32_t length;        /* instructions in one turn */
    uint32_t lane;          /* the lane (index) whose register page the turn accesses, or
                             * NO_LANE */
    uint32_t n_acc;
    struct lane_access acc[MAX_ACC];
    uint32_t n_ops;
    struct turn_op ops[MAX_OPS];
    uint32_t n_code;
    uint32_t code_at[MAX_CODE], code_len[MAX_CODE];
    const uint8_t *code;    /* the turn's code bytes (instructions, literals), concatenated */
    /* worked out once (turns_prepare) */
    uint32_t per_turn;      /* the lane's DR bytes in one turn */
    uint32_t reads;         /* they are DR reads (else writes) */
    uint16_t load_op[MAX_LOADS];    /* the op (T_DLOAD) of each data load */
    uint32_t enabled;
    uint32_t cool;          /* head visits to leave alone */
    uint64_t applied;       /* applications (tests, benchmarks, and the give-up rule) */
    uint64_t turns;
    uint64_t declined;
};

struct region {
    uint32_t base, size;
    uint8_t *host;
    uint32_t writable, pad;
};

struct turns {
    void *uc;
    reg_batch_fn reg_read_batch;
    reg_batch_fn reg_write_batch;
    int32_t reg_id[R_IDS];
    volatile uint64_t *counter;     /* unicorn's instruction counter and limit */
    volatile uint64_t *limit;
    lane_room_fn lane_room;
    lane_serve_fn lane_serve;
    void *lane[8];
    uint32_t n_regions;
    struct region regions[MAX_REGIONS];
    uint32_t n_templates;
    struct turn_template templates[MAX_TEMPLATES];
    /* one run */
    uint32_t active;        /* the C tick loop runs a slice (ticks_fast.c) */
};

struct slot {
    uint32_t base, coef;    /* the value in turn j: base + j * coef (mod 2^32) */
};

struct span {
    uint64_t lo, hi;
    int32_t cell;           /* the address slot of a cell (loads and stores of one cell may
                             * overlap each other), -1: data */
    uint32_t store;
    int64_t stride;         /* data: the address's step per turn, and the access's width */
    uint32_t width, pad;
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint32_t at(const struct slot *s, uint64_t j) { return s->base + (uint32_t)j * s->coef; }

static struct region *region_of(struct turns *T, uint64_t lo, uint64_t hi, int store)
{
    for (uint32_t i = 0; i < T->n_regions; i++) {
        struct region *r = &T->regions[i];
        if (lo >= r->base && hi <= (uint64_t)r->base + r->size && lo < hi)
            return store && !r->writable ? 0 : r;
    }
    return 0;
}

static uint8_t *host(struct turns *T, uint32_t address, uint32_t width, int store)
{
    struct region *r = region_of(T, address, (uint64_t)address + width, store);
    return r ? r->host + (address - r->base) : 0;
}

static inline uint32_t get(const uint8_t *p, uint32_t width, int sign)
{
    uint16_t half;
    uint32_t word;
    switch (width) {
    case 1:
        return sign ? (uint32_t)(int32_t)(int8_t)p[0] : p[0];
    case 2:
        memcpy(&half, p, 2);
        return sign ? (uint32_t)(int32_t)(int16_t)half : half;
    default:
        memcpy(&word, p, 4);
        return word;
    }
}

/* The turns j in [0, n) for which pred(d + j * step) keeps the value it has at j = 0, d and
 * step in true integers: pred 0: d >= 0, 1: d > 0, 2: d == 0. */
static uint64_t keeps(int64_t d, int64_t step, int pred)
{
    if (!step)
        return INF;
    if (pred == 2) {
        if (!d)
            return 1;
        /* d != 0 until d + j * step == 0 */
        if ((d > 0) == (step > 0) || d % step)
            return INF;
        return (uint64_t)(-d / step);
    }
    int now = pred == 0 ? d >= 0 : d > 0;
    if (now) {
        if (step > 0)
            return INF;
        int64_t s = -step;
        return (uint64_t)(pred == 0 ? d / s + 1 : (d + s - 1) / s);
    }
    if (step < 0)
        return INF;
    return (uint64_t)(pred == 0 ? (-d + step - 1) / step : -d / step + 1);
}

/* Turns for which an unsigned 32-bit value base + j * coef does not wrap: then it is the true
 * integer base + j * (signed coef). */
static uint64_t no_wrap(uint32_t base, uint32_t coef)
{
    int64_t c = (int32_t)coef;
    if (!c)
        return INF;
    if (c > 0)
        return (0xFFFFFFFFull - base) / (uint64_t)c + 1u;
    return (uint64_t)base / (uint64_t)(-c) + 1u;
}

/* The same for a signed value. */
static uint64_t no_wrap_signed(uint32_t base, uint32_t coef)
{
    return no_wrap(base ^ 0x80000000u, coef);
}

/* How many turns condition cond (ARM encoding) on the flags the setter kind computed from a
 * and b keeps the value taken it had when turns.py ran the turn; 0 when it has another now. */
static uint64_t cond_turns(const struct slot *a, const struct slot *b, uint32_t cond,
                           uint32_t kind, uint32_t taken)
{
    static const struct slot zero = {0, 0};
    int sign = cond >= 10u && cond <= 13u;  /* GE LT GT LE */
    if (kind == K_ZERO)
        b = &zero;
    if (cond == 6u || cond == 7u || cond >= 14u || (kind == K_ZERO && cond > 5u)
            || (kind == K_ADD && sign))
        return 0;
    /* the operands as true integers over the turns counted */
    uint64_t n = sign ? min_u64(no_wrap_signed(a->base, a->coef),
                                no_wrap_signed(b->base, b->coef))
                      : min_u64(no_wrap(a->base, a->coef), no_wrap(b->base, b->coef));
    int64_t av = sign ? (int32_t)a->base : (int64_t)a->base;
    int64_t bv = sign ? (int32_t)b->base : (int64_t)b->base;
    int64_t ac = (int32_t)a->coef, bc = (int32_t)b->coef;
    int add = kind == K_ADD;
    int64_t d = add ? av + bv : av - bv, step = add ? ac + bc : ac - bc;
    int pred;
    if (cond <= 1u || cond == 4u || cond == 5u) {
        /* Z and N: of the 32-bit result, itself a value that must not wrap */
        uint32_t r = (uint32_t)d, rc = (uint32_t)step;
        n = min_u64(n, no_wrap(r, rc));
        d = cond <= 1u ? (int64_t)r : (int64_t)r - 0x80000000ll;
        step = (int32_t)rc;
        pred = cond <= 1u ? 2 : 0;
    } else if (add) {       /* HS LO HI LS: the carry out of a + b, and the result non-zero */
        d -= 0x100000000ll;
        pred = cond <= 3u ? 0 : 1;
    } else {                /* HS LO GE LT: a >= b; HI LS GT LE: a > b */
        pred = cond <= 3u || cond == 10u || cond == 11u ? 0 : 1;
    }
    int now = pred == 2 ? d == 0 : pred == 0 ? d >= 0 : d > 0;
    if ((uint32_t)((cond & 1u) ? !now : now) != taken)
        return 0;
    return min_u64(n, keeps(d, step, pred));
}

/* NZCV of the setter kind with operands x, y (shift: of the carry kinds); old: the flags
 * it leaves alone. */
static uint32_t flags_of(uint32_t kind, uint32_t x, uint32_t y, uint32_t shift, uint32_t old)
{
    uint32_t r, n, z, c = (old >> 29) & 1u, v = (old >> 28) & 1u;
    switch (kind) {
    case K_SUB:
        r = x - y;
        c = x >= y;
        v = ((x ^ y) & (x ^ r)) >> 31;
        break;
    case K_ADD:
        r = x + y;
        c = r < x;
        v = (~(x ^ y) & (x ^ r)) >> 31;
        break;
    case K_CONSTC:
        r = x;
        c = shift & 1u;
        break;
    case K_LSLC:
        r = x << shift;
        c = (x >> (32u - shift)) & 1u;
        break;
    case K_LSRC:
        r = x >> shift;
        c = (x >> (shift - 1u)) & 1u;
        break;
    default:
        r = x;
        break;
    }
    n = r >> 31;
    z = r == 0u;
    return n << 31 | z << 30 | c << 29 | v << 28;
}

/* Do two data accesses with the same stride (at least their widths) ever touch the same
 * byte? Their bytes fall on different offsets within each stride. */
static int interleaved(const struct span *a, const struct span *b)
{
    uint64_t s = (uint64_t)(a->stride < 0 ? -a->stride : a->stride);
    if (a->stride != b->stride || !s || s < a->width || s < b->width)
        return 0;
    int64_t diff = (int64_t)(b->lo - a->lo);
    uint64_t d = (uint64_t)((diff % (int64_t)s + (int64_t)s) % (int64_t)s);  /* b from a */
    return d >= a->width && d + b->width <= s;
}

/* Does any store overlap anything else the turn takes as distinct? */
static int overlaps(const struct span *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = i + 1u; k < n; k++) {
            if (!s[i].store && !s[k].store)
                continue;
            if (s[i].cell >= 0 && s[i].cell == s[k].cell)
                continue;
            if (s[i].lo < s[k].hi && s[k].lo < s[i].hi && !interleaved(&s[i], &s[k]))
                return 1;
        }
    return 0;
}

/* The range of a data access over n turns. */
static void data_span(struct span *sp, const struct slot *a, uint32_t width, uint64_t n)
{
    sp->stride = (int32_t)a->coef;
    sp->width = width;
    uint64_t first = a->base;
    uint64_t last = first + (n - 1u) * (uint64_t)(int64_t)(int32_t)a->coef;
    sp->lo = first < last ? first : last;
    sp->hi = (first < last ? last : first) + width;
    sp->cell = -1;
}

static int code_unchanged(struct turns *T, const struct turn_template *tp)
{
    const uint8_t *expect = tp->code;
    for (uint32_t i = 0; i < tp->n_code; i++) {
        const uint8_t *p = host(T, tp->code_at[i], tp->code_len[i], 0);
        if (!p || memcmp(p, expect, tp->code_len[i]))
            return 0;
        expect += tp->code_len[i];
    }
    return 1;
}

static uint8_t data_buf[DATA_MAX];

/* Condition cond (ARM encoding, A7.3) on NZCV in bits 31..28. */
static int passes(uint32_t cond, uint32_t nzcv)
{
    uint32_t n = nzcv >> 31, z = (nzcv >> 30) & 1u, c = (nzcv >> 29) & 1u, v = (nzcv >> 28) & 1u;
    uint32_t value;
    switch (cond >> 1) {
    case 0: value = z; break;
    case 1: value = c; break;
    case 2: value = n; break;
    case 3: value = v; break;
    case 4: value = c && !z; break;
    case 5: value = n == v; break;
    case 6: value = !z && n == v; break;
    default: return 1;
    }
    return (int)(value != (cond & 1u));
}

/* How many of the n turns (0: none) a condition on data (T_DCOND) keeps the direction it took
 * on paper: the turns' bytes are read where they are now. Nothing the turns store overlaps
 * what they load (apply's spans, checked before anything changes), so the bytes turn j reads
 * are there already. A verify loop (flash read back against the buffer it was written from)
 * runs to its first differing byte, a blank check to its first byte that is not 0xFF. */
static uint64_t data_cond_turns(struct turns *T, const struct turn_op *o, const struct slot *slot,
                                const struct turn_op *const *loads, uint64_t n)
{
    const uint8_t *p[2] = {0, 0};
    int64_t stride[2] = {0, 0};
    uint32_t width[2] = {0, 0}, sign[2] = {0, 0}, fixed[2] = {0, 0};
    uint32_t shift[2] = {o->k2 & 31u, (o->k2 >> 8) & 31u};
    uint32_t cond = o->k & 15u, kind = (o->k >> 4) & 15u, taken = (o->k >> 8) & 1u;
    if (cond >= 14u || (kind == K_ZERO && !(cond <= 1u || cond == 4u || cond == 5u))
            || (kind != K_ZERO && kind != K_SUB && kind != K_ADD))
        return 0;
    for (int i = 0; i < 2; i++) {
        uint32_t index = i ? o->b : o->a;
        if (!((o->k >> (9 + i)) & 1u)) {
            const struct slot *s = &slot[index];
            if (s->coef)
                return 0;   /* a value that moves: not a data compare this file knows */
            fixed[i] = s->base;
            continue;
        }
        const struct turn_op *l = loads[index];
        const struct slot *a = &slot[l->a];
        struct span sp;
        width[i] = l->k & 7u;
        sign[i] = l->k & 8u;
        if (l->k2 || (a->base | a->coef) & (width[i] - 1u))
            return 0;   /* the lane's data, or unaligned */
        data_span(&sp, a, width[i], n);
        if (!region_of(T, sp.lo, sp.hi, 0))
            return 0;
        p[i] = host(T, a->base, width[i], 0);
        stride[i] = (int32_t)a->coef;
    }
    if ((kind == K_SUB || kind == K_ZERO) && cond <= 1u && !shift[0] && !shift[1]) {
        /* Z alone: the turns go on while the two are equal (EQ taken, NE not) or while they
         * differ; bytes compared as bytes where both sides are consecutive memory */
        uint32_t equal = taken ^ cond;
        if (p[0] && p[1] && width[0] == width[1] && sign[0] == sign[1]
                && stride[0] == (int64_t)width[0] && stride[1] == (int64_t)width[1] && equal) {
            uint64_t bytes = n * width[0], k = 0;
            while (k < bytes && p[0][k] == p[1][k])
                k++;
            return k / width[0];    /* the turn of the first byte that differs */
        }
        if (p[0] && !p[1] && width[0] == 1u && stride[0] == 1) {
            uint32_t value = fixed[1];
            if (sign[0] ? value + 128u > 255u : value > 255u)
                return equal ? 0 : n;   /* no byte ever equals it */
            uint8_t byte = (uint8_t)value;
            uint64_t j = 0;
            if (equal)
                while (j < n && p[0][j] == byte)
                    j++;
            else
                while (j < n && p[0][j] != byte)
                    j++;
            return j;
        }
    }
    for (uint64_t j = 0; j < n; j++) {
        uint32_t v[2];
        for (int i = 0; i < 2; i++)
            v[i] = p[i] ? get(p[i] + (int64_t)j * stride[i], width[i], sign[i]) >> shift[i]
                        : fixed[i];
        if ((uint32_t)passes(cond, flags_of(kind, v[0], v[1], 0, 0)) != taken)
            return j;
    }
    return n;
}

/* The value of data load l (an op T_DLOAD) in turn j. */
static uint32_t load_at(struct turns *T, const struct turn_op *l, const struct slot *slot,
                        uint64_t j, uint32_t per_turn)
{
    uint32_t width = l->k & 7u;
    if (l->k2)
        return get(data_buf + j * per_turn + l->b, width, l->k & 8u);
    return get(host(T, at(&slot[l->a], j), width, 0), width, l->k & 8u);
}

/* A value a store or an output takes in turn j: a slot (k2 = 1), or data load b shifted right
 * by bits 8..12 of k, of this turn (k2 = 0) or of the turn before (k2 = 2: a register the
 * turn copied data into, read back before it copies again; outputs only, j >= 1). */
static uint32_t source_at(struct turns *T, const struct turn_op *o, const struct slot *slot,
                          const struct turn_op *const *loads, uint64_t j, uint32_t per_turn)
{
    if (o->k2 == 1u)
        return at(&slot[o->b], j);
    return load_at(T, loads[o->b], slot, o->k2 == 2u ? j - 1u : j, per_turn) >> ((o->k >> 8) & 31u);
}

/* Evaluate template tp on the registers now (regs, changed in place) and run its turns, at
 * most room_insns instructions of them: the number run (0: none, nothing changed). */
static uint64_t apply(struct turns *T, struct turn_template *tp, uint32_t *regs,
                      uint64_t room_insns)
{
    static struct slot slot[MAX_SLOTS];
    const struct turn_op *loads[MAX_LOADS];
    uint32_t values[MAX_ACC];
    struct span spans[MAX_SPANS];
    uint32_t n_spans = 0, per_turn = tp->per_turn, reads = tp->reads;
    void *lane = tp->lane == NO_LANE ? 0 : T->lane[tp->lane];
    uint64_t n = lane ? T->lane_room(lane, tp->acc, tp->n_acc, values) : INF;
    n = min_u64(n, room_insns / tp->length);
    if (n < MIN_TURNS || !code_unchanged(T, tp))
        return 0;
    for (uint32_t m = 0; m < MAX_LOADS; m++)
        loads[m] = &tp->ops[tp->load_op[m]];
    if (per_turn)
        n = min_u64(n, DATA_MAX / per_turn);
    /* the values of turn 0, and the branches' bounds */
    for (uint32_t i = 0; i < tp->n_ops; i++) {
        const struct turn_op *o = &tp->ops[i];
        struct slot *d = &slot[o->dst], *a = &slot[o->a], *b = &slot[o->b];
        switch (o->code) {
        case T_REG: d->base = regs[o->a]; d->coef = o->k; break;
        case T_CONST: d->base = o->k; d->coef = 0; break;
        case T_ADD: d->base = a->base + b->base; d->coef = a->coef + b->coef; break;
        case T_SUB: d->base = a->base - b->base; d->coef = a->coef - b->coef; break;
        case T_MULK: d->base = a->base * o->k; d->coef = a->coef * o->k; break;
        case T_NOT: d->base = ~a->base; d->coef = -a->coef; break;
        case T_AND: case T_ORR: case T_EOR: case T_BIC: case T_MUL:
        case T_LSL: case T_LSR: case T_ASR: case T_ROR:
        case T_LSRK: case T_ASRK: case T_RORK: case T_UBFX: case T_SBFX: {
            uint32_t x = a->base, y = b->base, r = 0, sh;
            if (a->coef || (o->code <= T_ROR && b->coef))
                return 0;   /* not affine over the turns */
            switch (o->code) {
            case T_AND: r = x & y; break;
            case T_ORR: r = x | y; break;
            case T_EOR: r = x ^ y; break;
            case T_BIC: r = x & ~y; break;
            case T_MUL: r = x * y; break;
            case T_LSL: sh = y & 0xFFu; r = sh >= 32u ? 0u : x << sh; break;
            case T_LSR: sh = y & 0xFFu; r = sh >= 32u ? 0u : x >> sh; break;
            case T_ASR: sh = y & 0xFFu; r = (uint32_t)((int32_t)x >> (sh >= 32u ? 31u : sh)); break;
            case T_ROR: sh = y & 31u; r = sh ? x >> sh | x << (32u - sh) : x; break;
            case T_LSRK: r = o->k >= 32u ? 0u : x >> o->k; break;
            case T_ASRK: r = (uint32_t)((int32_t)x >> (o->k >= 32u ? 31u : o->k)); break;
            case T_RORK: sh = o->k & 31u; r = sh ? x >> sh | x << (32u - sh) : x; break;
            default:    /* UBFX SBFX */
                r = (x >> o->k) & (o->k2 >= 32u ? ~0u : (1u << o->k2) - 1u);
                if (o->code == T_SBFX && o->k2 < 32u && (r >> (o->k2 - 1u)) & 1u)
                    r |= ~0u << o->k2;
                break;
            }
            d->base = r;
            d->coef = 0;
            break;
        }
        case T_CELL: {
            uint32_t width = o->k & 7u;
            const uint8_t *p;
            if (a->coef || (a->base & (width - 1u)) || !(p = host(T, a->base, width, 0))
                    || n_spans == MAX_SPANS)
                return 0;
            d->base = get(p, width, o->k & 8u);
            d->coef = o->k2;
            spans[n_spans++] = (struct span){a->base, (uint64_t)a->base + width, o->a, 0, 0, 0,
                                             0};
            break;
        }
        case T_MMIO: d->base = values[o->a]; d->coef = 0; break;
        case T_CHECK:
            if (a->base != b->base || a->coef || b->coef)
                return 0;
            break;
        case T_COND:
            n = min_u64(n, cond_turns(a, b, o->k & 15u, (o->k >> 4) & 15u, (o->k >> 8) & 1u));
            if (n < MIN_TURNS)
                return 0;
            break;
        case T_DCOND:
            n = data_cond_turns(T, o, slot, loads, n);
            if (n < MIN_TURNS)
                return 0;
            break;
        default:
            break;
        }
    }
    /* where the data goes over n turns; nothing may overlap what the turn took as distinct */
    for (uint32_t i = 0; i < tp->n_ops; i++) {
        const struct turn_op *o = &tp->ops[i];
        const struct slot *a = &slot[o->a];
        uint32_t width = o->k & 7u;
        if (n_spans + 1u >= MAX_SPANS)
            return 0;
        if ((o->code == T_DLOAD && !o->k2) || o->code == T_DSTORE || o->code == T_OUTCELL) {
            /* aligned in every turn, as turns.py saw them: an unaligned access may fault */
            if ((a->base | a->coef) & (width - 1u))
                return 0;
        }
        if ((o->code == T_DLOAD && !o->k2) || o->code == T_DSTORE) {
            struct span *sp = &spans[n_spans++];
            data_span(sp, a, width, n);
            sp->store = o->code == T_DSTORE;
            if (!region_of(T, sp->lo, sp->hi, (int)sp->store))
                return 0;
        } else if (o->code == T_OUTCELL) {
            if (a->coef || !host(T, a->base, width, 1))
                return 0;
            spans[n_spans++] = (struct span){a->base, (uint64_t)a->base + width, o->a, 1, 0, 0, 0};
        }
    }
    /* stores keep clear of the turn's code (they bypass unicorn's check for stores into
     * translated code; other code a data loop overwrites is not looked for: the summary made
     * on paper saw these stores land in data, and a loader does not overwrite its code) */
    for (uint32_t i = 0; i < tp->n_code; i++) {
        if (n_spans == MAX_SPANS)
            return 0;
        spans[n_spans++] = (struct span){tp->code_at[i],
                                         (uint64_t)tp->code_at[i] + tp->code_len[i], -1, 0, 0,
                                         0, 0};
    }
    if (overlaps(spans, n_spans))
        return 0;
    /* from here on the turns run: the lane's DR data first (TX: gathered from the loads the
     * DR writes copy; RX: read) */
    if (per_turn) {
        uint32_t at_turn = 0;   /* each DR write's bytes: at j * per_turn + at_turn */
        for (uint32_t i = 0; i < tp->n_ops && !reads; i++) {
            const struct turn_op *o = &tp->ops[i];
            if (o->code != T_MMIOW)
                continue;
            uint32_t size = tp->acc[o->a].size;
            const struct turn_op *l = o->k2 || (o->k >> 8) ? 0 : loads[o->b];
            if (l && !l->k2 && (l->k & 7u) == size && slot[l->a].coef == size
                    && per_turn == size) {
                /* a copy of consecutive memory: the common case */
                memcpy(data_buf, host(T, slot[l->a].base, (uint32_t)(n * size), 0), n * size);
            } else {
                for (uint64_t j = 0; j < n; j++) {
                    uint32_t v = source_at(T, o, slot, loads, j, per_turn);
                    memcpy(data_buf + j * per_turn + at_turn, &v, size);
                }
            }
            at_turn += size;
        }
        T->lane_serve(lane, tp->acc, tp->n_acc, n, data_buf);
    }
    /* data stores (RX: the bytes read, into the buffer) */
    for (uint32_t i = 0; i < tp->n_ops; i++) {
        const struct turn_op *o = &tp->ops[i];
        if (o->code != T_DSTORE)
            continue;
        uint32_t width = o->k & 7u;
        const struct turn_op *l = o->k2 || (o->k >> 8) ? 0 : loads[o->b];
        if (l && l->k2 && (l->k & 7u) == width && slot[o->a].coef == width
                && per_turn == width) {
            /* the bytes read, into consecutive memory: the common case */
            memcpy(host(T, slot[o->a].base, (uint32_t)(n * width), 1), data_buf, n * width);
            continue;
        }
        if (l && !l->k2 && (l->k & 7u) == width && slot[l->a].coef == width
                && slot[o->a].coef == width) {
            /* bytes copied from consecutive memory to consecutive memory: memcpy (the two
             * do not overlap: checked above) */
            memcpy(host(T, slot[o->a].base, (uint32_t)(n * width), 1),
                   host(T, slot[l->a].base, (uint32_t)(n * width), 0), n * width);
            continue;
        }
        if (o->k2 == 1u && !slot[o->b].coef && width == 1u && slot[o->a].coef == 1u) {
            /* a byte that is the same in every turn, at consecutive addresses: memset */
            memset(host(T, slot[o->a].base, (uint32_t)n, 1), (int)(slot[o->b].base & 0xFFu), n);
            continue;
        }
        for (uint64_t j = 0; j < n; j++) {
            uint32_t v = source_at(T, o, slot, loads, j, per_turn);
            memcpy(host(T, at(&slot[o->a], j), width, 1), &v, width);
        }
    }
    /* what the last turn leaves in registers, cells and flags */
    uint32_t nzcv = regs[R_NZCV];
    for (uint32_t i = 0; i < tp->n_ops; i++) {
        const struct turn_op *o = &tp->ops[i];
        if (o->code == T_FLAGS) {
            uint32_t mask = (o->k & 15u) << 28, kind = (o->k >> 4) & 15u;
            uint32_t x = (o->k & 0x100u)    /* data: load a, shifted right */
                         ? load_at(T, loads[o->a], slot, n - 1u, per_turn) >> ((o->k >> 9) & 31u)
                         : at(&slot[o->a], n - 1u);
            uint32_t y = (o->k & 0x4000u)   /* data: load b, shifted right */
                         ? load_at(T, loads[o->b], slot, n - 1u, per_turn) >> ((o->k >> 15) & 31u)
                         : at(&slot[o->b], n - 1u);
            uint32_t f = flags_of(kind, x, y, o->k2, nzcv);
            nzcv = (nzcv & ~mask) | (f & mask);
        } else if (o->code == T_OUTREG) {
            regs[o->a] = source_at(T, o, slot, loads, n - 1u, per_turn);
        } else if (o->code == T_OUTCELL) {
            uint32_t v = source_at(T, o, slot, loads, n - 1u, per_turn);
            memcpy(host(T, slot[o->a].base, o->k & 7u, 1), &v, o->k & 7u);
        }
    }
    regs[R_NZCV] = nzcv;
    return n;
}

/* A template turns.py just wrote: work out what every application of it needs, and check the
 * ops refer only to what exists (each data load before its uses, accesses the turn makes). 1:
 * it may be used. */
int turns_prepare(struct turns *T, uint32_t index)
{
    struct turn_template *tp = &T->templates[index];
    uint32_t known = 0;
    tp->per_turn = tp->reads = 0;
    if (!tp->length || tp->n_ops > MAX_OPS || tp->n_acc > MAX_ACC || tp->n_code > MAX_CODE
            || (tp->lane != NO_LANE && tp->lane >= 8u))
        return 0;
    for (uint32_t i = 0; i < tp->n_ops; i++) {
        const struct turn_op *o = &tp->ops[i];
        if (o->dst >= MAX_SLOTS || o->a >= MAX_SLOTS || o->b >= MAX_SLOTS)
            return 0;
        if (o->code == T_DLOAD) {
            if (o->dst >= MAX_LOADS || (o->k2 && o->a >= tp->n_acc))
                return 0;
            tp->load_op[o->dst] = (uint16_t)i;
            known |= 1u << o->dst;
            if (o->k2) {
                tp->per_turn += tp->acc[o->a].size;
                tp->reads = 1;
            }
        } else if (o->code == T_MMIOW) {
            if (o->a >= tp->n_acc)
                return 0;
            tp->per_turn += tp->acc[o->a].size;
        }
        if (o->code == T_FLAGS && (((o->k & 0x100u) && !(known >> o->a & 1u))
                                   || ((o->k & 0x4000u) && !(known >> o->b & 1u))))
            return 0;
        if (o->code == T_DCOND && (((o->k & 0x200u) && !(known >> o->a & 1u))
                                   || ((o->k & 0x400u) && !(known >> o->b & 1u))))
            return 0;
        if ((o->code == T_DSTORE || o->code == T_MMIOW || o->code == T_OUTREG
                || o->code == T_OUTCELL) && o->k2 != 1u
                && (o->b >= MAX_LOADS || !(known >> o->b & 1u) || o->k2 > 2u
                    || (o->k2 == 2u && (o->code == T_DSTORE || o->code == T_MMIOW))))
            return 0;
    }
    return 1;
}

/* The turns of tp from the head, from inside the block hook: the registers are unicorn's (it
 * hands them to a hook as the block will read them, and takes back what the hook wrote), the
 * counter moves on by the turns' instructions. */
static void run_here(struct turns *T, struct turn_template *tp, uint64_t count, uint64_t limit)
{
    uint32_t regs[R_IDS], before[R_IDS];
    void *ptrs[R_IDS];
    for (int i = 0; i < R_IDS; i++)
        ptrs[i] = &regs[i];
    uint64_t n = 0;
    if (!T->reg_read_batch(T->uc, T->reg_id, ptrs, R_IDS) && !(regs[R_XPSR] & IT_BITS)) {
        memcpy(before, regs, sizeof regs);
        n = apply(T, tp, regs, limit - count);
        if (n) {
            int ids[R_IDS];
            void *vals[R_IDS];
            int k = 0;
            for (int i = 0; i < R_IDS; i++)
                if (i != R_PC && i != R_XPSR && regs[i] != before[i]) {
                    ids[k] = T->reg_id[i];
                    vals[k++] = &regs[i];
                }
            if (k)
                T->reg_write_batch(T->uc, ids, vals, k);
            *T->counter = count + n * tp->length;
        }
    }
    if (n) {
        tp->applied++;
        tp->turns += n;
        tp->cool = 1;
    } else {
        tp->declined++;
        tp->cool = COOL_DOWN;
        if (tp->declined >= GIVE_UP && !tp->applied)
            tp->enabled = 0;
    }
}

/* unicorn's block hook on the heads of the loops summarised (Machine.hook_blocks_at). */
void turn_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct turns *T = user;
    (void)uc;
    (void)size;
    if (!T->active)
        return;
    for (uint32_t i = 0; i < T->n_templates; i++) {
        struct turn_template *tp = &T->templates[i];
        if (tp->head != (uint32_t)address || !tp->enabled)
            continue;
        if (tp->cool) {
            tp->cool--;
            return;
        }
        uint64_t count = *T->counter, limit = *T->limit;
        uint32_t values[MAX_ACC];
        if (limit < count + (uint64_t)MIN_TURNS * tp->length
                || (tp->lane != NO_LANE
                    && T->lane_room(T->lane[tp->lane], tp->acc, tp->n_acc, values) < MIN_TURNS))
            return;
        run_here(T, tp, count, limit);
        return;
    }
}

uint32_t turns_size(void)
{
    return (uint32_t)sizeof(struct turns);
}

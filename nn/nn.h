// nn.h — the numeric core's shared vocabulary: the scalar type, the dimension letters used in
// every shape comment, the gradient contract, and a tiny deterministic RNG.
//
// Dimension letters (used in shape comments next to every pointer and loop):
//   B  sequences in a batch          T  positions per sequence        N = B*T tokens
//   D  model width                   H  attention heads               Dh = D/H head width
//   F  expert hidden width           E  routed experts                K  experts chosen per token
//   S  shared experts                V  vocabulary                    L  blocks (MoE layers)
// Matrices are stored row-major as out x in, so y = W·x is a dot product of W's rows with x.
//
// Gradient contract: every *_forward writes its outputs; every *_backward ADDS (+=) into every
// gradient it touches, inputs and weights alike. The trainer zeroes gradients once per step. A
// layer that overwrote instead would break silently the first time a tensor feeds two consumers.
// One documented exception: experts_backward writes the routed experts' weight gradients (one
// consumer each per step), so model_zero_grads need not clear E·2·F·D floats every step.
//
// Threading contract: a parallel loop only writes outputs its own iteration owns, and every sum
// runs in a fixed order, so results are bitwise identical for any thread count.
#ifndef MOESIM_NN_H
#define MOESIM_NN_H

#include <stddef.h>
#include <stdint.h>

// The nn code is compiled twice: as float for training, and as double (-DMOESIM_DOUBLE) for the
// finite-difference gradient checks in tests/dtest_*.c.
#ifdef MOESIM_DOUBLE
typedef double real;
#else
typedef float real;
#endif

// Math on `real` in its own precision (expf for float: exp would round-trip through double).
#ifdef MOESIM_DOUBLE
#define rexp exp
#define rlog log
#define rtanh tanh
#define rsqrt_ sqrt
#else
#define rexp expf
#define rlog logf
#define rtanh tanhf
#define rsqrt_ sqrtf
#endif

// ---- RNG: splitmix64 seeding + xoshiro256** generator, explicit state, never rand() ----------
typedef struct { uint64_t s[4]; } Rng;

static inline uint64_t rng_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Independent streams: the same seed with a different stream id gives an unrelated sequence, so
// drawing more numbers from one stream (e.g. data) never shifts another (e.g. initialization).
static inline void rng_seed(Rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (0xD1B54A32D192ED03ull * (stream + 1));
    for (int i = 0; i < 4; i++) r->s[i] = rng_splitmix64(&x);
}

static inline uint64_t rng_next(Rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

// Uniform in [0, 1) with 53 random bits.
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

// Uniform integer in [0, n), n > 0 (multiply-shift; the bias is below 2^-32 for our n).
static inline uint32_t rng_below(Rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

// Standard normal by Box–Muller (one value per call; simple and deterministic).
double rng_normal(Rng *r);

#endif

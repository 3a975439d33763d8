// simd.h — the vector width the element-wise kernels and gemm run at, chosen once per process.
//
// The default build targets every x86-64 (SSE2). Hot loops are compiled a second and third time
// for AVX2+FMA and AVX-512 (GCC's target attribute; the body is the same C), and simd_level()
// decides at run time which copy runs. The level depends on the CPU (and MOESIM_SIMD) only, never
// on the thread count, so results stay bitwise reproducible on a machine. On other architectures
// or compilers only the portable copy exists.
//
// MOESIM_SIMD=sse|avx2 caps the level (the bench and users; the older name MOESIM_GEMM is still
// read); the tests cap it in-process with simd_cap and run every copy the CPU has.
#ifndef MOESIM_SIMD_H
#define MOESIM_SIMD_H

typedef enum { SIMD_SSE2 = 0, SIMD_AVX2 = 1, SIMD_AVX512 = 2 } SimdLevel;

SimdLevel simd_level(void);                // widest this CPU supports, capped by MOESIM_SIMD
const char *simd_level_name(SimdLevel level);
// For tests: run at most `level` from now on (still capped by the CPU); returns the level used.
SimdLevel simd_cap(SimdLevel level);

#if defined(__x86_64__) && defined(__GNUC__)
#define SIMD_MULTI 1
#define SIMD_AVX2_ATTR __attribute__((target("avx2,fma")))
#define SIMD_AVX512_ATTR __attribute__((target("avx512f,avx2,fma")))
#else
#define SIMD_MULTI 0
#endif

// SIMD_VARIANTS(name, params, args): from `static inline void name##_body params`, defines
// name##_sse / _avx2 / _avx512 (the body compiled for each width) and `static void name params`
// that calls the copy for simd_level(). `params` and `args` are parenthesized lists.
#if SIMD_MULTI
#define SIMD_VARIANTS(name, params, args)                                                         \
    static void name##_sse params { name##_body args; }                                           \
    SIMD_AVX2_ATTR static void name##_avx2 params { name##_body args; }                           \
    SIMD_AVX512_ATTR static void name##_avx512 params { name##_body args; }                       \
    static void name params {                                                                     \
        switch (simd_level()) {                                                                   \
        case SIMD_AVX512: name##_avx512 args; break;                                              \
        case SIMD_AVX2: name##_avx2 args; break;                                                  \
        default: name##_sse args; break;                                                          \
        }                                                                                         \
    }
#else
#define SIMD_VARIANTS(name, params, args) \
    static void name params { name##_body args; }
#endif

#endif

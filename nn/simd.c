// simd.c — picks the vector width once (see simd.h).
#include <stdlib.h>
#include <string.h>
#include "simd.h"

static int cpu_max = -1;  // widest level the CPU runs
static int level = -1;    // the level in use: cpu_max capped by MOESIM_SIMD or simd_cap

static int detect(void) {
#if SIMD_MULTI
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SIMD_AVX2;
#endif
    return SIMD_SSE2;
}

static int cap_from_env(int lv) {
    const char *s = getenv("MOESIM_SIMD");
    if (!s || !*s) s = getenv("MOESIM_GEMM");
    if (!s) return lv;
    if (strcmp(s, "sse") == 0 || strcmp(s, "sse2") == 0) return SIMD_SSE2;
    if (strcmp(s, "avx2") == 0 && lv > SIMD_AVX2) return SIMD_AVX2;
    return lv;
}

// The first call may come from inside a parallel region; the critical section makes it safe
// (model_build calls simd_level first, so training never races here).
static void init(void) {
#ifdef _OPENMP
#pragma omp critical(moesim_simd_init)
#endif
    {
        if (cpu_max < 0) {
            int m = detect();
            level = cap_from_env(m);
            cpu_max = m;
        }
    }
}

SimdLevel simd_level(void) {
    if (level < 0) init();
    return (SimdLevel)level;
}

SimdLevel simd_cap(SimdLevel want) {
    if (level < 0) init();
    level = (int)want < cpu_max ? (int)want : cpu_max;
    return (SimdLevel)level;
}

const char *simd_level_name(SimdLevel lv) {
    switch (lv) {
    case SIMD_AVX512: return "avx512";
    case SIMD_AVX2: return "avx2+fma";
    default: return "sse2";
    }
}

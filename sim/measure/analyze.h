// analyze.h — `moesim analyze`: the paper's measurements on anyone's hidden states and router.
#ifndef MOESIM_ANALYZE_H
#define MOESIM_ANALYZE_H

#include <stddef.h>

typedef struct {
    const char *hidden;    // N x D .npy (float32 or float64)
    const char *router;    // E x D .npy
    const char *domains;   // N int32 .npy, or NULL
    const char *out;       // output folder
    int top_k;             // K
    int seq_len;           // rows per sequence (0: one sequence of N rows)
    int pairs;             // token pairs sampled (Eq. 5, Prop. 1)
    double top_p;          // P of Eqs. 18-19
} AnalyzeArgs;

// Writes OUT/analysis.json. Returns 0, or -1 with a message naming the file in err.
int analyze_files(const AnalyzeArgs *a, char *err, size_t errlen);

#endif

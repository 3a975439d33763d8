// diversity.h — how alike several sampled continuations of one prompt are (the paper's Fig. 29 and
// App. C.2: duplicated prompts make random decoding collapse). `moesim generate` writes it per
// prompt (diversity.csv) and its mean over prompts (generate.json, the closing line).
//
// For one prompt with M samples, over the continuation positions start .. len-1 (the prompt's own
// positions are left out):
//   distinct   the number of distinct continuations among the M (1: every sample the same; M: all
//              different);
//   entropy    per position, the entropy (nats) of the empirical distribution of the M samples'
//              tokens there, sum_v -(c_v/M) ln(c_v/M); mean over positions (0: all agree; at most
//              ln M);
//   share      per position, the number of distinct tokens among the M over M; mean over positions
//              (1/M: all agree; 1: all differ).
#ifndef MOESIM_DIVERSITY_H
#define MOESIM_DIVERSITY_H

#include <stdint.h>

typedef struct {
    int distinct;        // distinct continuations among the samples
    double entropy;      // mean over positions of the per-position entropy (nats)
    double share;        // mean over positions of distinct tokens / samples
} Diversity;

// The M rows of one prompt, rows x len (row r's continuation: tokens[r*len + start .. r*len + len-1]).
// scratch: M entries. start == len (no continuation) gives distinct = 1, entropy 0, share 0.
void diversity_of(Diversity *out, const int32_t *rows /* M x len */, int M, int len, int start,
                  int32_t *scratch /* M */);

#endif

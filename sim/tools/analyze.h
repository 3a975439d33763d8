// analyze.h — `moesim analyze`: the paper's measurements on anyone's hidden states and router,
// one layer (analyze_files) or a folder of layers (analyze_folder). docs/ANALYZE.md describes the
// inputs, the folder layout, every option and the peak memory.
#ifndef MOESIM_ANALYZE_H
#define MOESIM_ANALYZE_H

#include <stddef.h>

typedef struct {
    const char *hidden;    // N x D or B x T x D .npy (float32, float64, float16; bfloat16 bits
                           // with dtype = "bfloat16"); C or Fortran order
    const char *router;    // E x D .npy (same dtypes)
    const char *domains;   // N (or B x T) int32/int64 .npy labels, or NULL
    const char *topk_file; // N x K (or B x T x K) int32/int64 .npy: the model's own choices, or NULL
    const char *dtype;     // NULL, or "bfloat16": 2-byte files hold bfloat16 bits
    const char *out;       // output folder
    int top_k;             // K (0: from --topk-file)
    int seq_len;           // rows per sequence (0: B x T input gives T, else one sequence of N rows)
    int pairs;             // token pairs sampled (Eq. 5, Prop. 1)
    double top_p;          // P of Eqs. 18-19
    int sigmoid;           // 1: scores are sigmoid(z) (router_confidence etc. on normalized sigmoids)
    int truncation;        // 1: also write truncation.csv (Fig. 24)
    int alignment;         // 1: router_data_alignment and data_energy_top_r; 0: not; -1: up to D = 2048
} AnalyzeArgs;

// analyze's default for --alignment and --truncation: on up to this width. The D/8 leading
// directions (by Lanczos) and the full eigen-decomposition grow fast with D: at D = 4096 the
// alignment pair took 38 s of a layer's 40 (make bench, 2026-12-07).
#define ANALYZE_COSTLY_MAX_D 2048

// How analyze_files and analyze_folder fail, with a message in err: an input file or option is
// wrong (named; the command exits 2), or the work failed (a write: the file and the system's
// reason; out of memory; the command exits 1).
enum { ANALYZE_FAILED = -1, ANALYZE_BAD_INPUT = -2 };

// Writes OUT/analysis.json (and OUT/truncation.csv if asked), creating OUT. Returns 0,
// ANALYZE_BAD_INPUT or ANALYZE_FAILED.
int analyze_files(const AnalyzeArgs *a, char *err, size_t errlen);

// A folder of layers: DIR/layer<i>.hidden.npy and DIR/layer<i>.router.npy for i = 0, 1, ...
// (consecutive from the smallest found), optional DIR/layer<i>.topk.npy and DIR/labels.npy (or
// DIR/layer<i>.labels.npy). For each layer, analyze_files into OUT/layer<i>/; then
// OUT/depth.csv: one row per layer, columns layer then every scalar key. `a` gives the options
// (its hidden, router, topk_file, domains and out are replaced per layer). Returns the number of
// layers (>= 1), ANALYZE_BAD_INPUT or ANALYZE_FAILED.
int analyze_folder(const char *dir, const AnalyzeArgs *a, char *err, size_t errlen);

#endif

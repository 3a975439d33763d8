// depth.h — the measurements of `moesim analyze --layers` over depth, drawn the way the paper
// draws its Figs. 2 and 15-19 (one line per measurement, layer on the x axis).
#ifndef MOESIM_DEPTH_H
#define MOESIM_DEPTH_H

#include <stddef.h>

// Reads depth.csv (columns layer, then the scalar keys) and writes into plots_dir:
//   depth_energy.svg      Eq. 7 energy of the 1st/2nd/3rd directions and Eq. 8 retained energy
//                         (Fig. 2)
//   depth_similarity.svg  within-sequence cosine of hidden states and logits, routing overlap
//                         (Figs. 15-19)
//   depth_routing.svg     router confidence, top-K score mass, sequence FreqSim and Jaccard,
//                         suppression rho, MaxVio
// Returns 0, or -1 with a message naming the file in err.
int report_depth(const char *csv_path, const char *plots_dir, char *err, size_t errlen);

#endif

// export.h — `moesim export`: the model at initialization, one training batch, and the gradients
// and router view of one forward/backward pass, as .npy files numpy can load (see README).
#ifndef MOESIM_EXPORT_H
#define MOESIM_EXPORT_H

#include <stddef.h>
#include "../config/schema.h"

// Writes DIR/manifest.json, DIR/params/<name>.npy, DIR/grads/<name>.npy, DIR/tokens.npy (or
// hidden.npy for the router kind), DIR/acts/blocks.<l>.{router_in,router_logits,topk}.npy and
// DIR/state/blocks.<l>.bias.npy. Returns 0, or -1 with a message in err.
int export_model(const Config *c, const char *dir, char *err, size_t errlen);

#endif

// spec.h — the translations from a config to the lower layers' structs: the model's ModelSpec,
// the world's WorldSpec and the optimizer's OptimConfig. The only place sim maps config keys onto
// nn/, optim/ and worlds/ (training, evaluation, generation and export all build through here).
#ifndef MOESIM_SPEC_H
#define MOESIM_SPEC_H

#include "../config/schema.h"
#include "../worlds/world.h"
#include "../../nn/model.h"
#include "../../optim/optim.h"

void model_spec_from_config(ModelSpec *s, const Config *c);
void world_spec_from_config(WorldSpec *w, const Config *c);
void optim_config_from_config(OptimConfig *o, const Config *c);

#endif

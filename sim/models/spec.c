// spec.c — config → ModelSpec, WorldSpec, OptimConfig (spec.h).
#include <string.h>
#include "spec.h"

void model_spec_from_config(ModelSpec *s, const Config *c) {
    memset(s, 0, sizeof *s);
    s->kind = c->model_kind;
    s->V = c->model_vocab; s->D = c->model_d_model; s->L = c->model_layers; s->H = c->model_heads;
    s->attention = c->model_attention; s->T = c->model_seq_len;
    s->E = c->model_experts; s->K = c->model_top_k; s->F = c->model_d_ff; s->S = c->model_shared_experts;
    s->score = c->model_score; s->gate_norm = c->model_gate_norm;
    s->max_batch = c->train_batch;
    s->bal_method = c->balance_method; s->bal_scope = c->balance_scope; s->p_source = c->balance_p_source;
    s->alpha = c->balance_alpha; s->z_alpha = c->balance_z_alpha; s->seq_alpha = c->balance_seq_alpha;
    s->bias_rate = c->balance_bias_rate; s->bias_update = c->balance_bias_update; s->bias_center = c->balance_bias_center;
}

void world_spec_from_config(WorldSpec *w, const Config *c) {
    memset(w, 0, sizeof *w);
    w->kind = c->data_world; w->V = c->model_vocab; w->T = c->model_seq_len; w->domains = c->data_domains;
    w->mix = c->data_mix; w->seed = (uint64_t)c->data_seed;
    w->shared_vocab = c->data_shared_vocab; w->shared_prob = c->data_shared_prob; w->branching = c->data_branching;
    w->zipf = c->data_zipf; w->order = c->data_order;
    w->repeat_prob = c->data_repeat_prob; w->repeat_len = c->data_repeat_len;
    w->D = c->model_d_model; w->shared_norm = c->data_shared_norm; w->cluster_norm = c->data_cluster_norm;
    w->noise = c->data_noise; w->task = c->data_task; w->E = c->model_experts;
    w->eval_sequences = c->eval_sequences; w->eval_duplicate = c->eval_duplicate;
    w->eval_content = c->eval_duplicate_content; w->eval_transform = c->eval_transform;
    w->corpus = c->data_corpus; w->exclude = c->data_exclude;
    memcpy(w->separator, c->data_separator, sizeof w->separator);
}

void optim_config_from_config(OptimConfig *o, const Config *c) {
    memset(o, 0, sizeof *o);
    o->name = c->optim_name; o->beta1 = c->optim_beta1; o->beta2 = c->optim_beta2; o->eps = c->optim_eps;
    o->weight_decay = c->optim_weight_decay; o->momentum = c->optim_momentum; o->nesterov = c->optim_nesterov;
    o->ns_steps = c->optim_ns_steps; o->muon_scale = c->optim_muon_scale; o->muon_router = c->optim_muon_router;
    o->sgd_momentum = c->optim_sgd_momentum; o->sgd_nesterov = c->optim_sgd_nesterov;
    o->lion_beta1 = c->optim_lion_beta1; o->lion_beta2 = c->optim_lion_beta2;
    o->adafactor_decay_rate = c->optim_adafactor_decay_rate; o->adafactor_clip = c->optim_adafactor_clip;
    o->adafactor_beta1 = c->optim_adafactor_beta1; o->adafactor_eps = c->optim_adafactor_eps;
    o->soap_beta1 = c->optim_soap_beta1; o->soap_beta2 = c->optim_soap_beta2;
    o->precondition_every = c->optim_precondition_every;
    o->lr_scale_router = c->optim_lr_scale_router; o->lr_scale_embed = c->optim_lr_scale_embed;
}

// schema.h — THE list of configuration keys. Everything about a key lives on its one line here:
// the config struct field, its type, default, allowed range or choices, and its help text. The
// parser, validator, `moesim help`, the resolved-config dumps (TOML and JSON) and the docs table
// are all generated from this list; no key is defined anywhere else.
//
// X(key, field, type, default, lo, hi, choices, help)
//   type:    INT | REAL | BOOL | CHOICE | STR | REALS (array of up to CFG_REALS_MAX numbers) | STRS
//            (array of up to CFG_STRS_MAX strings, each shorter than CFG_STR_MAX)
//   default: a string written in TOML syntax, parsed by the same code as a file's value, so a
//            default can never be something a user could not write
//   lo, hi:  inclusive numeric range for INT / REAL / REALS elements (ignored for the others)
//   choices: "a|b|c" for CHOICE (stored as the index; the enums below must follow this order)
#ifndef MOESIM_SCHEMA_H
#define MOESIM_SCHEMA_H

#include "../../nn/model.h"
#include "../../optim/optim.h"

// Largest chain table (domains x states x branching successors) the domains world accepts: 128 MB.
// It lives here, not in worlds/, so the config can reject an oversized world before any work.
#define WORLD_MAX_SLOTS ((size_t)1 << 25)

#define CFG_STR_MAX 256
#define CFG_REALS_MAX 16
#define CFG_STRS_MAX 32

#define MOESIM_SCHEMA(X) \
    X("experiment.name", experiment_name, STR, "\"\"", 0, 0, NULL, "name of the experiment (default: the file name without .toml); names results/<name>/") \
    X("experiment.question", experiment_question, STR, "\"\"", 0, 0, NULL, "the question the experiment asks, shown at the top of the report") \
    X("experiment.expect", experiment_expect, STR, "\"\"", 0, 0, NULL, "what the source expects, shown in the report") \
    \
    X("model.kind", model_kind, CHOICE, "\"decoder\"", 0, 0, "decoder|router", "decoder: token-level MoE decoder; router: the router P alone, fed with hidden states (geometry world)") \
    X("model.vocab", model_vocab, INT, "256", 2, 65536, NULL, "vocabulary size V") \
    X("model.d_model", model_d_model, INT, "64", 1, 4096, NULL, "model width D") \
    X("model.layers", model_layers, INT, "2", 1, 64, NULL, "number of blocks L (each has one MoE layer)") \
    X("model.heads", model_heads, INT, "1", 1, 64, NULL, "attention heads H (must divide d_model)") \
    X("model.attention", model_attention, BOOL, "true", 0, 0, NULL, "causal self-attention before each MoE layer (and position embeddings)") \
    X("model.seq_len", model_seq_len, INT, "32", 1, 4096, NULL, "positions per sequence T") \
    X("model.experts", model_experts, INT, "8", 1, 1024, NULL, "routed experts per layer E") \
    X("model.top_k", model_top_k, INT, "2", 1, 64, NULL, "experts chosen per token K") \
    X("model.d_ff", model_d_ff, INT, "64", 1, 16384, NULL, "expert hidden width F") \
    X("model.shared_experts", model_shared_experts, INT, "0", 0, 16, NULL, "always-on shared experts S per layer (weight 1)") \
    X("model.score", model_score, CHOICE, "\"softmax\"", 0, 0, "softmax|sigmoid", "router scores: softmax over experts, or an independent sigmoid per expert") \
    X("model.gate_norm", model_gate_norm, BOOL, "false", 0, 0, NULL, "softmax mode: renormalize the gates over the chosen experts (sigmoid mode always does)") \
    X("model.init_std", model_init_std, REAL, "0.02", 0, 10, NULL, "standard deviation of the normal initialization of matrices and embeddings") \
    X("model.embed_shared", model_embed_shared, REAL, "0", 0, 1000, NULL, "norm of a common component added to every token embedding at init (0: none)") \
    \
    X("train.steps", train_steps, INT, "200", 0, 10000000, NULL, "optimizer steps") \
    X("train.batch", train_batch, INT, "16", 1, 100000, NULL, "sequences per optimizer step (router kind: hidden states per step = batch*seq_len)") \
    X("train.micro_batch", train_micro_batch, INT, "0", 0, 100000, NULL, "sequences per micro-batch (balancing group of scope micro); 0 means the whole batch; must divide batch") \
    X("train.seed", train_seed, INT, "1", 0, 2147483647, NULL, "seed of the run: initialization, batches and every other random draw") \
    X("train.lr", train_lr, REAL, "3e-3", 0, 10, NULL, "peak learning rate (every optimizer group)") \
    X("train.warmup", train_warmup, INT, "0", 0, 10000000, NULL, "linear warm-up steps") \
    X("train.schedule", train_schedule, CHOICE, "\"constant\"", 0, 0, "constant|cosine", "learning-rate schedule after warm-up") \
    X("train.min_lr_ratio", train_min_lr_ratio, REAL, "0.1", 0, 1, NULL, "cosine schedule: final lr as a fraction of train.lr") \
    X("train.clip", train_clip, REAL, "0", 0, 1e9, NULL, "global gradient-norm clipping threshold (0: off)") \
    X("train.log_every", train_log_every, INT, "10", 1, 10000000, NULL, "steps between rows of metrics.csv and progress lines") \
    X("train.save_model", train_save_model, BOOL, "true", 0, 0, NULL, "save the finished run's model (parameters, aux-free biases, optimizer state) in <run>/model/") \
    X("train.checkpoint_every", train_checkpoint_every, INT, "0", 0, 10000000, NULL, "write <run>/checkpoint/ every n steps (0: none); an unfinished run resumes from it") \
    X("train.recompute", train_recompute, BOOL, "false", 0, 0, NULL, "activation recomputation: keep each block's input (and the routing the measurements read) and recompute the rest of the block in the backward; the same results bit for bit, less memory, more time") \
    X("train.init_from", train_init_from, STR, "\"\"", 0, 0, NULL, "warm start: a run folder (its model/, else checkpoint/) or a model or checkpoint folder to start from (\"\": none)") \
    X("train.init_optimizer", train_init_optimizer, BOOL, "true", 0, 0, NULL, "warm start: take the optimizer state (moments, momentum, step count) too") \
    \
    X("optim.name", optim_name, CHOICE, "\"adamw\"", 0, 0, "adamw|muon|sgd|lion|adafactor|soap", "optimizer: AdamW; Muon for hidden matrices with an inner AdamW for the rest; SGD with momentum, Lion or Adafactor for every parameter (their papers' practice; no inner AdamW); SOAP for the hidden matrices (router included) with an inner AdamW for embeddings, gains and head") \
    X("optim.beta1", optim_beta1, REAL, "0.9", 0, 0.999999, NULL, "AdamW beta1") \
    X("optim.beta2", optim_beta2, REAL, "0.95", 0, 0.999999, NULL, "AdamW beta2") \
    X("optim.eps", optim_eps, REAL, "1e-8", 0, 1, NULL, "AdamW epsilon") \
    X("optim.weight_decay", optim_weight_decay, REAL, "0.0", 0, 10, NULL, "decoupled weight decay on matrices and embeddings (not on gains)") \
    X("optim.momentum", optim_momentum, REAL, "0.95", 0, 0.999999, NULL, "Muon momentum") \
    X("optim.nesterov", optim_nesterov, BOOL, "true", 0, 0, NULL, "Muon Nesterov momentum") \
    X("optim.ns_steps", optim_ns_steps, INT, "5", 1, 20, NULL, "Muon Newton–Schulz iterations") \
    X("optim.muon_scale", optim_muon_scale, CHOICE, "\"moonlight\"", 0, 0, "moonlight|kj", "Muon update scale: moonlight 0.2*sqrt(max(rows,cols)) (AdamW lr and decay carry over), or kj max(1,rows/cols)^0.5") \
    X("optim.muon_router", optim_muon_router, BOOL, "true", 0, 0, NULL, "Muon also takes the router matrices (else they go to the inner AdamW)") \
    X("optim.sgd_momentum", optim_sgd_momentum, REAL, "0.9", 0, 0.999999, NULL, "SGD momentum mu: buf = mu*buf + g (0.9: the common default, e.g. Sutskever et al. 2013, torchvision's recipes)") \
    X("optim.sgd_nesterov", optim_sgd_nesterov, BOOL, "false", 0, 0, NULL, "SGD Nesterov: step along g + mu*buf instead of buf (false: torch.optim.SGD's default; needs optim.sgd_momentum > 0)") \
    X("optim.lion_beta1", optim_lion_beta1, REAL, "0.9", 0, 0.999999, NULL, "Lion beta1: update = sign(beta1*m + (1-beta1)*g) (0.9: Chen et al. 2023's default)") \
    X("optim.lion_beta2", optim_lion_beta2, REAL, "0.99", 0, 0.999999, NULL, "Lion beta2: m = beta2*m + (1-beta2)*g (0.99: Chen et al. 2023's default; Lion wants an lr 3-10x smaller and a weight decay 3-10x larger than AdamW's)") \
    X("optim.adafactor_decay_rate", optim_adafactor_decay_rate, REAL, "0.8", 1e-6, 1, NULL, "Adafactor's second-moment decay: beta2_t = 1 - t^(-c) at step t (0.8: Shazeer & Stern 2018)") \
    X("optim.adafactor_clip", optim_adafactor_clip, REAL, "1.0", 1e-6, 1e6, NULL, "Adafactor's update clipping threshold d: the update is divided by max(1, RMS(update)/d) (1.0: Shazeer & Stern 2018)") \
    X("optim.adafactor_beta1", optim_adafactor_beta1, REAL, "0.0", 0, 0.999999, NULL, "Adafactor momentum on the clipped update (0: none, the paper's default; > 0 adds a momentum buffer of one float per parameter)") \
    X("optim.adafactor_eps", optim_adafactor_eps, REAL, "1e-30", 1e-45, 1, NULL, "Adafactor's eps1, added to g^2 before the statistics (1e-30: Shazeer & Stern 2018; the learning rate is train.lr: no relative step)") \
    X("optim.soap_beta1", optim_soap_beta1, REAL, "0.95", 0, 0.999999, NULL, "SOAP's Adam beta1 (0.95: Vyas et al. 2024)") \
    X("optim.soap_beta2", optim_soap_beta2, REAL, "0.95", 0, 0.999999, NULL, "SOAP's Adam beta2 in the eigenbasis, also the decay of Shampoo's L and R (0.95: Vyas et al. 2024)") \
    X("optim.precondition_every", optim_precondition_every, INT, "10", 1, 1000000, NULL, "SOAP recomputes its eigenbases every this many steps (10: Vyas et al. 2024)") \
    X("optim.lr_scale_router", optim_lr_scale_router, REAL, "1.0", 0, 1000, NULL, "the router's learning rate is train.lr times this, whichever optimizer takes it (decay too; 0 freezes the router)") \
    X("optim.lr_scale_embed", optim_lr_scale_embed, REAL, "1.0", 0, 1000, NULL, "the token and position embeddings' and the head's learning rate is train.lr times this, whichever optimizer takes them (decay too)") \
    \
    X("balance.method", balance_method, CHOICE, "\"switch\"", 0, 0, "none|switch|l2|auxfree", "load balancing: none, the Switch auxiliary loss, the L2 loss of Prop. 2, or aux-loss-free bias balancing") \
    X("balance.scope", balance_scope, CHOICE, "\"micro\"", 0, 0, "sequence|micro|global|shuffle", "group over which the balancing statistics are computed") \
    X("balance.alpha", balance_alpha, REAL, "0.01", 0, 1000, NULL, "coefficient of the switch / l2 auxiliary loss") \
    X("balance.p_source", balance_p_source, CHOICE, "\"full\"", 0, 0, "full|topk", "switch loss: P from the full probabilities, or from the renormalized top-K ones (a common bug, kept to measure it)") \
    X("balance.z_alpha", balance_z_alpha, REAL, "0", 0, 1000, NULL, "coefficient of the router z-loss (ST-MoE); 0: off") \
    X("balance.seq_alpha", balance_seq_alpha, REAL, "0", 0, 1000, NULL, "coefficient of the per-sequence switch loss (DeepSeek-V3); 0: off") \
    X("balance.bias_rate", balance_bias_rate, REAL, "1e-3", 0, 100, NULL, "aux-free: bias update rate u") \
    X("balance.bias_update", balance_bias_update, CHOICE, "\"sign\"", 0, 0, "sign|linear", "aux-free: b += u*sign(mean-load), or b += u*(mean-load)/mean") \
    X("balance.bias_center", balance_bias_center, BOOL, "false", 0, 0, NULL, "aux-free: subtract the mean bias after each update") \
    \
    X("data.world", data_world, CHOICE, "\"domains\"", 0, 0, "domains|geometry|cyclic|text", "data source: latent-domain Markov chains, router-only hidden-state geometry, cyclic sequences (a sanity task), or real text read from files (data.corpus)") \
    X("data.seed", data_seed, INT, "1", 0, 2147483647, NULL, "the world's own seed: the same world across a sweep over train.seed") \
    X("data.domains", data_domains, INT, "8", 1, 1024, NULL, "latent domains (geometry: clusters)") \
    X("data.mix", data_mix, CHOICE, "\"mixed\"", 0, 0, "mixed|homogeneous", "mixed: each sequence draws its domain; homogeneous: all sequences of a micro-batch share one domain") \
    X("data.shared_vocab", data_shared_vocab, INT, "64", 0, 65536, NULL, "domains: tokens common to all domains (the rest is split into private blocks)") \
    X("data.shared_prob", data_shared_prob, REAL, "0.5", 0, 1, NULL, "domains: probability that a successor slot points into the shared block (the overlap)") \
    X("data.branching", data_branching, INT, "4", 1, 1024, NULL, "domains: successors per state of each chain (the chain's entropy)") \
    X("data.zipf", data_zipf, REAL, "1.0", 0, 10, NULL, "domains: Zipf exponent of the successor weights (0: uniform)") \
    X("data.order", data_order, INT, "1", 1, 2, NULL, "domains: Markov order of the chains (1 or 2)") \
    X("data.repeat_prob", data_repeat_prob, REAL, "0", 0, 1, NULL, "token worlds: probability that a training sequence is replaced by its first data.repeat_len tokens repeated (models that learn to copy; the evaluation set is unchanged); 0: off") \
    X("data.repeat_len", data_repeat_len, INT, "8", 2, 4096, NULL, "token worlds: tokens repeated in a copy sequence of data.repeat_prob (at most model.seq_len)") \
    X("data.corpus", data_corpus, STRS, "[]", 0, 0, NULL, "text: the domains, each \"name=path\" (a file, a folder read recursively, or a glob pattern); a name given again adds paths; one domain per distinct name, in order of first appearance") \
    X("data.exclude", data_exclude, STRS, "[]", 0, 0, NULL, "text: file-name glob patterns left out of data.corpus's folders and patterns (e.g. \"*.dat\")") \
    X("data.separator", data_separator, STR, "\"%\"", 0, 0, NULL, "text: a line holding only this ends a document (fortune files: \"%\"); \"\": one file, one document") \
    X("data.shared_norm", data_shared_norm, REAL, "8", 0, 1e6, NULL, "geometry: norm of the shared direction mu") \
    X("data.cluster_norm", data_cluster_norm, REAL, "3", 0, 1e6, NULL, "geometry: norm of each cluster centre c_k") \
    X("data.noise", data_noise, REAL, "1", 0, 1e6, NULL, "geometry: standard deviation of the Gaussian noise xi") \
    X("data.task", data_task, CHOICE, "\"none\"", 0, 0, "none|cluster", "geometry: none (balancing alone) or cluster (cross-entropy sending cluster k to expert k mod E)") \
    \
    X("eval.every", eval_every, INT, "50", 0, 10000000, NULL, "steps between evaluations (0: only at the end)") \
    X("eval.sequences", eval_sequences, INT, "16", 1, 100000, NULL, "evaluation sequences per domain (geometry: points per cluster)") \
    X("eval.top_p", eval_top_p, REAL, "0.8", 0.01, 1, NULL, "mass P of the top-P expert sets (Eqs. 18-19)") \
    X("eval.pairs", eval_pairs, INT, "2000", 0, 10000000, NULL, "token pairs sampled for RMS distances and the Prop. 1 check") \
    X("eval.removal", eval_removal, REALS, "[0.125, 0.25]", 0, 1, NULL, "expert-removal sensitivity: fractions r of experts masked per token") \
    X("eval.duplicate", eval_duplicate, INT, "1", 1, 64, NULL, "evaluation sequences repeated n times (the paper's duplication experiment)") \
    X("eval.duplicate_content", eval_duplicate_content, INT, "0", 0, 4096, NULL, "m > 0: each evaluation sequence is m tokens repeated, measured on its eval.duplicate-th copy (n*m <= model.seq_len; the paper's duplication); 0: eval.duplicate fills T+1 tokens with a shorter segment") \
    X("eval.transform", eval_transform, CHOICE, "\"none\"", 0, 0, "none|reverse|shuffle", "evaluation-set transform (out-of-distribution inputs)") \
    X("eval.dump", eval_dump, BOOL, "false", 0, 0, NULL, "write the final evaluation hidden states, router weights and domain labels as .npy") \
    X("eval.show_tokens", eval_show_tokens, INT, "0", 0, 64, NULL, "token worlds: write routes.json, n evaluation sequences with every token's top-K experts and gates at every layer, after the final evaluation (the report colours each token by its expert); 0: off") \
    X("eval.prune_keep", eval_prune_keep, INT, "0", 0, 1024, NULL, "pruning (prune.csv): experts kept in each pruned layer, the most used on eval.prune_on (0: no pruning; else top_k..experts-1)") \
    X("eval.prune_layers", eval_prune_layers, INT, "2", 1, 64, NULL, "pruning: how many of the last layers are pruned (at most model.layers)") \
    X("eval.prune_on", eval_prune_on, STR, "\"sequence:0\"", 0, 0, NULL, "pruning: the validation set that ranks experts by usage, \"sequence:<i>\" (evaluation sequence i) or \"domain:<d>\" (all of domain d's)")

// Choice enums: their order MUST follow the choices strings above (a unit test checks it). Enums
// of concepts owned by a lower layer live there (nn/model.h, optim/optim.h) and are reused here.
enum { WORLD_DOMAINS, WORLD_GEOMETRY, WORLD_CYCLIC, WORLD_TEXT };
enum { MIX_MIXED, MIX_HOMOGENEOUS };
enum { TASK_NONE, TASK_CLUSTER };
enum { TRANSFORM_NONE, TRANSFORM_REVERSE, TRANSFORM_SHUFFLE };

typedef int cfg_INT;
typedef double cfg_REAL;
typedef int cfg_BOOL;
typedef int cfg_CHOICE;
typedef char cfg_STR[CFG_STR_MAX];
typedef struct { int n; double v[CFG_REALS_MAX]; } cfg_REALS;
typedef struct { int n; char s[CFG_STRS_MAX][CFG_STR_MAX]; } cfg_STRS;

typedef struct {
#define CFG_FIELD(key, field, type, def, lo, hi, choices, help) cfg_##type field;
    MOESIM_SCHEMA(CFG_FIELD)
#undef CFG_FIELD
} Config;

#endif

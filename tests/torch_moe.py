#!/usr/bin/env python3
"""torch_moe.py — moesim's decoder written afresh in PyTorch, to check ours against and to time
beside ours (issue 26). Not part of the project (which uses libc and libm only): tests/check_torch.sh
runs the check, tests/bench_torch.py the timing.

  python3 tests/torch_moe.py DIR [DIR...]    check `moesim export` folders: exit 0 when they agree
  python3 tests/torch_moe.py --probe         exit 0 when this python's torch imports and runs a
                                             float64 backward (what the check needs)

The model (docs/MODEL.md; nn/model.c, block.c, attention.c, moe.c, balance.c, norm.c, gelu.c, loss.c):
  h = wte[x] + wpe[t]                                   (wpe only with attention)
  per block: a = RMSNorm(h; att_norm); q|k|v = a·Wqkvᵀ (head j owns columns j·Dh.. of each);
             h_mid = h + (causal softmax(q·kᵀ/√Dh)·v, heads concatenated)·Woᵀ
             u = RMSNorm(h_mid; moe_norm); z = u·Pᵀ; s = softmax(z) (or sigmoid); p = s (or s/Σs)
             top-K of s, gates s[top-K] (renormalized with gate_norm or sigmoid)
             h' = h_mid + Σ_k gate_k · W2_e·gelu_tanh(W1_e·u)
  logits = RMSNorm(h_L; final_norm)·headᵀ; ce = mean cross-entropy of the next token
  switch balancing per layer: E·Σ_i f_i·P_i averaged over the groups (P: mean p over the group's
  tokens; f: the share of the group's K·n choices, or of the whole batch's with scope global)
  loss = ce + alpha · Σ_layers aux
RMSNorm: x / sqrt(mean(x²) + 1e-5) ⊙ g.

The experts are dispatched as a PyTorch user would: the N·K (token, choice) pairs sorted by expert
(a stable sort, so each expert's rows are in token order, as moesim's), split by the counts, one
pair of matrix products per expert, and the gated rows added back with index_add. No loop over
tokens.

The check (one folder): the model is built from the export's manifest and its parameters (float32,
moesim's own initialization), run in float64 on the exported batch, and compared with moesim's
float32 results: the per-layer router inputs and logits, the top-K choice, the step-0 loss (its
cross-entropy and balancing parts too) and every parameter's gradient. Only moesim's rounding is
then in the difference (see TOL_* below for the tolerances and why they hold).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as Fn

RMSNORM_EPS = 1e-5


def rmsnorm(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMSNORM_EPS) * g


class Spec:
    """The model's sizes and the balancing settings the PyTorch model supports."""

    def __init__(self, V, D, L, H, T, E, K, F, attention=True, score="softmax", gate_norm=False,
                 method="switch", scope="micro", alpha=0.01, micro=0):
        self.V, self.D, self.L, self.H, self.T, self.E, self.K, self.F = V, D, L, H, T, E, K, F
        self.attention, self.score, self.gate_norm = attention, score, gate_norm
        self.method, self.scope, self.alpha, self.micro = method, scope, alpha, micro

    @staticmethod
    def from_manifest(m):
        c = m["config"]
        mo, bal = c["model"], c["balance"]
        unsupported = []
        if mo["kind"] != "decoder": unsupported.append(f"model.kind = {mo['kind']}")
        if mo["shared_experts"]: unsupported.append("model.shared_experts > 0")
        if bal["method"] not in ("switch", "none", "auxfree"): unsupported.append(f"balance.method = {bal['method']}")
        if bal["scope"] == "shuffle": unsupported.append("balance.scope = shuffle")
        if bal["p_source"] != "full": unsupported.append("balance.p_source = topk")
        if bal["z_alpha"] or bal["seq_alpha"]: unsupported.append("balance.z_alpha / seq_alpha > 0")
        if unsupported:
            raise ValueError("the PyTorch model does not implement " + ", ".join(unsupported))
        return Spec(mo["vocab"], mo["d_model"], mo["layers"], mo["heads"], mo["seq_len"], mo["experts"],
                    mo["top_k"], mo["d_ff"], attention=mo["attention"], score=mo["score"],
                    gate_norm=mo["gate_norm"], method=bal["method"], scope=bal["scope"], alpha=bal["alpha"],
                    micro=m["batch"]["micro_batch"])


def param_shapes(sp):
    """(name, shape) in moesim's table order (nn/model.c build_table)."""
    out = [("wte", (sp.V, sp.D))]
    if sp.attention:
        out.append(("wpe", (sp.T, sp.D)))
    for l in range(sp.L):
        b = f"blocks.{l}."
        if sp.attention:
            out += [(b + "att_norm", (sp.D,)), (b + "wqkv", (3 * sp.D, sp.D)), (b + "wo", (sp.D, sp.D))]
        out += [(b + "moe_norm", (sp.D,)), (b + "router", (sp.E, sp.D)),
                (b + "w1", (sp.E, sp.F, sp.D)), (b + "w2", (sp.E, sp.D, sp.F))]
    out += [("final_norm", (sp.D,)), ("head", (sp.V, sp.D))]
    return out


class MoeDecoder(torch.nn.Module):
    def __init__(self, sp, params=None, dtype=torch.float32, init_std=0.02, seed=1):
        """params: name -> array (a moesim export's), or None for an initialization like moesim's
        (normal init_std; wo and w2 scaled by 1/√(2L); gains 1; not its random stream)."""
        super().__init__()
        self.sp = sp
        self.p = {}
        gen = torch.Generator().manual_seed(seed)
        for name, shape in param_shapes(sp):
            if params is not None:
                t = torch.as_tensor(np.asarray(params[name]), dtype=dtype).clone()
                if tuple(t.shape) != shape:
                    raise ValueError(f"{name}: shape {tuple(t.shape)}, expected {shape}")
            elif name.endswith("norm"):
                t = torch.ones(shape, dtype=dtype)
            else:
                std = init_std / math.sqrt(2 * sp.L) if name.endswith((".wo", ".w2")) else init_std
                t = (torch.randn(shape, generator=gen, dtype=torch.float64) * std).to(dtype)
            self.p[name] = torch.nn.Parameter(t)
            self.register_parameter(name.replace(".", "_"), self.p[name])

    def attention(self, a, l):
        sp = self.sp
        B, T, D, H = a.shape[0], a.shape[1], sp.D, sp.H
        Dh = D // H
        qkv = (a @ self.p[f"blocks.{l}.wqkv"].t()).view(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                               # B x H x T x Dh
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))          # B x H x T x T
        mask = torch.ones(T, T, dtype=torch.bool, device=a.device).triu(1)
        pr = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        o = (pr @ v).transpose(1, 2).reshape(B, T, D)
        return o @ self.p[f"blocks.{l}.wo"].t()

    def route(self, u, l, choice=None):
        """Router scores, probabilities, the top-K (or the given choice) and the gates."""
        sp = self.sp
        z = u @ self.p[f"blocks.{l}.router"].t()                       # N x E
        if sp.score == "softmax":
            s = torch.softmax(z, dim=-1)
            p = s
        else:
            s = torch.sigmoid(z)
            p = s / s.sum(-1, keepdim=True)
        topk = torch.topk(s.detach(), sp.K, dim=-1).indices if choice is None else choice
        gate = s.gather(1, topk)
        if sp.score == "sigmoid" or sp.gate_norm:
            gate = gate / gate.sum(-1, keepdim=True)
        return z, p, topk, gate

    def experts(self, u, topk, gate, l):
        """Σ_k gate_k · expert_{topk_k}(u): the (token, choice) pairs sorted by expert, one pair of
        products per expert on its rows, the gated rows added back to their tokens."""
        sp = self.sp
        flat = topk.reshape(-1)                                        # N*K, pair n*K + k
        order = torch.sort(flat, stable=True).indices                  # by expert, token order within
        tok = torch.div(order, sp.K, rounding_mode="floor")
        counts = torch.bincount(flat, minlength=sp.E).tolist()
        x = u.index_select(0, tok)                                     # N*K x D
        w1, w2 = self.p[f"blocks.{l}.w1"], self.p[f"blocks.{l}.w2"]
        ys = [Fn.gelu(xe @ w1[e].t(), approximate="tanh") @ w2[e].t()
              for e, xe in enumerate(torch.split(x, counts)) if counts[e]]
        y = torch.cat(ys) * gate.reshape(-1).index_select(0, order).unsqueeze(1)
        return torch.zeros_like(u).index_add(0, tok, y)

    def balance(self, p, topk, B):
        """The switch loss of one layer: E·Σ f·P averaged over the groups (balance_groups)."""
        sp = self.sp
        N, E, T = p.shape[0], sp.E, sp.T
        micro = sp.micro or B
        gsize = T if sp.scope == "sequence" else micro * T
        G = N // gsize
        P = p.view(G, gsize, E).mean(1)                                # G x E
        counts = Fn.one_hot(topk, E).sum(1).to(p.dtype)                # N x E: choices per token
        if sp.scope == "global":
            f = (counts.sum(0) / (sp.K * N)).expand(G, E)
        else:
            f = counts.view(G, gsize, E).sum(1) / (sp.K * gsize)
        return (E * (f * P).sum(-1)).mean()

    def forward(self, tokens, choices=None, keep=None):
        """tokens: B x (T+1) int64. choices: per layer an N x K expert choice to use instead of the
        top-K (None: the model's own). keep: a dict that receives per-layer u, z and top-K.
        Returns (loss, ce, aux summed over the layers)."""
        sp = self.sp
        B, T, D = tokens.shape[0], sp.T, sp.D
        x, tgt = tokens[:, :T], tokens[:, 1:]
        h = Fn.embedding(x, self.p["wte"])
        if sp.attention:
            h = h + self.p["wpe"]
        aux = h.new_zeros(())
        for l in range(sp.L):
            if sp.attention:
                h = h + self.attention(rmsnorm(h, self.p[f"blocks.{l}.att_norm"]), l)
            u = rmsnorm(h, self.p[f"blocks.{l}.moe_norm"]).reshape(B * T, D)
            z, p, topk, gate = self.route(u, l, None if choices is None else choices[l])
            if keep is not None:
                keep.setdefault("u", []).append(u.detach())
                keep.setdefault("z", []).append(z.detach())
                keep.setdefault("s", []).append(torch.softmax(z.detach(), -1) if sp.score == "softmax"
                                                 else torch.sigmoid(z.detach()))
                keep.setdefault("topk", []).append(topk)
            h = h + self.experts(u, topk, gate, l).view(B, T, D)
            if sp.method == "switch":
                aux = aux + self.balance(p, topk, B)
        logits = rmsnorm(h, self.p["final_norm"]) @ self.p["head"].t()
        ce = Fn.cross_entropy(logits.reshape(B * T, sp.V), tgt.reshape(B * T))
        alpha = sp.alpha if sp.method == "switch" else 0.0
        return ce + alpha * aux, ce, aux


# ---- the check against a `moesim export` folder ------------------------------------------------
# Tolerances. PyTorch runs in float64 on moesim's float32 parameters, so the difference is moesim's
# float32 rounding (unit roundoff u = 6e-8, and exp_approx's few 1e-7 in every softmax and GELU).
# A value that passes through m rounded operations carries a relative error of about m·u at worst
# (√m·u typically, errors of either sign cancelling); the paths of these tiny models are at most a
# few hundred operations long (L blocks of norms, products of length <= 3D, softmaxes, the head's
# V-long sums), so ~1e-5 bounds a tensor and the loss, a mean over N tokens of such values, sits
# far below it. Measured on the exports of tests/check_torch.sh: loss 7e-10, router inputs and
# logits 1e-7, gradients at most 3e-7; the tolerances leave 10-100x room. A modelling mistake
# moves the loss by ~1e-3 or more (alpha·aux alone is ~5e-3 of it) and a gradient by O(1) of its
# norm.
TOL_LOSS = 1e-6       # relative, on loss, ce and aux
TOL_ACT = 1e-5        # relative to the tensor's norm: router inputs and logits per layer
TOL_GRAD = 1e-5       # relative to the gradient tensor's norm, per parameter
TOL_TIE = 1e-5        # a top-K choice may differ only where the scores are this close (a near-tie)


def load_npy(path):
    return np.load(path)


def check_export(d, verbose=True):
    """Compares moesim's export in folder d with the PyTorch model. Returns a list of failures."""
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    sp = Spec.from_manifest(man)
    names = [n for n, _ in param_shapes(sp)]
    exported = [p["name"] for p in man["parameters"]]
    fails = []
    if names != exported:
        return [f"{d}: parameter table {exported}, the PyTorch model has {names}"]
    params = {n: load_npy(os.path.join(d, "params", n + ".npy")) for n in names}
    model = MoeDecoder(sp, params, dtype=torch.float64)
    tokens = torch.as_tensor(load_npy(os.path.join(d, "tokens.npy")).astype(np.int64))
    B = tokens.shape[0]
    if sp.micro and B % sp.micro:
        return [f"{d}: micro_batch {sp.micro} does not divide the batch {B}"]

    # 1. the model's own top-K against moesim's: equal except at near-ties of the scores
    keep = {}
    with torch.no_grad():
        model(tokens, keep=keep)
    choices = []
    for l in range(sp.L):
        ours = torch.as_tensor(load_npy(os.path.join(d, "acts", f"blocks.{l}.topk.npy")).astype(np.int64))
        ours = ours.reshape(B * sp.T, sp.K)
        choices.append(ours)
        theirs, s = keep["topk"][l], keep["s"][l]
        differ = (ours.sort(1).values != theirs.sort(1).values).any(1).nonzero().flatten().tolist()
        for n in differ:
            gap = (s[n].gather(0, theirs[n]).min() - s[n].gather(0, ours[n]).min()).abs().item()
            if gap > TOL_TIE:
                fails.append(f"{d}: layer {l} token {n}: moesim chose experts {ours[n].tolist()}, "
                             f"PyTorch {theirs[n].tolist()} (score gap {gap:.2e}: not a near-tie)")
        for key, fname in (("u", "router_in"), ("z", "router_logits")):
            a = torch.as_tensor(load_npy(os.path.join(d, "acts", f"blocks.{l}.{fname}.npy")).astype(np.float64))
            ref = keep[key][l]
            rel = ((a.reshape(ref.shape) - ref).norm() / ref.norm().clamp_min(1e-300)).item()
            if verbose:
                print(f"  layer {l} {fname}: relative difference {rel:.2e}")
            if not rel <= TOL_ACT:
                fails.append(f"{d}: layer {l} {fname}: relative difference {rel:.2e} > {TOL_ACT:g}")

    # 2. loss and gradients with moesim's choice (the choice has no gradient; near-ties aside it is
    # the same one, checked above)
    loss, ce, aux = model(tokens, choices=choices)
    loss.backward()
    ref = man["step0_loss"]
    for key, val in (("loss", loss), ("ce", ce), ("aux", aux)):
        rel = abs(ref[key] - val.item()) / max(abs(val.item()), 1e-300)
        if verbose:
            print(f"  {key}: moesim {ref[key]:.9f}, PyTorch {val.item():.9f}, relative difference {rel:.2e}")
        if not rel <= TOL_LOSS:
            fails.append(f"{d}: {key}: moesim {ref[key]:.9f}, PyTorch {val.item():.9f} "
                         f"(relative difference {rel:.2e} > {TOL_LOSS:g})")
    worst = (0.0, "")
    for n in names:
        g = torch.as_tensor(load_npy(os.path.join(d, "grads", n + ".npy")).astype(np.float64))
        tg = model.p[n].grad
        if tg is None:
            tg = torch.zeros_like(g)
        den = tg.norm().item()
        rel = (g - tg).norm().item() / den if den > 0 else g.norm().item()
        worst = max(worst, (rel, n))
        if not rel <= TOL_GRAD:
            fails.append(f"{d}: gradient of {n}: relative difference {rel:.2e} > {TOL_GRAD:g} "
                         f"(norms: moesim {g.norm().item():.4g}, PyTorch {den:.4g})")
    if verbose:
        print(f"  gradients: {len(names)} tensors, the largest relative difference {worst[0]:.2e} ({worst[1]})")
    return fails


def probe():
    """A working torch, not only a folder named torch: a float64 product and its backward."""
    # 64 x 64, so the BLAS's blocked kernels run as in the check (a 2 x 2 product may not reach them)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 64, dtype=torch.float64, generator=g, requires_grad=True)
    Fn.gelu(x @ x.T, approximate="tanh").sum().backward()
    if x.grad is None or not bool(torch.isfinite(x.grad).all()):
        print("torch_moe: torch ran, but gave no finite gradient", file=sys.stderr)
        return 1
    print(f"torch_moe: torch {torch.__version__} works ({sys.executable})")
    return 0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1])
        return 2
    if argv[1] == "--probe":
        return probe()
    fails = []
    for d in argv[1:]:
        print(f"torch_moe: {d}")
        try:
            fails += check_export(d)
        except (OSError, ValueError, KeyError) as ex:
            fails.append(f"{d}: {ex}")
    for f in fails:
        print("torch_moe: FAILED:", f, file=sys.stderr)
    print(f"torch_moe: {len(argv) - 1} export(s) checked, {len(fails)} disagreement(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv))

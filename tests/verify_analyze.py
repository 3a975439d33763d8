# covers: sim/tools/analyze.c sim/measure/metrics.c
"""verify_analyze.py DUMP LAYER TOP_K SEQ_LEN TOP_P FILE... — recomputes, with Python's standard
library alone and the formulas of docs/METRICS.md written here afresh, the deterministic
measurements of one layer from the arrays a run dumped (eval.dump = true): the hidden states H,
the router P and the domain labels. Each FILE is a run's eval.csv (its last row of LAYER) or an
`analyze` analysis.json; every measurement below must agree with each file. This is the
independent side of the e2e check: the program computes them in sim/measure/metrics.c, which
this script never calls. Exits 1 and names the first disagreement."""
import array, ast, csv, json, math, struct, sys

def npy(path):
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<H", data[8:10])
    h = ast.literal_eval(data[10:10 + hlen].decode("latin1"))
    a = array.array({"<f4": "f", "<i4": "i"}[h["descr"]])
    a.frombytes(data[10 + hlen:])
    return list(a), h["shape"]

def cos(a, b):
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return 0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a, b)) / (na * nb)

def mean(v):
    return sum(v) / len(v)

def pearson(x, y):
    mx, my = mean(x), mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)

def top_p_set(f, p):
    order = sorted(range(len(f)), key=lambda e: (-f[e], e))
    s, out = 0.0, set()
    for e in order:
        if s >= p - 1e-12 or f[e] == 0:
            break
        out.add(e)
        s += f[e]
    return out

def jaccard(a, b):
    return 1.0 if not a and not b else len(a & b) / len(a | b)

def measures(dump, layer, K, T, top_p):
    Hf, (N, D) = npy(f"{dump}/blocks.{layer}.hidden.npy")
    Pf, (E, _) = npy(f"{dump}/blocks.{layer}.router.npy")
    dom, _ = npy(f"{dump}/domains.npy")
    H = [Hf[n * D:(n + 1) * D] for n in range(N)]
    P = [Pf[e * D:(e + 1) * D] for e in range(E)]
    Z = [[sum(p * h for p, h in zip(P[e], H[n])) for e in range(E)] for n in range(N)]
    prob = []
    for z in Z:
        mx = max(z)
        ex = [math.exp(v - mx) for v in z]
        s = sum(ex)
        prob.append([v / s for v in ex])
    topk = [sorted(range(E), key=lambda e: (-Z[n][e], e))[:K] for n in range(N)]
    m = {}
    # Eq. 12 and the softmax statistics: per sequence of T tokens, then the mean over sequences
    seqs = [range(s, min(s + T, N)) for s in range(0, N, T)]
    per_seq = lambda f: mean([mean([f(n) for n in sq]) for sq in seqs])
    m["router_confidence"] = per_seq(lambda n: max(prob[n]))
    m["topk_score_sum"] = per_seq(lambda n: sum(sorted(prob[n], reverse=True)[:K]))
    m["router_entropy"] = per_seq(lambda n: -sum(v * math.log(v) for v in prob[n] if v > 0))
    m["logit_norm_mean"] = per_seq(lambda n: math.sqrt(sum(z * z for z in Z[n])))
    load = [0] * E
    for tk in topk:
        for e in tk:
            load[e] += 1
    m["maxvio"] = max(load) / (N * K / E) - 1
    m["load_entropy"] = -sum(c / (N * K) * math.log(c / (N * K)) for c in load if c > 0)
    ham, ch, cz = [], [], []
    for sq in seqs:
        idx = list(sq)
        pairs = [(i, j) for a, i in enumerate(idx) for j in idx[a + 1:]]
        if not pairs:
            continue
        ham.append(mean([len(set(topk[i]) & set(topk[j])) / E for i, j in pairs]))  # Eq. 11
        ch.append(mean([cos(H[i], H[j]) for i, j in pairs]))
        cz.append(mean([cos(Z[i], Z[j]) for i, j in pairs]))
    m["hamming_similarity"], m["cosine_hidden"], m["cosine_logits"] = mean(ham), mean(ch), mean(cz)
    # energy: G = HᵀH; v1 by power iteration; m the unit mean direction
    G = [[sum(H[n][a] * H[n][b] for n in range(N)) for b in range(D)] for a in range(D)]
    trG = sum(G[a][a] for a in range(D))
    v = [1.0 + 0.1 * a for a in range(D)]
    for _ in range(2000):
        w = [sum(G[a][b] * v[b] for b in range(D)) for a in range(D)]
        nw = math.sqrt(sum(x * x for x in w))
        v = [x / nw for x in w]
    quad = lambda u: sum(u[a] * G[a][b] * u[b] for a in range(D) for b in range(D))
    m["energy_first_wholeset"] = quad(v) / trG
    # Eqs. 7 and 8 per sequence: v1 of the sequence's own T x D matrix, retained energy with its masks
    fro = sum(x * x for r in P for x in r)
    en, ret = [], []
    for sq in seqs:
        Gs = [[sum(H[n][a] * H[n][b] for n in sq) for b in range(D)] for a in range(D)]
        u = [1.0 + 0.1 * a for a in range(D)]
        for _ in range(2000):
            w = [sum(Gs[a][b] * u[b] for b in range(D)) for a in range(D)]
            nw = math.sqrt(sum(x * x for x in w))
            u = [x / nw for x in w]
        en.append(sum(u[a] * Gs[a][b] * u[b] for a in range(D) for b in range(D)) / sum(Gs[a][a] for a in range(D)))
        pv = [sum(P[e][a] * u[a] for a in range(D)) for e in range(E)]
        ret.append(mean([sum(pv[e] ** 2 for e in topk[n]) for n in sq]) / fro)
    m["energy_first"], m["retained_energy_first"] = mean(en), mean(ret)
    hs = [sum(H[n][a] for n in range(N)) for a in range(D)]
    nh = math.sqrt(sum(x * x for x in hs))
    m["energy_mean_dir"] = quad([x / nh for x in hs]) / trG
    # domains: per-domain frequency vectors, cross-domain cosine and NMI over (token, k) choices
    ndom = max(dom) + 1
    freq = [[0.0] * E for _ in range(ndom)]
    cnt = [0] * ndom
    for n in range(N):
        cnt[dom[n]] += 1
        for e in topk[n]:
            freq[dom[n]][e] += 1
    present = [d for d in range(ndom) if cnt[d] > 0]
    fd = {d: [x / (cnt[d] * K) for x in freq[d]] for d in present}
    dp = [(a, b) for i, a in enumerate(present) for b in present[i + 1:]]
    m["freqsim_cross_domain"] = mean([cos(fd[a], fd[b]) for a, b in dp])
    tot = N * K
    cd = [cnt[d] * K for d in range(ndom)]
    I = sum(freq[d][e] / tot * math.log(freq[d][e] * tot / (cd[d] * load[e]))
            for d in range(ndom) for e in range(E) if freq[d][e] > 0)
    Hd = -sum(c / tot * math.log(c / tot) for c in cd if c > 0)
    m["nmi_domain_expert"] = I / min(Hd, m["load_entropy"])
    # sequence pairs (all of them: few sequences): FreqSim, pooled cosine, their correlation, Jaccard
    sf, pooled = [], []
    for sq in seqs:
        f = [0.0] * E
        for n in sq:
            for e in topk[n]:
                f[e] += 1 / (len(sq) * K)
        sf.append(f)
        nrm = {n: math.sqrt(sum(x * x for x in H[n])) + 1e-8 for n in sq}  # Eqs. 15-16
        pooled.append([mean([H[n][a] / nrm[n] for n in sq]) for a in range(D)])
    sp = [(a, b) for a in range(len(seqs)) for b in range(a + 1, len(seqs))]
    fs = [cos(sf[a], sf[b]) for a, b in sp]
    pc = [cos(pooled[a], pooled[b]) for a, b in sp]
    m["freqsim_seq"], m["pooled_cosine_seq"] = mean(fs), mean(pc)
    m["freqsim_pooled_corr"] = pearson(fs, pc)
    m["jaccard_seq"] = mean([jaccard(top_p_set(sf[a], top_p), top_p_set(sf[b], top_p)) for a, b in sp])
    return m

def main():
    dump, layer, K, T, top_p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    m = measures(dump, layer, K, T, top_p)
    bad = 0
    for path in sys.argv[6:]:
        if path.endswith(".json"):
            got = json.load(open(path))
        else:
            got = [r for r in csv.DictReader(open(path)) if r["layer"] == str(layer)][-1]
        for k, want in m.items():
            x = float(got[k])
            # float32 arrays, CSV's 9 digits, and power iteration: 1e-4 relative is far below any real bug
            if not math.isclose(x, want, rel_tol=1e-4, abs_tol=1e-6):
                print(f"{path}: {k} = {x}, recomputed {want}")
                bad += 1
    print(f"verify_analyze: {len(m)} measurements recomputed, {bad} disagreements")
    sys.exit(1 if bad else 0)

main()

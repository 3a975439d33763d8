#!/usr/bin/env python3
# covers: sim/io.c sim/tools/analyze.c
"""verify_npy_forms.py — writes one hidden-state matrix in the forms real models produce, for
tests/e2e_analyze.sh (standard library only; no numpy).

    verify_npy_forms.py make HIDDEN.npy ROUTER.npy T OUTDIR
        reads a float32 N x D .npy and writes into OUTDIR:
          f16.npy       float16 N x D (the values rounded to float16)
          f16_as32.npy  the same rounded values as float32 (the reference for f16.npy)
          bf16.npy      bfloat16 bits ('<u2') N x D (the values truncated to bfloat16)
          bf16_as32.npy the same truncated values as float32
          f64.npy       float64 N x D (exact copies of the float32 values)
          fortran.npy   float32 N x D in Fortran order
          btd.npy       float32 (N/T) x T x D
          topk.npy      int64 N x K: the K largest logits of ROUTER · h, K = 2
          topk_rev.npy  int32 N x K: the 1st and 3rd largest (a model whose choices differ)
    verify_npy_forms.py same A.json B.json [KEY...]
        exits 1 unless every metric of the two analysis.json files is equal (NaN = null equal),
        or only the listed keys when given
"""
import json
import struct
import sys


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    hlen = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + hlen].decode("latin1")
    shape = tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    assert "'<f4'" in header and "False" in header, header
    n = 1
    for s in shape:
        n *= s
    return shape, list(struct.unpack(f"<{n}f", data[10 + hlen:10 + hlen + 4 * n]))


def write_npy(path, descr, shape, fmt, values, fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header += " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack(f"<{len(values)}{fmt}", *values))


def f16_round(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def bf16_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16


def make(hidden, router, T, out):
    (N, D), H = read_npy(hidden)
    (E, D2), P = read_npy(router)
    assert D == D2
    h16 = [f16_round(x) for x in H]
    write_npy(f"{out}/f16.npy", "<f2", (N, D), "e", h16)
    write_npy(f"{out}/f16_as32.npy", "<f4", (N, D), "f", h16)
    bits = [bf16_bits(x) for x in H]
    write_npy(f"{out}/bf16.npy", "<u2", (N, D), "H", bits)
    write_npy(f"{out}/bf16_as32.npy", "<f4", (N, D), "f",
              [struct.unpack("<f", struct.pack("<I", b << 16))[0] for b in bits])
    write_npy(f"{out}/f64.npy", "<f8", (N, D), "d", H)
    write_npy(f"{out}/fortran.npy", "<f4", (N, D), "f", [H[i * D + j] for j in range(D) for i in range(N)], True)
    write_npy(f"{out}/btd.npy", "<f4", (N // T, T, D), "f", H[:(N // T) * T * D])
    K = 2
    top, rev = [], []
    for i in range(N):
        z = [sum(P[e * D + j] * H[i * D + j] for j in range(D)) for e in range(E)]
        order = sorted(range(E), key=lambda e: (-z[e], e))
        top += order[:K]
        rev += [order[0], order[2]]  # the complement of the top-2 would give the same Eq. 11 when E = 2K
    write_npy(f"{out}/topk.npy", "<i8", (N, K), "q", top)
    write_npy(f"{out}/topk_rev.npy", "<i4", (N, K), "i", rev)


def same(a, b, keys):
    A, B = json.load(open(a)), json.load(open(b))
    names = keys or [k for k in A if isinstance(A[k], (int, float)) or A[k] is None]
    bad = [k for k in names if A.get(k) != B.get(k)]
    for k in bad:
        print(f"{k}: {A.get(k)} vs {B.get(k)}")
    return not bad


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(0 if same(sys.argv[2], sys.argv[3], sys.argv[4:]) else 1)

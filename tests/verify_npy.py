# covers: sim/io.c sim/tools/export.c
"""verify_npy.py DIR — every .npy file of a `moesim export` folder parses as numpy's format 1.0
(magic, header dict, 64-byte alignment, data length = product of the shape), with python's
standard library alone; with numpy installed, numpy.load must also read each file and agree."""
import ast, os, struct, sys

def parse(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", f"{path}: bad magic"
    assert data[6] == 1 and data[7] == 0, f"{path}: version {data[6]}.{data[7]}, expected 1.0"
    (hlen,) = struct.unpack("<H", data[8:10])
    assert (10 + hlen) % 64 == 0, f"{path}: header not 64-byte aligned"
    header = ast.literal_eval(data[10:10 + hlen].decode("latin1"))
    assert header["fortran_order"] is False
    size = {"<f4": 4, "<f8": 8, "<i4": 4}[header["descr"]]
    count = 1
    for n in header["shape"]:
        count *= n
    assert len(data) - 10 - hlen == count * size, f"{path}: {len(data) - 10 - hlen} data bytes for shape {header['shape']}"
    return header

def main(root):
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".npy")]
    assert files, "no .npy files"
    try:
        import numpy
    except ImportError:
        numpy = None
    for path in files:
        h = parse(path)
        if numpy is not None:
            a = numpy.load(path)
            assert a.shape == tuple(h["shape"]), path
    print(f"verify_npy: {len(files)} files ok" + ("" if numpy else " (numpy not installed: format checked by hand)"))

main(sys.argv[1])

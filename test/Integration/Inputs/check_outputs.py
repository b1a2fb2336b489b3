"""Small numpy checks on .npy files written by sparse-attn-run."""
import sys
import numpy as np

kind = sys.argv[1]
if kind == "masked":
    o, lse = np.load(sys.argv[2]), np.load(sys.argv[3])
    assert not np.isnan(o).any() and not np.isnan(lse).any(), "NaN"
    assert (o[:, :, :50] == 0).all(), "masked rows not zero"
    assert np.isneginf(lse[:, :, :50]).all(), "masked LSE not -inf"
    assert np.isfinite(lse[:, :, 50:]).all() and (np.abs(o[:, :, 50:]).sum() > 0)
    print("masked rows OK")
elif kind == "same":
    a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
    err = np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30)
    assert a.shape == b.shape and err < 1e-5, (a.shape, b.shape, err)
    print("fused and reference agree: rel err %.1e" % err)
elif kind == "make-dynamic":
    rng = np.random.default_rng(0)
    out = sys.argv[2]
    np.save(out + "-q.npy", rng.uniform(-1, 1, (2, 3, 29, 16)).astype(np.float32))
    np.save(out + "-k.npy", rng.uniform(-1, 1, (2, 1, 45, 16)).astype(np.float32))
    np.save(out + "-v.npy", rng.uniform(-1, 1, (2, 1, 45, 8)).astype(np.float32))
    np.save(out + "-vbad.npy", rng.uniform(-1, 1, (2, 1, 45, 9)).astype(np.float32))
    np.save(out + "-qint.npy", np.zeros((2, 3, 29, 16), dtype=np.int32))
    np.save(out + "-qf64.npy", rng.uniform(-1, 1, (2, 3, 29, 16)))
    with open(out + "-junk.npy", "wb") as f:
        f.write(b"not a numpy file")
    np.save(out + "-k2h.npy", rng.uniform(-1, 1, (2, 2, 45, 16)).astype(np.float32))
    np.save(out + "-v2h.npy", rng.uniform(-1, 1, (2, 2, 45, 8)).astype(np.float32))
    np.save(out + "-q64.npy", rng.uniform(-1, 1, (1, 1, 64, 16)).astype(np.float32))
    # A header that claims 2^60 rows and carries no data.
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, %d, 16), }" % (2 ** 60)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(out + "-huge.npy", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + bytes([len(header) & 255, len(header) >> 8]) + header.encode())
    print("inputs written")

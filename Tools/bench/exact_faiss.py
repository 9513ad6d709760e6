"""Exact search with faiss IndexFlatL2, timed the same way as `swann-tools exact-scan`.

Single queries: one search() call per query on one thread (what a brute-force service does).
Batch: all queries in one call on every core (how ground truth is usually computed).
"""
import argparse, json, os, time
import numpy as np


def read_vectors(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32)
    n, d = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.float32, offset=8).reshape(int(n), int(d))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base"); p.add_argument("--queries", required=True)
    p.add_argument("--single-queries", type=int, default=200)
    p.add_argument("--batch-queries", type=int, default=0)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--truth", help="gt file written by swann groundtruth (.ivecs) to compare")
    a = p.parse_args()
    import faiss
    base, queries = read_vectors(a.base), read_vectors(a.queries)
    index = faiss.IndexFlatL2(base.shape[1]); index.add(base)

    faiss.omp_set_num_threads(1)
    lat = []
    for q in queries[: a.single_queries]:
        t = time.perf_counter(); index.search(q[None, :], a.k); lat.append((time.perf_counter() - t) * 1e3)
    lat.sort()

    faiss.omp_set_num_threads(os.cpu_count())
    nb = a.batch_queries or len(queries)
    t = time.perf_counter(); D, I = index.search(queries[:nb], 100); batch = time.perf_counter() - t
    out = {"engine": "faiss IndexFlatL2", "single_mean_ms": sum(lat) / len(lat), "single_p50_ms": lat[len(lat) // 2],
           "batch_queries": nb, "batch_seconds": batch, "threads": os.cpu_count()}
    if a.truth:
        raw = np.fromfile(a.truth, dtype=np.int32).reshape(-1, 101)[:, 1:]
        gt = raw[:nb]
        # Compare ids; where they differ, check the distances tie (within float rounding).
        diff = np.nonzero((gt != I).any(axis=1))[0]
        real = 0
        for i in diff:
            d_swann = ((base[gt[i]] - queries[i]) ** 2).sum(1)
            d_faiss = ((base[I[i]] - queries[i]) ** 2).sum(1)
            if not np.allclose(np.sort(d_swann), np.sort(d_faiss), rtol=1e-5, atol=1e-6):
                real += 1
        out["queries_with_different_ids"] = int(len(diff))
        out["queries_differing_beyond_ties"] = int(real)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

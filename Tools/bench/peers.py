"""Single-thread recall@10 / QPS sweeps of faiss IVF-Flat and hnswlib on one dataset.

Each engine runs in this process, one query per call (as a service would), and reports
one JSON line per setting plus build time and the process's peak RSS after building.
"""
import argparse, json, resource, sys, time
import numpy as np


def read_vectors(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32)
    n, d = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.float32, offset=8).reshape(int(n), int(d))


def read_truth(path):
    raw = np.fromfile(path, dtype=np.int32)
    k = raw[0]
    return raw.reshape(-1, k + 1)[:, 1:]


def recall(found, truth, k=10):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def sweep(name, search, settings, queries, truth, extra):
    for s in settings:
        lat = []
        found = []
        for q in queries:
            t = time.perf_counter()
            found.append(search(s, q))
            lat.append((time.perf_counter() - t) * 1e3)
        lat = np.array(lat)
        out = {"engine": name, "params": s, "recall": recall(found, truth), "qps": len(queries) / (lat.sum() / 1e3),
               "mean_ms": float(lat.mean()), "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}
        out.update(extra)
        print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base"); p.add_argument("--queries", required=True); p.add_argument("--truth", default="")
    p.add_argument("--engine", choices=["faiss-ivf", "hnswlib"], required=True)
    p.add_argument("--grid", default="")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--build-only", action="store_true", help="print build time and peak RSS, skip the sweep")
    a = p.parse_args()
    base = read_vectors(a.base)
    queries = read_vectors(a.queries)
    truth = None if a.build_only else read_truth(a.truth)
    if a.limit and truth is not None:
        queries, truth = queries[: a.limit], truth[: a.limit]
    n, d = base.shape
    t = time.perf_counter()
    if a.engine == "faiss-ivf":
        import faiss
        faiss.omp_set_num_threads(2)
        nlist = int(4 * np.sqrt(n))
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist)
        index.train(base); index.add(base)
        build = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        grid = [int(x) for x in (a.grid or "16,32,64,128,256,320,384,512,768,1024").split(",")]
        def search(nprobe, q):
            index.nprobe = nprobe
            return index.search(q[None, :], 10)[1][0]
        extra = {"build_seconds": build, "nlist": nlist, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if a.build_only:
            print(json.dumps({"engine": "faiss IVF-Flat", **extra})); return
        sweep("faiss IVF-Flat", search, grid, queries, truth, extra)
    else:
        import hnswlib
        index = hnswlib.Index(space="l2", dim=d)
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=1)
        index.set_num_threads(2)
        index.add_items(base)
        build = time.perf_counter() - t
        index.set_num_threads(1)
        grid = [int(x) for x in (a.grid or "10,20,40,60,85,100,150,200,300,500").split(",")]
        def search(ef, q):
            index.set_ef(max(ef, 10))
            return index.knn_query(q[None, :], k=10)[0][0]
        extra = {"build_seconds": build, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if a.build_only:
            print(json.dumps({"engine": "hnswlib", **extra})); return
        sweep("hnswlib", search, grid, queries, truth, extra)


if __name__ == "__main__":
    main()

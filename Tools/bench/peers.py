"""Peer engines for Swann's benchmarks: faiss IVF-Flat, faiss IVF-RaBitQ with exact refinement,
hnswlib, usearch (HNSW over f32 and i8) and DiskANN (diskannpy).

Two phases, each in its own process so that memory is measured honestly:
  build   builds the engine's index from the base file and saves it to --index-dir;
          prints one JSON line: build seconds, peak RSS of the build, index bytes on disk.
  search  loads the saved index and sweeps a parameter grid with one search thread; prints one
          JSON line per setting with recall@10, QPS, latency, the process's peak RSS while
          serving, the index's own memory (index_rss_mb: resident memory after the setting's
          searches less what the process held just before it loaded the index, with the library
          imported and the queries and truth loaded: the harness is not counted, for any engine),
          and bytes read from the device per query (from /proc/self/io; DiskANN reads with
          O_DIRECT, so this is its I/O).

Timing: QPS and mean_ms come from the engine's own loop over the whole query batch on one
thread (one batch call: faiss with one OpenMP thread, hnswlib and usearch with threads=1), as
`swann eval` runs its own loop, so no engine pays Python's per-call cost in its throughput.
p50_ms and p99_ms are per-call latencies of one query per Python call (what a service calling
the library sees, interpreter overhead included), reported apart as per_call_*. DiskANN's
Python binding has no single-thread batch call that loads (num_threads=1 deadlocks, see
below): its figures are per call.
"""
import argparse, json, os, resource, sys, time
import numpy as np


def read_vectors(path):
    if path.endswith(".npy"):
        return np.load(path)
    dtype = {".fbin": np.float32, ".u8bin": np.uint8, ".i8bin": np.int8}[os.path.splitext(path)[1]]
    n, d = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=dtype, offset=8).reshape(int(n), int(d))


def read_truth(path):
    if path.endswith(".ibin"):
        n, k = np.fromfile(path, dtype=np.uint32, count=2)
        return np.fromfile(path, dtype=np.int32, offset=8, count=int(n) * int(k)).reshape(int(n), int(k))
    raw = np.fromfile(path, dtype=np.int32)
    k = raw[0]
    return raw.reshape(-1, k + 1)[:, 1:]


def recall(found, truth, k=10):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    """Resident memory now (VmRSS), not the peak: the baseline an index's memory is measured from."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def device_read_bytes():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)


GRIDS = {
    "faiss-ivf": "16,32,64,128,256,320,384,512,768,1024",
    "faiss-rabitq": "16,32,64,128,256,320,384,512,768,1024",
    "hnswlib": "10,20,40,60,85,100,150,200,300,500",
    "usearch-f32": "10,20,40,60,85,100,150,200,300,500",
    "usearch-i8": "10,20,40,60,85,100,150,200,300,500",
    "diskann": "10,20,30,40,60,80,120,160,240,320",
}
NAMES = {"faiss-ivf": "faiss IVF-Flat", "faiss-rabitq": "faiss IVF-RaBitQ+refine", "hnswlib": "hnswlib",
         "usearch-f32": "usearch f32", "usearch-i8": "usearch i8", "diskann": "DiskANN"}
# faiss IVF-RaBitQ re-ranks k × this many candidates exactly (IndexRefineFlat's k_factor).
RABITQ_REFINE = 10


def build(a):
    base = read_vectors(a.base)
    n, d = base.shape
    os.makedirs(a.index_dir, exist_ok=True)
    t = time.perf_counter()
    extra = {}
    if a.engine == "faiss-ivf":
        import faiss
        faiss.omp_set_num_threads(a.threads)
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
        data = np.ascontiguousarray(base, dtype=np.float32)
        index.train(data); index.add(data)
        faiss.write_index(index, os.path.join(a.index_dir, "ivf.faiss"))
        extra["nlist"] = nlist
    elif a.engine == "faiss-rabitq":
        import faiss
        faiss.omp_set_num_threads(a.threads)
        nlist = int(4 * np.sqrt(n))
        ivf = faiss.IndexIVFRaBitQ(faiss.IndexFlatL2(d), d, nlist)
        index = faiss.IndexRefineFlat(ivf)
        data = np.ascontiguousarray(base, dtype=np.float32)
        index.train(data); index.add(data)
        faiss.write_index(index, os.path.join(a.index_dir, "ivf-rabitq.faiss"))
        extra.update(nlist=nlist, k_factor=RABITQ_REFINE)
    elif a.engine.startswith("usearch"):
        from usearch.index import Index
        index = Index(ndim=d, metric="l2sq", dtype=a.engine.split("-")[1], connectivity=16, expansion_add=200)
        index.add(np.arange(n), np.ascontiguousarray(base, dtype=np.float32), threads=a.threads)
        index.save(os.path.join(a.index_dir, "usearch.bin"))
    elif a.engine == "hnswlib":
        import hnswlib
        index = hnswlib.Index(space="l2", dim=d)
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=1)
        index.set_num_threads(a.threads)
        index.add_items(np.ascontiguousarray(base, dtype=np.float32))
        index.save_index(os.path.join(a.index_dir, "hnsw.bin"))
    else:
        import diskannpy
        # PQ budget for the in-memory compressed vectors: as much memory as Swann's serving set.
        diskannpy.build_disk_index(
            np.ascontiguousarray(base), "l2", a.index_dir, complexity=a.build_complexity, graph_degree=a.graph_degree,
            search_memory_maximum=a.search_memory_gb, build_memory_maximum=8, num_threads=a.threads)
        extra.update(search_memory_gb=a.search_memory_gb, graph_degree=a.graph_degree, build_complexity=a.build_complexity)
    out = {"engine": NAMES[a.engine], "build_seconds": time.perf_counter() - t, "build_rss_mb": peak_rss_mb(),
           "index_bytes": directory_bytes(a.index_dir), **extra}
    print(json.dumps(out), flush=True)


def search(a):
    queries = read_vectors(a.queries)
    truth = read_truth(a.truth)
    if a.limit:
        queries, truth = queries[: a.limit], truth[: a.limit]
    d = queries.shape[1]
    grid = [int(x) for x in (a.grid or GRIDS[a.engine]).split(",")]
    batch = None  # the engine's own loop over all queries, one thread: (setting, queries) -> ids
    if a.engine in ("faiss-ivf", "faiss-rabitq"):
        import faiss
        faiss.omp_set_num_threads(1)
        name = "ivf.faiss" if a.engine == "faiss-ivf" else "ivf-rabitq.faiss"
        baseline = rss_mb()
        index = faiss.read_index(os.path.join(a.index_dir, name))
        if a.engine == "faiss-rabitq":
            index.k_factor = RABITQ_REFINE
        ivf = faiss.extract_index_ivf(index)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        def batch(nprobe, q):
            ivf.nprobe = nprobe
            return index.search(q, 10)[1]
        def run(nprobe, q):
            ivf.nprobe = nprobe
            return index.search(q[None, :], 10)[1][0]
        param = "nprobe"
    elif a.engine.startswith("usearch"):
        from usearch.index import Index
        baseline = rss_mb()
        index = Index.restore(os.path.join(a.index_dir, "usearch.bin"))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        def batch(ef, q):
            index.expansion_search = max(ef, 10)
            return index.search(q, 10, threads=1).keys
        def run(ef, q):
            index.expansion_search = max(ef, 10)
            return index.search(q, 10, threads=1).keys
        param = "ef"
    elif a.engine == "hnswlib":
        import hnswlib
        baseline = rss_mb()
        index = hnswlib.Index(space="l2", dim=d)
        index.load_index(os.path.join(a.index_dir, "hnsw.bin"))
        index.set_num_threads(1)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        def batch(ef, q):
            index.set_ef(max(ef, 10))
            return index.knn_query(q, k=10, num_threads=1)[0]
        def run(ef, q):
            index.set_ef(max(ef, 10))
            return index.knn_query(q[None, :], k=10)[0][0]
        param = "ef"
    else:
        import diskannpy
        # num_threads=1 deadlocks diskannpy 0.7.0 while loading (use_medoids_data_as_centroids waits
        # forever for a scratch context); with 2 it loads, and each single-query search still runs
        # on the calling thread alone.
        baseline = rss_mb()
        index = diskannpy.StaticDiskIndex(a.index_dir, num_threads=2, num_nodes_to_cache=a.cache_nodes)
        queries = np.ascontiguousarray(queries)
        def run(complexity, q):
            return index.search(q, k_neighbors=10, complexity=max(complexity, 10), beam_width=a.beam_width).identifiers
        param = "complexity"
    for setting in grid:
        before = device_read_bytes()
        if batch is not None:
            t = time.perf_counter()
            found = list(batch(setting, queries))
            seconds = time.perf_counter() - t
            # Per-call latency on a sample (it includes the interpreter's cost per call).
            sample = queries[: min(len(queries), a.per_call_sample)]
            latencies = []
            for q in sample:
                t = time.perf_counter()
                run(setting, q)
                latencies.append((time.perf_counter() - t) * 1e3)
        else:
            latencies, found = [], []
            for q in queries:
                t = time.perf_counter()
                found.append(run(setting, q))
                latencies.append((time.perf_counter() - t) * 1e3)
            seconds = sum(latencies) / 1e3
        read = device_read_bytes() - before
        lat = np.array(latencies)
        print(json.dumps({
            "engine": NAMES[a.engine], "params": f"{param}={setting}", "recall": recall(found, truth),
            "qps": len(queries) / seconds, "mean_ms": seconds * 1e3 / len(queries),
            "timing": "native batch loop" if batch is not None else "per call",
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "per_call_p50_ms": float(np.percentile(lat, 50)), "per_call_p99_ms": float(np.percentile(lat, 99)),
            "rss_mb": peak_rss_mb(), "index_rss_mb": rss_mb() - baseline, "device_bytes_per_query": read / len(queries),
        }), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="phase", required=True)
    b = sub.add_parser("build")
    b.add_argument("--engine", choices=list(NAMES), required=True)
    b.add_argument("--base", required=True)
    b.add_argument("--index-dir", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--search-memory-gb", type=float, default=0.05)
    b.add_argument("--graph-degree", type=int, default=64, help="DiskANN R")
    b.add_argument("--build-complexity", type=int, default=100, help="DiskANN L")
    s = sub.add_parser("search")
    s.add_argument("--engine", choices=list(NAMES), required=True)
    s.add_argument("--index-dir", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--truth", required=True)
    s.add_argument("--grid", default="")
    s.add_argument("--limit", type=int, default=0)
    s.add_argument("--cache-nodes", type=int, default=0)
    s.add_argument("--beam-width", type=int, default=4)
    s.add_argument("--per-call-sample", type=int, default=1000, help="queries timed one per call for p50/p99")
    a = p.parse_args()
    build(a) if a.phase == "build" else search(a)


if __name__ == "__main__":
    main()

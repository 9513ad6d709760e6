"""Spot-checks a ground-truth file against faiss's exact search (IndexFlatL2) on a sample of
queries. A differing id counts only when its distance differs from faiss's at that rank by more
than float rounding (ties may be ordered either way)."""
import argparse, sys
import numpy as np
import faiss
from peers import read_truth, read_vectors

p = argparse.ArgumentParser()
p.add_argument("base"); p.add_argument("queries"); p.add_argument("truth")
p.add_argument("--sample", type=int, default=100); p.add_argument("-k", type=int, default=10)
a = p.parse_args()
base = np.ascontiguousarray(read_vectors(a.base), dtype=np.float32)
queries = np.ascontiguousarray(read_vectors(a.queries)[: a.sample], dtype=np.float32)
truth = read_truth(a.truth)[: a.sample, : a.k]
index = faiss.IndexFlatL2(base.shape[1]); index.add(base)
distances, ids = index.search(queries, a.k)
wrong = 0
for q in range(len(queries)):
    for j in range(a.k):
        if ids[q, j] != truth[q, j]:
            ours = float(np.sum((base[truth[q, j]] - queries[q]) ** 2))
            if abs(ours - distances[q, j]) > 1e-4 * max(1.0, distances[q, j]):
                wrong += 1
print(f"ground truth spot check: {len(queries)} queries × top-{a.k} against faiss IndexFlatL2: "
      f"{wrong} disagreements beyond ties")
sys.exit(1 if wrong else 0)

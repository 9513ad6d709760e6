"""Converts one data set's Swann results (swann eval --json lines, /usr/bin/time output, the build
summary) into the suite's common format: swann.jsonl, swann-build.json, swann-direct.jsonl."""
import json, os, sys

folder = sys.argv[1]
load = lambda name: json.load(open(os.path.join(folder, name)))


def convert(source, target, time_file):
    rss = load(time_file)["peak_rss_kib"] / 1024
    with open(os.path.join(folder, target), "w") as out:
        for line in open(os.path.join(folder, source)):
            if not line.startswith("{"):
                continue
            p = json.loads(line)
            params = ",".join(f"{k.replace('_', '-')}={v}" for k, v in sorted(p["params"].items())) or "defaults"
            out.write(json.dumps({"engine": "Swann", "params": params, "recall": p["recall"], "qps": p["qps"],
                                  "mean_ms": p["mean_ms"], "p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"], "rss_mb": rss,
                                  "bytes_per_query": p["bytes_per_query"], "postings_per_query": p["postings_per_query"]}) + "\n")


convert("swann-eval.jsonl", "swann.jsonl", "swann-search-time.json")
convert("swann-direct-eval.jsonl", "swann-direct.jsonl", "swann-direct-time.json")
summary, build_time = load("swann-build-summary.json"), load("swann-build-time.json")
json.dump({"engine": "Swann", "build_seconds": build_time["wall_seconds"], "build_rss_mb": build_time["peak_rss_kib"] / 1024,
           "index_bytes": sum(summary["bytesPerFile"].values()), "copies_per_vector": summary["copiesPerVector"]},
          open(os.path.join(folder, "swann-build.json"), "w"))

"""Converts one data set's Swann results (swann eval --json lines, /usr/bin/time output, the build
summary) into the suite's common format: <prefix>.jsonl, <prefix>-build.json, <prefix>-direct.jsonl.

Usage: swann_points.py FOLDER [PREFIX ENGINE] [--no-direct]   (default: swann "Swann"; the int8 build: swann-int8
"Swann int8"; --no-direct: no direct-I/O sweep to convert)"""
import json, os, sys

args = [a for a in sys.argv[1:] if a != "--no-direct"]
folder = args[0]
prefix, engine = (args[1], args[2]) if len(args) > 2 else ("swann", "Swann")
load = lambda name: json.load(open(os.path.join(folder, name)))


def convert(source, target, time_file):
    rss = load(time_file)["peak_rss_kib"] / 1024
    with open(os.path.join(folder, target), "w") as out:
        for line in open(os.path.join(folder, source)):
            if not line.startswith("{"):
                continue
            p = json.loads(line)
            params = ",".join(f"{k.replace('_', '-')}={v}" for k, v in sorted(p["params"].items())) or "defaults"
            out.write(json.dumps({"engine": engine, "params": params, "recall": p["recall"], "qps": p["qps"],
                                  "mean_ms": p["mean_ms"], "p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"], "rss_mb": rss, "index_rss_mb": p.get("index_rss_mb"),
                                  "bytes_per_query": p["bytes_per_query"], "postings_per_query": p["postings_per_query"]}) + "\n")


convert(f"{prefix}-eval.jsonl", f"{prefix}.jsonl", f"{prefix}-search-time.json")
if "--no-direct" not in sys.argv:
    convert(f"{prefix}-direct-eval.jsonl", f"{prefix}-direct.jsonl", f"{prefix}-direct-time.json")
summary, build_time = load(f"{prefix}-build-summary.json"), load(f"{prefix}-build-time.json")
json.dump({"engine": engine, "build_seconds": build_time["wall_seconds"], "build_rss_mb": build_time["peak_rss_kib"] / 1024,
           "index_bytes": sum(summary["bytesPerFile"].values()), "copies_per_vector": summary["copiesPerVector"]},
          open(os.path.join(folder, f"{prefix}-build.json"), "w"))

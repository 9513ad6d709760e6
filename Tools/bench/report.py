"""Turns a benchmark run's JSON lines into results.json, results.csv, one recall-vs-QPS chart per
data set (PNG) and docs/BENCHMARKS.md.

Input: RUN/<dataset>/<engine>.jsonl (sweep points), RUN/<dataset>/<engine>-build.json, and
RUN/meta.json (machine, date, command, duration).
"""
import csv, glob, json, os, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

ENGINES = ["Swann", "Swann int8", "Swann rabitq", "Swann rabitq mmap", "faiss IVF-Flat", "faiss IVF-RaBitQ+refine", "hnswlib", "usearch f32",
           "usearch i8", "DiskANN"]
COLORS = {"Swann": "#d62728", "Swann int8": "#ff7f0e", "Swann rabitq": "#8c564b", "Swann rabitq mmap": "#e377c2", "faiss IVF-Flat": "#1f77b4",
          "faiss IVF-RaBitQ+refine": "#17becf", "hnswlib": "#2ca02c", "usearch f32": "#bcbd22", "usearch i8": "#7f7f7f",
          "DiskANN": "#9467bd"}


def load_lines(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")] if os.path.exists(path) else []


def value_at(points, target, key):
    """A point's figure (QPS, latency, bytes) at a recall, interpolated linearly between the two
    sweep points around it; None when the sweep does not reach that recall."""
    pts = sorted((p["recall"], p[key]) for p in points if p.get(key) is not None)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1:
            return q0 + (q1 - q0) * (target - r0) / (r1 - r0) if r1 > r0 else q0
    return None


def qps_at(points, target):
    return value_at(points, target, "qps")


def bytes_read(point):
    """Bytes per query from the device (DiskANN, from /proc/self/io) or as Swann counts them."""
    return point.get("device_bytes_per_query") or point.get("bytes_per_query") or 0


def main(run, docs):
    meta = json.load(open(os.path.join(run, "meta.json")))
    datasets = sorted(d for d in os.listdir(run) if os.path.isdir(os.path.join(run, d)))
    rows, summary = [], {}
    os.makedirs(os.path.join(docs, "benchmarks"), exist_ok=True)
    for dataset in datasets:
        folder = os.path.join(run, dataset)
        engines = {}
        for path in sorted(glob.glob(os.path.join(folder, "*.jsonl"))):
            key = os.path.basename(path)[: -len(".jsonl")]
            points = load_lines(path)
            if not points or "engine" not in points[0]:
                continue  # raw tool output (swann eval's own lines), converted elsewhere
            build_path = os.path.join(folder, key + "-build.json")
            # Some engines (DiskANN) log to stdout: the build's figures are its last JSON line.
            build = (load_lines(build_path) or [{}])[-1] if os.path.exists(build_path) else {}
            name = points[0]["engine"]
            engines[key] = {"name": name, "points": points, "build": build}
            for p in points:
                rows.append({"dataset": dataset, "engine": name, "mode": key, **{k: p.get(k) for k in
                             ("params", "recall", "qps", "mean_ms", "p50_ms", "p99_ms", "rss_mb", "index_rss_mb", "bytes_per_query",
                              "device_bytes_per_query")},
                             "build_seconds": build.get("build_seconds"), "index_bytes": build.get("index_bytes")})
        summary[dataset] = engines
        chart(dataset, engines, os.path.join(docs, "benchmarks", f"{dataset}.png"))
    json.dump({"meta": meta, "results": rows}, open(os.path.join(run, "results.json"), "w"), indent=1)
    with open(os.path.join(run, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(meta, summary, os.path.join(docs, "BENCHMARKS.md"))


def serving_mb(engine):
    return max(p.get("rss_mb") or 0 for p in engine["points"])


def index_mb(engine):
    """The index's own memory: resident after searching less the process before it loaded the
    index (None for results from before the bench measured it)."""
    values = [p["index_rss_mb"] for p in engine["points"] if p.get("index_rss_mb") is not None]
    return max(values) if values else None


def chart(dataset, engines, path):
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for key, engine in engines.items():
        if key.endswith("-direct"):
            continue
        pts = sorted((p["recall"], p["qps"]) for p in engine["points"])
        name = engine["name"]
        ax.plot([r for r, _ in pts], [q for _, q in pts], marker="o", ms=3.5, color=COLORS.get(name),
                label=f"{name} ({serving_mb(engine):.0f} MB serving)")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second, one thread (log)")
    ax.set_title(f"{dataset}: recall vs throughput")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def write_markdown(meta, summary, path):
    lines = ["# Benchmarks", "",
             "Generated by `Tools/bench/report.py` from one run of", "", f"```\n{meta['command']}\n```", "",
             f"- date: {meta['date']}", f"- machine: {meta['machine']}", f"- run took {meta['minutes']:.1f} minutes",
             f"- queries per sweep point: {meta['queries']}; one search thread per engine, each engine's own loop over the "
             "queries (Swann: `swann eval`; faiss, hnswlib, usearch: one batch call with one thread; DiskANN: one call "
             "per query, its binding has no single-thread batch call); p50/p99 of the peers are per Python call",
             "- every engine builds and searches in its own processes; serving MB is the peak RSS of the search process "
             "(index + queries + truth + the harness: a Python interpreter and its libraries for the peers); index MB is "
             "the resident memory after searching less the same process's just before it loaded the index (queries, "
             "truth and the library already loaded), measured the same way for every engine; build memory is the "
             "build process's peak", "",
             "Throughput on this shared 2-core virtual machine varies by ±20% between runs; compare engines within a "
             "run, as ratios.", ""]
    for dataset, engines in summary.items():
        lines += [f"## {dataset}", "", f"![recall vs QPS on {dataset}](benchmarks/{dataset}.png)", ""]
        lines += ["| engine | build s | build MB | index on disk MB | serving MB | index MB | QPS @0.90 | QPS @0.95 | QPS @0.99 | best recall |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, engine in engines.items():
            if key.endswith("-direct"):
                continue
            b, pts = engine["build"], engine["points"]
            lines.append(f"| {engine['name']} | {fmt(b.get('build_seconds'), '.0f')} | {fmt(b.get('build_rss_mb'), '.0f')} | "
                         f"{fmt((b.get('index_bytes') or 0) / 1e6 or None, '.0f')} | {serving_mb(engine):.0f} | {fmt(index_mb(engine), '.0f')} | "
                         f"{fmt(qps_at(pts, 0.90), '.0f')} | {fmt(qps_at(pts, 0.95), '.0f')} | {fmt(qps_at(pts, 0.99), '.0f')} | "
                         f"{max(p['recall'] for p in pts):.3f} |")
        ratios = []
        for own in ("swann", "swann-int8", "swann-rabitq", "swann-rabitq-mmap"):
            swann = engines.get(own)
            if not swann:
                continue
            for key, engine in engines.items():
                if key.startswith("swann") or key.endswith("-direct"):
                    continue
                for target in (0.90, 0.95):
                    a, b = qps_at(swann["points"], target), qps_at(engine["points"], target)
                    if a and b:
                        ratios.append(f"at recall {target:.2f} {swann['name']} has {a / b:.2f}× the QPS of {engine['name']}")
                own_mb, peer_mb = index_mb(swann), index_mb(engine)
                if own_mb and peer_mb:
                    ratios.append(f"{swann['name']}'s index holds {own_mb / peer_mb:.0%} of {engine['name']}'s memory")
        if ratios:
            lines += ["", "Ratios from this run: " + "; ".join(ratios) + "."]
        direct = {k: e for k, e in engines.items() if k.endswith("-direct") or e["name"] == "DiskANN"}
        if direct:
            lines += ["", "### Cold path: reads straight from the device", "",
                      "Swann with `--direct-io` (O_DIRECT, no page cache) against DiskANN's disk index (which always reads "
                      "with O_DIRECT); bytes are what each engine read from the device per query (DiskANN's from "
                      "/proc/self/io; Swann's the aligned spans of its O_DIRECT reads, which are what the device "
                      "delivers).", "",
                      "| engine | setting | recall@10 | mean ms | p99 ms | KiB read / query |", "|---|---|---:|---:|---:|---:|"]
            for key, engine in direct.items():
                for p in engine["points"]:
                    lines.append(f"| {engine['name']}{' (direct I/O)' if key.endswith('-direct') else ''} | {p['params']} | "
                                 f"{p['recall']:.3f} | {p['mean_ms']:.2f} | {p['p99_ms']:.2f} | {bytes_read(p) / 1024:.0f} |")
            lines += ["", "At matched recall (interpolated between the sweep points around it):", "",
                      "| engine | recall@10 | mean ms | p99 ms | KiB read / query |", "|---|---:|---:|---:|---:|"]
            for key, engine in direct.items():
                points = [{**p, "kib": bytes_read(p) / 1024} for p in engine["points"]]
                for target in (0.90, 0.95):
                    figures = [value_at(points, target, k) for k in ("mean_ms", "p99_ms", "kib")]
                    if None not in figures:
                        lines.append(f"| {engine['name']}{' (direct I/O)' if key.endswith('-direct') else ''} | {target:.2f} | "
                                     f"{figures[0]:.2f} | {figures[1]:.2f} | {figures[2]:.0f} |")
        lines.append("")
    for note in meta.get("notes", []):
        lines += [f"- {note}"]
    # Sections written by other scripts (Tools/bench/churn) follow this marker and are kept.
    marker = "<!-- kept: written by other benchmarks -->"
    kept = ""
    if os.path.exists(path) and marker in open(path).read():
        kept = "\n" + open(path).read().split(marker, 1)[1]
        kept = marker + kept
    open(path, "w").write("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

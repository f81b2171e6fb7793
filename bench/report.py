#!/usr/bin/env python3
"""Turns the JSON that scripts/bench.sh collected into the markdown tables of BENCHMARKS.md and,
when matplotlib is installed, a plot of overhead against stack depth.

Usage: report.py RESULTS_DIR PLOTS_DIR
"""
import glob
import json
import os
import re
import sys

NAME = re.compile(r"^(?P<fn>\w+)/depth:(?P<depth>\d+)/mode:(?P<mode>\d+)(?:/real_time)?(?:/threads:(?P<threads>\d+))?$")


def load_runs(results, variant):
    """Fastest ns per pair (per thread) for each (fn, depth, mode, threads) over the repetitions."""
    best = {}
    for path in sorted(glob.glob(os.path.join(results, f"micro_{variant}_*.json"))):
        with open(path) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            m = NAME.match(b["name"])
            if not m:
                continue
            threads = int(m["threads"] or 1)
            ns = b["real_time"] * threads  # Google Benchmark divides wall time by all threads' iterations
            key = (m["fn"], int(m["depth"]), int(m["mode"]), threads)
            best[key] = min(best.get(key, float("inf")), ns)
    return best


def ratio(x, base):
    return f"{x:.1f} ({x / base:.1f}x)"


def micro_tables(plain, traced):
    lines = []
    titles = {"malloc_free": "malloc+free", "new_delete": "new[]+delete[]"}
    for fn, title in titles.items():
        for threads in (1, 2):
            lines.append(f"\n**{title}, hot, {threads} thread{'s' if threads > 1 else ''}** (ns per pair per thread, ratio to plain)\n")
            lines.append("| depth | plain | leakguard, tracing off | tracing, nframe = depth | tracing, nframe = 16 (default) |")
            lines.append("|---|---|---|---|---|")
            for depth in (1, 8, 25, 64):
                base = plain.get((fn, depth, 0, threads))
                if base is None:
                    continue
                cells = [ratio(traced[(fn, depth, mode, threads)], base) for mode in (0, 1, 2)]
                lines.append(f"| {depth} | {base:.1f} | " + " | ".join(cells) + " |")
    lines.append("\n**malloc+free, cold: 1M live blocks, each pair frees a random one** (ns per pair)\n")
    lines.append("| depth | plain | leakguard, tracing off | tracing, nframe = depth |")
    lines.append("|---|---|---|---|")
    for depth in (1, 25):
        base = plain.get(("malloc_free_cold", depth, 0, 1))
        off = traced.get(("malloc_free_cold", depth, 0, 1))
        on = traced.get(("malloc_free_cold", depth, 1, 1))
        if base is None or on is None:
            continue
        lines.append(f"| {depth} | {base:.1f} | {ratio(off, base) if off else '-'} | {ratio(on, base)} |")
    return lines


def capture_table(results):
    path = os.path.join(results, "capture.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    ns = {}
    for b in data["benchmarks"]:
        m = re.match(r"capture/depth:(\d+)/method:(\d+)", b["name"])
        if m:
            ns[(int(m[1]), int(m[2]))] = b["real_time"]
    lines = ["\n**One stack capture** (ns)\n", "| depth | leakguard frame-pointer walk | glibc backtrace() | _Unwind_Backtrace |", "|---|---|---|---|"]
    for depth in (1, 8, 25, 64):
        if (depth, 0) in ns:
            lines.append(f"| {depth} | {ns[(depth, 0)]:.1f} | {ns[(depth, 1)]:.0f} | {ns[(depth, 2)]:.0f} |")
    return lines


def snapshot_table(results):
    path = os.path.join(results, "snapshot.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        s = json.load(f)
    return [
        f"\n**Snapshot of {s['blocks']:,} live blocks** ({s['stacks']} distinct stacks of 25 frames)\n",
        "| measure | value |",
        "|---|---|",
        f"| take_snapshot(), first (symbolizes every stack) | {s['take_snapshot_s'] * 1000:.0f} ms |",
        f"| take_snapshot(), again (symbols cached) | {s['retake_snapshot_s'] * 1000:.0f} ms |",
        f"| statistics(\"lineno\") over it | {s['statistics_lineno_s'] * 1000:.0f} ms |",
        f"| snapshot memory | {s['snapshot_bytes'] / 2**20:.1f} MiB ({s['snapshot_bytes_per_block']:.1f} B per block) |",
        f"| tracer memory per live block, tables only | {s['tracer_bytes_per_block_without_stacks']:.1f} B |",
        f"| tracer memory per live block, with interned stacks | {s['tracer_bytes_per_block']:.1f} B |",
    ]


def classify_table(results):
    path = os.path.join(results, "classify.jsonl")
    if not os.path.exists(path):
        return []
    rows = [json.loads(line) for line in open(path) if line.strip()]
    lines = ["\n**A leak check against the live heap** (classify_survivors(), fastest run)\n",
             "| live blocks | nothing left over from the window | one block left: scan of roots and heap |",
             "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['live_blocks']:,} | {r['check_nothing_left_ms'] * 1000:.1f} us | {r['check_one_survivor_ms']:.0f} ms |")
    return lines


def plot(plain, traced, plots):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("<!-- matplotlib not installed: no plot (apt-get install python3-matplotlib) -->")
        return
    os.makedirs(plots, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    depths = [1, 8, 25, 64]
    for fn, label in (("malloc_free", "malloc+free"), ("new_delete", "new+delete")):
        for threads in (1, 2):
            ys = [traced[(fn, d, 1, threads)] / plain[(fn, d, 0, threads)] for d in depths]
            ax.plot(depths, ys, marker="o", label=f"{label}, {threads} thread{'s' if threads > 1 else ''}")
    ax.axhline(4, color="grey", linestyle=":", linewidth=1)
    ax.axhline(7, color="grey", linestyle="--", linewidth=1)
    ax.text(64, 4, " target at depth 1 ", va="bottom", ha="right", fontsize=8, color="grey")
    ax.text(64, 7, " target at depth 25 ", va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("stack depth (frames captured)")
    ax.set_ylabel("traced / plain, same run")
    ax.set_title("leakguard overhead per allocation+free pair (hot)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = os.path.join(plots, "micro_overhead.png")
    fig.savefig(out, dpi=110)
    print(f"\n![overhead against depth]({os.path.relpath(out, 'bench/..')})")


def main():
    results, plots = sys.argv[1], sys.argv[2]
    plain, traced = load_runs(results, "plain"), load_runs(results, "traced")
    machine = open(os.path.join(results, "machine.txt")).read().strip().replace("\n", "; ")
    reps = len(glob.glob(os.path.join(results, "micro_plain_*.json")))
    print(f"<!-- generated by scripts/bench.sh; {machine}; fastest of {reps} alternating runs -->")
    for line in micro_tables(plain, traced) + capture_table(results) + snapshot_table(results) + classify_table(results):
        print(line)
    plot(plain, traced, plots)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turns the JSON that scripts/bench.sh collected into the markdown tables of BENCHMARKS.md and,
when matplotlib is installed, a plot of overhead against stack depth.

Usage: report.py RESULTS_DIR PLOTS_DIR [RAW_DIR]
With RAW_DIR, first merges the micro runs' JSON files found there (micro_<variant>_<rep>_<group>.json,
Google Benchmark's output) into RESULTS_DIR/micro.json, which is what the tables are made from.

Each micro figure is the fastest of the repetitions (ns per pair, per thread). Each ratio divides
two such figures taken in the same run; the targets table also gives the median and the range of
the ratios of single repetitions, where plain and traced ran one right after the other.
"""
import glob
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_tools  # noqa: E402

NAME = re.compile(r"^(?P<fn>\w+)/depth:(?P<depth>\d+)/mode:(?P<mode>\d+)"
                  r"(?:/iterations:\d+)?(?:/real_time)?(?:/threads:(?P<threads>\d+))?$")
FILE = re.compile(r"micro_(?P<variant>plain|traced|clang|lsan)_(?P<rep>\d+)(?:_\d+)?\.json$")
DEPTHS = (1, 8, 25, 64)
RESULTS = None
TARGETS = {1: 4.0, 25: 7.0}  # issue 3: traced / plain at depth 1 and depth 25
MEMORY_TARGET = 32.0          # bytes per live block, interned stacks excluded


def merge_raw(raw, results):
    """Keeps what the tables need from each raw run: variant, repetition, name and time."""
    rows = []
    for path in sorted(glob.glob(os.path.join(raw, "micro_*.json"))):
        f = FILE.search(path)
        if not f:
            continue
        with open(path) as fh:
            data = json.load(fh)
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") == "iteration":
                rows.append({"variant": f["variant"], "rep": int(f["rep"]), "name": b["name"],
                             "real_time_ns": b["real_time"], "iterations": b["iterations"]})
    with open(os.path.join(results, "micro.json"), "w") as fh:
        json.dump(rows, fh, indent=0)


def load_runs(results):
    """{variant: {(fn, depth, mode, threads): {rep: ns per pair per thread}}}"""
    runs = {"plain": {}, "traced": {}, "clang": {}, "lsan": {}}
    with open(os.path.join(results, "micro.json")) as fh:
        rows = json.load(fh)
    for b in rows:
        m = NAME.match(b["name"])
        if not m:
            continue
        threads = int(m["threads"] or 1)
        # Google Benchmark divides the wall time by the iterations of all threads together.
        ns = b["real_time_ns"] * threads
        key = (m["fn"], int(m["depth"]), int(m["mode"]), threads)
        runs[b["variant"]].setdefault(key, {})[b["rep"]] = ns
    return runs


def best(runs, variant, key):
    reps = runs[variant].get(key)
    return min(reps.values()) if reps else None


def rep_ratios(runs, key, base_key):
    t, p = runs["traced"].get(key, {}), runs["plain"].get(base_key, {})
    return [t[r] / p[r] for r in sorted(t) if r in p]


def cell(x, base):
    return "-" if x is None or base is None else f"{x:.1f} ({x / base:.1f}x)"


def micro_tables(runs):
    lines = []
    titles = {"malloc_free": "malloc+free", "new_delete": "new[]+delete[]"}
    for fn, title in titles.items():
        for threads in (1, 2):
            lines.append(f"\n**{title}, hot, {threads} thread{'s' if threads > 1 else ''}** "
                         "(ns per pair per thread, fastest run; ratio to plain)\n")
            lines.append("| depth | plain | leakguard, tracing off | tracing, nframe = depth | tracing, nframe = 16 (default) "
                         "| plain, clang | LSan (clang; ratio to plain clang) |")
            lines.append("|---|---|---|---|---|---|---|")
            for depth in DEPTHS:
                base = best(runs, "plain", (fn, depth, 0, threads))
                if base is None:
                    continue
                cells = [cell(best(runs, "traced", (fn, depth, mode, threads)), base) for mode in (0, 1, 2)]
                cbase = best(runs, "clang", (fn, depth, 0, threads))
                cells.append("-" if cbase is None else f"{cbase:.1f}")
                cells.append(cell(best(runs, "lsan", (fn, depth, 0, threads)), cbase))
                lines.append(f"| {depth} | {base:.1f} | " + " | ".join(cells) + " |")
    lines.append("\n**malloc+free, cold: 1M live blocks, each pair frees a pseudo-random one and allocates "
                 "its replacement** (ns per pair, 1 thread)\n")
    lines.append("| depth | plain | leakguard, tracing off | tracing, nframe = depth | plain, clang | LSan (ratio to plain clang) |")
    lines.append("|---|---|---|---|---|---|")
    for depth in (1, 25):
        base = best(runs, "plain", ("malloc_free_cold", depth, 0, 1))
        if base is None:
            continue
        off = best(runs, "traced", ("malloc_free_cold", depth, 0, 1))
        on = best(runs, "traced", ("malloc_free_cold", depth, 1, 1))
        cbase = best(runs, "clang", ("malloc_free_cold", depth, 0, 1))
        lsan = best(runs, "lsan", ("malloc_free_cold", depth, 0, 1))
        lines.append(f"| {depth} | {base:.1f} | {cell(off, base)} | {cell(on, base)} | "
                     f"{'-' if cbase is None else f'{cbase:.1f}'} | {cell(lsan, cbase)} |")
    return lines


def load_snapshot(results):
    path = os.path.join(results, "snapshot.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def targets_table(runs, snap):
    lines = ["\n**Targets** (issue 3; traced with nframe = depth against plain, same run)\n",
             "| target | case | plain ns | traced ns | ratio (fastest runs) | ratio per repetition: median [min-max] | met |",
             "|---|---|---|---|---|---|---|"]
    for depth, target in TARGETS.items():
        for fn, title in (("malloc_free", "malloc+free"), ("new_delete", "new[]+delete[]")):
            for threads in (1, 2):
                key, base_key = (fn, depth, 1, threads), (fn, depth, 0, threads)
                p, t = best(runs, "plain", base_key), best(runs, "traced", key)
                if p is None or t is None:
                    continue
                rs = rep_ratios(runs, key, base_key)
                r = t / p
                if r <= target and max(rs) <= target:
                    verdict = "yes"
                elif r <= target:
                    verdict = f"yes, but {sum(x > target for x in rs)} of {len(rs)} repetitions above"
                else:
                    verdict = f"**no**, by {r / target - 1:.0%}"
                lines.append(f"| depth {depth}: <= {target:.0f}x plain | {title}, {threads} thread{'s' if threads > 1 else ''} "
                             f"| {p:.1f} | {t:.1f} | {r:.2f}x | {statistics.median(rs):.2f}x [{min(rs):.2f}-{max(rs):.2f}] | {verdict} |")
    if snap:
        per = snap["tracer_bytes_per_block_without_stacks"]
        worst = snap.get("tables_bytes_per_block_max")
        lines.append(f"| <= {MEMORY_TARGET:.0f} B per live block plus interned stacks | {snap['blocks']:,} live blocks, 1 thread "
                     f"| - | - | {per:.1f} B/block ({snap['tracer_bytes_per_block']:.1f} with stacks) "
                     f"| worst between 64k and 1M blocks: {worst:.1f} B | {'yes' if max(per, worst or 0) <= MEMORY_TARGET else '**no**'} |")
    return lines


def capture_best(results, pattern):
    ns, frames = {}, {}
    for path in glob.glob(os.path.join(results, pattern)):
        with open(path) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            m = re.match(r"capture/depth:(\d+)/method:(\d+)", b["name"])
            if m:
                key = (int(m[1]), int(m[2]))
                ns[key] = min(ns.get(key, float("inf")), b["real_time"])
                frames[key] = int(b.get("frames", 0))
    return ns, frames


def capture_table(results):
    gcc, _ = capture_best(results, "capture_[0-9]*.json")
    unw, _ = capture_best(results, "capture_libunwind_*.json")
    if not gcc:
        return []
    cols = [("leakguard frame-pointer walk (used)", gcc, 0), ("leakguard walk, every frame by CFI rule", gcc, 4),
            ("libunwind unw_backtrace()", unw, 3), ("glibc backtrace() (libgcc unwinder)", gcc, 1),
            ("_Unwind_Backtrace (libgcc)", gcc, 2), ("_Unwind_Backtrace (libunwind)", unw, 2)]
    cols = [c for c in cols if c[1]]
    lines = ["\n**One stack capture** (ns, fastest of 3 runs; every method captured all `depth` frames)\n",
             "| depth | " + " | ".join(c[0] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for depth in DEPTHS:
        vals = []
        for _, table, method in cols:
            v = table.get((depth, method))
            vals.append("-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}"))
        lines.append(f"| {depth} | " + " | ".join(vals) + " |")
    if (25, 0) in gcc:
        base = gcc[(25, 0)]
        rel = ", ".join(f"{name} {table[(25, m)] / base:.0f}x" for name, table, m in cols[1:] if (25, m) in table)
        lines.append(f"\nAt depth 25, against the frame-pointer walk: {rel}.")
    return lines


def snapshot_table(snap):
    if not snap:
        return []
    mib = 2 ** 20
    return [
        f"\n**Snapshot and tracer memory, {snap['blocks']:,} live blocks** ({snap['stacks']} distinct stacks of 25 frames, 1 thread)\n",
        "| measure | value |",
        "|---|---|",
        f"| take_snapshot(), first (symbolizes every stack) | {snap['take_snapshot_s'] * 1000:.0f} ms |",
        f"| take_snapshot(), again (symbols cached; fastest of 3) | {snap['retake_snapshot_s'] * 1000:.0f} ms |",
        f"| statistics(\"lineno\") over it (fastest of 3) | {snap['statistics_lineno_s'] * 1000:.1f} ms |",
        f"| snapshot memory (heap growth: glibc's and leakguard's own heap) | {snap['snapshot_bytes'] / mib:.1f} MiB ({snap['snapshot_bytes_per_block']:.1f} B per block) |",
        f"| get_tracer_memory() | {snap['tracer_bytes'] / mib:.1f} MiB ({snap['tracer_bytes_at_start'] / 1024:.0f} KiB right after start()) |",
        f"| of which interned stacks (detail::stack_table_bytes()) | {snap['stack_table_bytes'] / mib:.2f} MiB |",
        f"| tracer bytes per live block, with interned stacks | {snap['tracer_bytes_per_block']:.1f} B |",
        f"| tracer bytes per live block, without interned stacks | {snap['tracer_bytes_per_block_without_stacks']:.1f} B |",
        f"| same, range while growing from 64k to 1M blocks | {snap['tables_bytes_per_block_min']:.1f} to {snap['tables_bytes_per_block_max']:.1f} B |",
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


def plot(runs, plots):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n<!-- matplotlib not installed: no plot (apt-get install python3-matplotlib) -->")
        return
    os.makedirs(plots, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for fn, label in (("malloc_free", "malloc+free"), ("new_delete", "new[]+delete[]")):
        for variant, mode, base, style, what in (("traced", 1, "plain", "-", "leakguard, nframe = depth"),
                                                 ("traced", 2, "plain", "--", "leakguard, nframe = 16"),
                                                 ("lsan", 0, "clang", ":", "LSan")):
            xs, ys = [], []
            for d in DEPTHS:
                p, t = best(runs, base, (fn, d, 0, 1)), best(runs, variant, (fn, d, mode, 1))
                if p and t:
                    xs.append(d)
                    ys.append(t / p)
            if xs:
                ax.plot(xs, ys, marker="o", linestyle=style, label=f"{what}: {label}")
    ax.axhline(4, color="grey", linestyle=":", linewidth=1)
    ax.axhline(7, color="grey", linestyle="--", linewidth=1)
    ax.text(64, 4, " target at depth 1 ", va="bottom", ha="right", fontsize=8, color="grey")
    ax.text(64, 7, " target at depth 25 ", va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(DEPTHS), [str(d) for d in DEPTHS])
    ax.set_xlabel("stack depth (frames below the benchmark loop)")
    ax.set_ylabel("traced / plain, same run")
    ax.set_title("overhead per allocation+free pair (hot, 1 thread)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = os.path.join(plots, "micro_overhead.png")
    fig.savefig(out, dpi=110)
    print(f"\n![overhead against depth]({os.path.relpath(out, os.path.join(plots, '..', '..'))})")
    plt.close(fig)
    for line in report_tools.plots(RESULTS, plots, plt):
        print("\n" + line)


def main():
    global RESULTS
    results, plots = sys.argv[1], sys.argv[2]
    RESULTS = results
    if len(sys.argv) > 3:
        merge_raw(sys.argv[3], results)
    runs = load_runs(results)
    snap = load_snapshot(results)
    machine = open(os.path.join(results, "machine.txt")).read().strip().split("\n")
    print("<!-- generated by scripts/bench.sh from bench/results/; do not edit by hand -->\n")
    print("Run: " + "; ".join(machine) + ".")

    def micro_ratio(fn, depth, mode, threads):
        p, t = best(runs, "plain", (fn, depth, 0, threads)), best(runs, "traced", (fn, depth, mode, threads))
        c, ls = best(runs, "clang", (fn, depth, 0, threads)), best(runs, "lsan", (fn, depth, 0, threads))
        return (t / p if p and t else None), (ls / c if c and ls else None)

    for line in (report_tools.targets(results, micro_ratio, snap) + micro_tables(runs) +
                 report_tools.whole_table(results) + report_tools.suite_table(results) +
                 report_tools.check_table(results) + report_tools.report_table(results) +
                 capture_table(results) + snapshot_table(snap)):
        print(line)
    plot(runs, plots)


if __name__ == "__main__":
    main()

"""The process-level benchmark families of BENCHMARKS.md (bench/run_tools.py's JSON lines): the
whole program beside LSan, ASan, heaptrack and valgrind; the 1000-test suite; the per-test check
against the live heap's size; a report's cost. Tables, issue 7's targets, and a plot per family.
Each figure is the fastest of its repetitions; each ratio divides two figures of the same run."""
import json
import os
import statistics

WHOLE = [  # config, label, baseline
    ("plain", "plain (g++)", "plain"),
    ("leakguard_off", "leakguard linked, tracing off", "plain"),
    ("leakguard_d1", "leakguard, nframe = 1", "plain"),
    ("leakguard_default", "leakguard, nframe = 16 (default)", "plain"),
    ("heaptrack", "heaptrack (record)", "plain"),
    ("valgrind", "valgrind memcheck --leak-check=full", "plain"),
    ("plain_clang", "plain (clang)", "plain_clang"),
    ("lsan", "LSan (clang -fsanitize=leak)", "plain_clang"),
    ("asan", "ASan (clang -fsanitize=address)", "plain_clang"),
]


SHORT = {"leakguard_off": "leakguard\ntracing off", "leakguard_d1": "leakguard\nnframe 1",
         "leakguard_default": "leakguard\nnframe 16", "heaptrack": "heaptrack", "valgrind": "valgrind\nmemcheck",
         "lsan": "LSan", "asan": "ASan"}


def load_jsonl(results, name):
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_config(rows):
    out = {}
    for r in rows:
        out.setdefault(r["config"], []).append(r)
    return out


def whole_stats(results):
    rows = by_config(load_jsonl(results, "whole.jsonl"))
    stats = {}
    for config, runs in rows.items():
        stats[config] = {
            "wall": min(r["wall_s"] for r in runs),
            "rss": min(r["max_rss_kib"] for r in runs) / 1024,
            "work": min(r["program"].get("work_ms", float("nan")) for r in runs),
            "runs": len(runs),
            "loads": [r["load_before"] for r in runs],
        }
    return stats


def whole_table(results):
    st = whole_stats(results)
    if "plain" not in st:
        return []
    count = {}
    path = os.path.join(results, "whole_count.json")
    if os.path.exists(path):
        with open(path) as f:
            count = json.load(f)
    n = load_jsonl(results, "whole.jsonl")[0]["n"]
    lines = [f"\n**Whole program** (bench/whole.cpp: {n:,} insertions into a std::map and as many into a "
             f"std::unordered_map, 20 frames below main; {count.get('new_calls', 0):,} operator new calls; wall time and "
             "peak RSS of the process, fastest of its runs; ratios to the plain build of the same compiler)\n",
             "| tool | wall s | x plain | peak RSS MiB | x plain | work ms (in the program) | runs | load average at the runs' start |",
             "|---|---|---|---|---|---|---|---|"]
    for config, label, base in WHOLE:
        if config not in st or base not in st:
            continue
        s, b = st[config], st[base]
        lines.append(f"| {label} | {s['wall']:.2f} | {s['wall'] / b['wall']:.2f}x | {s['rss']:.0f} | {s['rss'] / b['rss']:.2f}x "
                     f"| {s['work']:.0f} | {s['runs']} | {min(s['loads']):.1f}-{max(s['loads']):.1f} |")
    return lines


def suite_stats(results):
    rows = by_config(load_jsonl(results, "suite.jsonl"))
    out = {}
    for config, runs in rows.items():
        out[config] = {"run_us": min(r["program"]["run_us"] for r in runs), "wall": min(r["wall_s"] for r in runs),
                       "tests": runs[0]["program"]["tests"], "runs": len(runs)}
    return out


def suite_table(results):
    st = suite_stats(results)
    if "plain" not in st:
        return []
    p = st["plain"]
    lines = ["\n**A generated GoogleTest suite of 1000 small tests** (bench/suite_work.hpp: a few strings, a vector "
             "and a small map each; from the first test's start to the last one's end, fastest run; the process "
             "wall time includes start-up)\n",
             "| build | all tests, ms | per test, us | x plain | leakguard's cost per test, us | process wall, ms | runs |",
             "|---|---|---|---|---|---|---|"]
    labels = [("plain", "GTest::gtest_main"), ("leakguard_off", "leakguard::gtest_main, LEAKGUARD_MODE=off"),
              ("leakguard", "leakguard::gtest_main (checks every test)"),
              ("leakguard_run_file", "the same, with LEAKGUARD_REPORT_DIR (a run file for `leakguard merge`)"),
              ("plain_repeat2", "GTest::gtest_main, `--gtest_repeat=2` (per test: both runs)"),
              ("leakguard_repeat2", "leakguard::gtest_main, `--gtest_repeat=2` (the repeated-run rule)")]
    for config, label in labels:
        if config not in st:
            continue
        s = st[config]
        base = st.get("plain_repeat2", p) if config.endswith("repeat2") else p
        per = s["run_us"] / s["tests"]
        extra = (s["run_us"] - base["run_us"]) / s["tests"]
        lines.append(f"| {label} | {s['run_us'] / 1000:.1f} | {per:.1f} | {s['run_us'] / base['run_us']:.2f}x | "
                     f"{'-' if config.startswith('plain') else f'{extra:.1f}'} | {s['wall'] * 1000:.0f} | {s['runs']} |")
    if "plain_one" in st and "leakguard_one" in st:
        one, traced = st["plain_one"]["wall"] * 1000, st["leakguard_one"]["wall"] * 1000
        lines += ["\n**One test a process** (the same executables with `--gtest_filter=Suite0.Case0`, as ctest runs "
                  "each test that `gtest_discover_tests` found: start-up, the static initialisation that registers "
                  "the 1000 tests among it, is paid by every test; process wall time, fastest run)\n",
                  "| build | process wall, ms | x plain | leakguard's cost a process, ms | runs |",
                  "|---|---|---|---|---|",
                  f"| GTest::gtest_main | {one:.2f} | 1.00x | - | {st['plain_one']['runs']} |",
                  f"| leakguard::gtest_main | {traced:.2f} | {traced / one:.2f}x | {traced - one:.2f} | "
                  f"{st['leakguard_one']['runs']} |"]
    return lines


def check_stats(results):
    rows = by_config(load_jsonl(results, "check_heap.jsonl"))
    out = {}
    for config, runs in rows.items():
        mode, blocks = config.split("/")
        out.setdefault(int(blocks), {})[mode] = min(r["program"]["run_ms"] for r in runs) * 1000 / runs[0]["program"]["tests"]
        out[int(blocks)].setdefault("tests", {})[mode] = runs[0]["program"]["tests"]
    return out


def repeat_rule_cost(s):
    """The repeated-run rule's cost (us): once per process (the first test's, which includes the
    first symbolization) and for every further test (both runs), from the runs of all tests and of
    one test alone, each with and without the listener."""
    nan = float("nan")
    need = ("repeat2", "off_repeat2", "repeat2_one", "off_repeat2_one")
    if any(k not in s for k in need):
        return nan, nan
    tests = s["tests"]["repeat2"]
    once = s["repeat2_one"] - s["off_repeat2_one"]
    further = ((s["repeat2"] - s["off_repeat2"]) * tests - once) / (tests - 1)
    return once, further


def check_table(results):
    st = check_stats(results)
    if not st:
        return []
    classify = {r["live_blocks"]: r for r in load_jsonl(results, "classify.jsonl")}
    tests = load_jsonl(results, "check_heap.jsonl")[0]["program"]["tests"]
    lines = [f"\n**The per-test check against the live heap** (bench/check_heap.cpp: {tests} empty tests under the "
             "GoogleTest listener, blocks live from before the first; per test, fastest run; and "
             "classify_survivors() directly, from bench/classify.cpp)\n",
             "| live blocks | per empty test, no listener (us) | per empty test, listener (us) | the check's cost per test (us) "
             "| with `--gtest_repeat=2`, the repeated-run rule's cost per test, both runs (us) "
             "| of it: once per process, ms / every further test, us "
             "| classify_survivors(), nothing left (us) | classify_survivors(), one block left: scan (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for blocks in sorted(st):
        s = st[blocks]
        c = classify.get(blocks, {})
        off, on = s.get("off"), s.get("fail")
        nan = float("nan")
        repeat = s.get("repeat2", nan) - s.get("off_repeat2", nan)
        once, further = repeat_rule_cost(s)
        lines.append(f"| {blocks:,} | {off:.1f} | {on:.1f} | {on - off:.1f} | {repeat:.1f} | {once / 1000:.0f} / {further:.1f} | "
                     f"{c.get('check_nothing_left_ms', nan) * 1000:.1f} | {c.get('check_one_survivor_ms', nan):.0f} |")
    return lines


def report_table(results):
    path = os.path.join(results, "report_cost.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        r = json.load(f)
    lines = [f"\n**A report's cost** (bench/report_cost.cpp: {r['sites']} sites, {r['frames']}-frame stacks, "
             f"{r['text_chars']:,} characters of text; \"again\" is the fastest of 5 more in the same process)\n",
             "| step | first time, ms | again, ms |", "|---|---|---|",
             f"| take_snapshot() after the leaking code (symbolizes new stacks) | {r['first_snapshot_ms']:.1f} | {r['again_snapshot_ms']:.2f} |",
             f"| growth_report() | {r['first_report_ms']:.1f} | {r['again_report_ms']:.2f} |",
             f"| format_text() | {r['first_text_ms']:.1f} | {r['again_text_ms']:.2f} |",
             f"| total | {r['first_snapshot_ms'] + r['first_report_ms'] + r['first_text_ms']:.1f} | "
             f"{r['again_snapshot_ms'] + r['again_report_ms'] + r['again_text_ms']:.2f} |"]
    return lines


def verdict(ok, by=None):
    return "yes" if ok else ("**no**" + (f", by {by}" if by else ""))


def targets(results, micro_ratio, snap):
    """Issue 7's targets. micro_ratio(fn, depth, mode, threads) -> (leakguard / plain, lsan / clang)."""
    lines = ["\n**Targets** (issue 7; every ratio from this run)\n", "| target | measured | met |", "|---|---|---|"]
    for depth, limit in ((1, 4.0), (25, 7.0)):
        for mode, what in ((1, "nframe = depth"), (2, "nframe = 16, the default")):
            worst = None
            cells = []
            for fn, title in (("malloc_free", "malloc+free"), ("new_delete", "new[]+delete[]")):
                for threads in (1, 2):
                    r, lsan = micro_ratio(fn, depth, mode, threads)
                    if r is None:
                        continue
                    worst = r if worst is None else max(worst, r)
                    cells.append(f"{title} {threads}t {r:.1f}x" + (f" (LSan {lsan:.1f}x)" if lsan else ""))
            if worst is None:
                continue
            lines.append(f"| micro, hot, depth {depth}, {what}: <= {limit:.0f}x plain | {'; '.join(cells)} | "
                         f"{verdict(worst <= limit, f'{worst / limit - 1:.0%}')} |")
    st = whole_stats(results)
    if "plain" in st and "leakguard_default" in st:
        lg, p = st["leakguard_default"], st["plain"]
        w, m = lg["wall"] / p["wall"], lg["rss"] / p["rss"]
        lines.append(f"| whole program, default depth: wall <= 1.3x plain | {w:.2f}x | {verdict(w <= 1.3, f'{w / 1.3 - 1:.0%}')} |")
        lines.append(f"| whole program, default depth: peak RSS <= 1.5x plain | {m:.2f}x | {verdict(m <= 1.5, f'{m / 1.5 - 1:.0%}')} |")
        if "lsan" in st and "plain_clang" in st:
            ls = st["lsan"]["wall"] / st["plain_clang"]["wall"]
            lines.append(f"| whole program: on par with LSan | leakguard {w:.2f}x, LSan {ls:.2f}x wall; "
                         f"RSS {m:.2f}x and {st['lsan']['rss'] / st['plain_clang']['rss']:.2f}x | {verdict(w <= ls * 1.1)} |")
        for tool, k in (("heaptrack", 2.5), ("valgrind", 10.0)):
            if tool in st:
                t = st[tool]["wall"] / p["wall"]
                lines.append(f"| whole program: {k:g}x cheaper than {tool} (ratios' ratio) | {tool} {t:.2f}x / leakguard {w:.2f}x "
                             f"= {t / w:.1f}x | {verdict(t / w >= k, f'{1 - (t / w) / k:.0%} short')} |")
    su = suite_stats(results)
    if "plain" in su and "leakguard" in su:
        r = su["leakguard"]["run_us"] / su["plain"]["run_us"]
        lines.append(f"| 1000-test suite: <= 1.3x plain | {r:.2f}x ({su['plain']['run_us'] / 1000:.1f} -> "
                     f"{su['leakguard']['run_us'] / 1000:.1f} ms) | {verdict(r <= 1.3, f'{r / 1.3 - 1:.0%}')} |")
    ch = check_stats(results)
    if 10000 in ch and 1000000 in ch:
        c10 = ch[10000]["fail"] - ch[10000]["off"]
        c1m = ch[1000000]["fail"] - ch[1000000]["off"]
        t10, t1m = ch[10000]["fail"], ch[1000000]["fail"]
        flat = t1m <= 2 * t10
        lines.append(f"| per-test check flat within 2x from 10k to 1M live blocks | per test with the listener {t10:.1f} -> "
                     f"{t1m:.1f} us ({t1m / t10:.2f}x); the check alone {c10:.1f} -> {c1m:.1f} us | {verdict(flat)} |")
    if snap:
        per = snap["tracer_bytes_per_block_without_stacks"]
        worst = snap.get("tables_bytes_per_block_max") or per
        lines.append(f"| <= 32 B tracer memory per live block plus interned stacks | {per:.1f} B at {snap['blocks']:,} blocks; "
                     f"worst while growing from 64k: {worst:.1f} B | {verdict(max(per, worst) <= 32)} |")
    return lines


def plots(results, plots_dir, plt):
    figs = []
    st = whole_stats(results)
    if "plain" in st:
        labels, wall, rss = [], [], []
        for config, label, base in WHOLE:
            if config in st and base in st and config not in ("plain", "plain_clang"):
                labels.append(SHORT[config])
                wall.append(st[config]["wall"] / st[base]["wall"])
                rss.append(st[config]["rss"] / st[base]["rss"])
        fig, ax = plt.subplots(figsize=(9, 4.5))
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], wall, 0.4, label="wall time")
        ax.bar([x + 0.2 for x in xs], rss, 0.4, label="peak RSS")
        ax.axhline(1.3, color="grey", linestyle=":", linewidth=1)
        ax.axhline(1.5, color="grey", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("x plain build, same run (log)")
        ax.set_title("whole program: tools side by side")
        for x, v in zip(xs, wall):
            ax.text(x - 0.2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(("whole_program.png", fig, "whole program, tools side by side"))
    su = suite_stats(results)
    ch = check_stats(results)
    if su or ch:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8))
        names = [("plain", "plain"), ("leakguard_off", "leakguard\noff"), ("leakguard", "leakguard\nchecking")]
        vals = [(label, su[c]["run_us"] / su[c]["tests"]) for c, label in names if c in su]
        a1.bar([v[0] for v in vals], [v[1] for v in vals])
        a1.set_ylabel("us per test")
        a1.set_title("1000-test GoogleTest suite", fontsize=9)
        blocks = sorted(ch)
        for mode, label in (("off", "no listener"), ("fail", "listener"),
                            ("repeat2", "listener, --gtest_repeat=2 (both runs)")):
            a2.plot(blocks, [ch[b].get(mode) for b in blocks], marker="o", label=label)
        a2.set_xscale("log")
        a2.set_xlabel("blocks live before the test")
        a2.set_ylabel("us per empty test")
        a2.set_ylim(bottom=0)
        a2.set_title("per-test check against heap size", fontsize=9)
        a2.legend(fontsize=8)
        fig.tight_layout()
        figs.append(("tests.png", fig, "test suite and per-test check"))
    path = os.path.join(results, "report_cost.json")
    if os.path.exists(path):
        with open(path) as f:
            r = json.load(f)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        steps = [("snapshot", "snapshot_ms"), ("growth_report", "report_ms"), ("format_text", "text_ms")]
        bottom = [0, 0]
        for label, key in steps:
            v = [r["first_" + key], r["again_" + key]]
            ax.bar(["first time", "again"], v, bottom=bottom, label=label)
            bottom = [bottom[0] + v[0], bottom[1] + v[1]]
        ax.set_ylabel("ms")
        ax.set_title(f"a {r['sites']}-site, {r['frames']}-frame report", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(("report_cost.png", fig, "report cost"))
    out = []
    for name, fig, alt in figs:
        path = os.path.join(plots_dir, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(f"![{alt}](bench/plots/{name})")
    return out

#!/usr/bin/env python3
"""Runs the whole-program, test-suite and per-test-check benchmarks for scripts/bench.sh, each
configuration as its own process, interleaved: every repetition runs every configuration once,
in an order rotated from one repetition to the next, so that a slow spell of the machine falls on
all of them. Writes one JSON object per process run (JSON lines) to RESULTS/whole.jsonl,
RESULTS/suite.jsonl and RESULTS/check_heap.jsonl, with the load average at its start.

Usage: run_tools.py BUILD_BENCH_DIR RESULTS_DIR   (env: REPS=3, WHOLE_N=500000, VALGRIND_REPS=2)
Wall time is measured around the process; peak RSS is wait4()'s ru_maxrss, the largest resident
set of the process and of its children (heaptrack's analysis helper is one).
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(cmd, env_extra=None, stdout=subprocess.PIPE):
    env = dict(os.environ)
    for k in ("LEAKGUARD_START", "LEAKGUARD_MODE", "LEAKGUARD_REPORT_DIR", "LSAN_OPTIONS", "ASAN_OPTIONS"):
        env.pop(k, None)
    env.update(env_extra or {})
    before = load()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    out = p.stdout.read().decode() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "max_rss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status),
            "load_before": before, "stdout": out}


def bench_json(out):
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("bench-json: "):
            return json.loads(line[len("bench-json: "):])
        if line.startswith("{"):
            return json.loads(line)
    return {}


def rotated(items, r):
    k = r % len(items)
    return items[k:] + items[:k]


def whole(b, results, reps):
    n = os.environ.get("WHOLE_N", "500000")
    tmp = tempfile.mkdtemp(prefix="lg-heaptrack-")
    configs = [
        ("plain", [f"{b}/bench_whole_plain", n], {}),
        ("leakguard_off", [f"{b}/bench_whole_traced", n], {}),
        ("leakguard_d1", [f"{b}/bench_whole_traced", n], {"LEAKGUARD_START": "1"}),
        ("leakguard_default", [f"{b}/bench_whole_traced", n], {"LEAKGUARD_START": "16"}),
        ("heaptrack", ["heaptrack", "-o", f"{tmp}/ht", f"{b}/bench_whole_plain", n], {}),
        ("valgrind", ["valgrind", "--tool=memcheck", "--leak-check=full", "-q", f"{b}/bench_whole_plain", n], {}),
        ("plain_clang", [f"{b}/bench_whole_clang", n], {}),
        ("lsan", [f"{b}/bench_whole_lsan", n], {}),
        ("asan", [f"{b}/bench_whole_asan", n], {}),
    ]
    valgrind_reps = int(os.environ.get("VALGRIND_REPS", "2"))
    with open(os.path.join(results, "whole.jsonl"), "w") as f:
        for r in range(reps):
            for name, cmd, env in rotated(configs, r):
                if not os.path.exists(cmd[0]) and not any(os.access(os.path.join(d, cmd[0]), os.X_OK)
                                                          for d in os.environ["PATH"].split(":")):
                    continue
                if name == "valgrind" and r >= valgrind_reps:
                    continue
                print(f"bench: whole program, repetition {r + 1} of {reps}: {name}", file=sys.stderr)
                res = run(cmd, env)
                res.update({"config": name, "rep": r, "n": int(n), "program": bench_json(res.pop("stdout"))})
                f.write(json.dumps(res) + "\n")
                f.flush()
                for leftover in os.listdir(tmp):
                    os.unlink(os.path.join(tmp, leftover))


def suite(b, results, reps):
    runs_dir = tempfile.mkdtemp(prefix="leakguard-bench-runs-")
    configs = [
        ("plain", [f"{b}/bench_suite_plain"], {}),
        ("leakguard_off", [f"{b}/bench_suite_traced"], {"LEAKGUARD_MODE": "off"}),
        ("leakguard", [f"{b}/bench_suite_traced"], {}),
        ("leakguard_run_file", [f"{b}/bench_suite_traced"], {"LEAKGUARD_REPORT_DIR": runs_dir}),
        # The repeated-run rule: every test twice, its net change judged across the runs.
        ("plain_repeat2", [f"{b}/bench_suite_plain", "--gtest_repeat=2"], {}),
        ("leakguard_repeat2", [f"{b}/bench_suite_traced", "--gtest_repeat=2"], {}),
        # One test a process, as ctest runs the tests gtest_discover_tests found: the process's
        # start-up (tracing its static initialisation among it) is then paid by every test.
        ("plain_one", [f"{b}/bench_suite_plain", "--gtest_filter=Suite0.Case0"], {}),
        ("leakguard_one", [f"{b}/bench_suite_traced", "--gtest_filter=Suite0.Case0"], {}),
    ]
    with open(os.path.join(results, "suite.jsonl"), "w") as f:
        for r in range(reps * 5):  # short runs: more of them
            for name, cmd, env in rotated(configs, r):
                res = run(cmd, env)
                res.update({"config": name, "rep": r, "program": bench_json(res.pop("stdout"))})
                f.write(json.dumps(res) + "\n")
                for leftover in os.listdir(runs_dir):
                    os.unlink(os.path.join(runs_dir, leftover))
    os.rmdir(runs_dir)


def check_heap(b, results, reps):
    configs = []
    for blocks in ("10000", "100000", "1000000"):
        configs.append((f"off/{blocks}", [f"{b}/bench_check_heap", blocks], {"LEAKGUARD_MODE": "off"}))
        configs.append((f"fail/{blocks}", [f"{b}/bench_check_heap", blocks], {}))
        configs.append((f"off_repeat2/{blocks}", [f"{b}/bench_check_heap", blocks, "--gtest_repeat=2"],
                        {"LEAKGUARD_MODE": "off"}))
        configs.append((f"repeat2/{blocks}", [f"{b}/bench_check_heap", blocks, "--gtest_repeat=2"], {}))
        # One test alone: what the rule costs once per process (its first symbolization), apart
        # from what it costs every further test.
        one = "--gtest_filter=Heap/Empty.Test/0"
        configs.append((f"off_repeat2_one/{blocks}", [f"{b}/bench_check_heap", blocks, "--gtest_repeat=2", one],
                        {"LEAKGUARD_MODE": "off"}))
        configs.append((f"repeat2_one/{blocks}", [f"{b}/bench_check_heap", blocks, "--gtest_repeat=2", one], {}))
    with open(os.path.join(results, "check_heap.jsonl"), "w") as f:
        for r in range(reps * 3):
            for name, cmd, env in rotated(configs, r):
                res = run(cmd, env)
                res.update({"config": name, "rep": r, "program": bench_json(res.pop("stdout"))})
                f.write(json.dumps(res) + "\n")


def main():
    b, results = sys.argv[1], sys.argv[2]
    reps = int(os.environ.get("REPS", "3"))
    what = sys.argv[3:] or ["whole", "suite", "check_heap"]
    if "suite" in what:
        print("bench: 1000-test suite", file=sys.stderr)
        suite(b, results, reps)
    if "check_heap" in what:
        print("bench: per-test check against heap size", file=sys.stderr)
        check_heap(b, results, reps)
    if "whole" in what:
        whole(b, results, reps)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs leakguard's benchmarks and writes their results: bench/results/*.json, the tables in
# bench/results/tables.md (pasted into BENCHMARKS.md) and, when matplotlib is there, bench/plots/.
# Plain and traced builds of each micro benchmark run alternately, REPS times (default 3); the
# tables take the fastest run of each, and every ratio divides figures of this one run.
# Usage: scripts/bench.sh            (BUILD_DIR=build-bench by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
reps=${REPS:-3}
out=bench/results

scripts/install-deps.sh >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLEAKGUARD_BUILD_TESTS=OFF \
  -DLEAKGUARD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target bench_micro_plain bench_micro_traced bench_snapshot bench_capture \
  bench_classify >/dev/null

mkdir -p "$out"
rm -f "$out"/micro_*.json
for r in $(seq "$reps"); do
  for variant in plain traced; do
    echo "bench: micro $variant, run $r of $reps" >&2
    "$build/bench/bench_micro_$variant" --benchmark_min_time=0.2 \
      --benchmark_out="$out/micro_${variant}_$r.json" --benchmark_out_format=json >/dev/null
  done
done
echo "bench: stack capture methods" >&2
"$build/bench/bench_capture" --benchmark_min_time=0.2 --benchmark_out="$out/capture.json" \
  --benchmark_out_format=json >/dev/null
echo "bench: snapshot of 1M live blocks" >&2
"$build/bench/bench_snapshot" >"$out/snapshot.json"
echo "bench: leak check against heap size" >&2
"$build/bench/bench_classify" >"$out/classify.jsonl"

{ grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'; echo "nproc: $(nproc)"; date -u +"date: %F %R UTC"; } >"$out/machine.txt"
# Debian's python3 (the one python3-matplotlib installs into), not a pyenv one.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" bench/report.py "$out" bench/plots >"$out/tables.md"
cat "$out/tables.md"

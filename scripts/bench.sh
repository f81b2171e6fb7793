#!/usr/bin/env bash
# Runs leakguard's benchmarks and writes their results: bench/results/ (micro.json, capture_*.json,
# snapshot.json, classify.jsonl, whole.jsonl, suite.jsonl, check_heap.jsonl, report_cost.json,
# machine.txt), the tables made from them in bench/results/tables.md, the "Results" section of
# BENCHMARKS.md (between its RESULTS markers) and, when matplotlib is there, one PNG per
# benchmark family in bench/plots/.
#
# Besides leakguard it runs the tools a user would otherwise pick, on the same code in the same
# run: LSan and ASan (clang -fsanitize=leak/address), heaptrack and valgrind memcheck. They are
# Debian packages that scripts/install-bench-deps.sh installs (the build and the tests do not need
# them); a tool that is missing is left out of the tables.
#
# The machine is noisy, so only ratios from one run mean anything. The plain and traced builds
# of the micro benchmark run alternately, one (function, depth) group at a time, REPS times
# (default 5), the order swapped every repetition; the tables take the fastest run of each
# figure, and also give the spread of the per-repetition ratios.
#
# Usage: scripts/bench.sh     (env: BUILD_DIR=build-bench, BUILD_TYPE=RelWithDebInfo, REPS=5,
#                              MIN_TIME=0.2 seconds per benchmark, TOOL_REPS=5 repetitions of the
#                              process-level benchmarks, WHOLE_N=500000 insertions per map,
#                              NO_DOC=1 to leave BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
build_type=${BUILD_TYPE:-RelWithDebInfo}
reps=${REPS:-5}
min_time=${MIN_TIME:-0.2}
out=bench/results

scripts/install-deps.sh >&2
scripts/install-bench-deps.sh >&2 || echo "bench: could not install the reference tools; they are left out" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="$build_type" -DLEAKGUARD_BUILD_TESTS=OFF \
  -DLEAKGUARD_BUILD_EXAMPLES=OFF >/dev/null
targets=(bench_micro_plain bench_micro_traced bench_snapshot bench_capture bench_classify
         bench_whole_plain bench_whole_traced bench_whole_count bench_suite_plain bench_suite_traced
         bench_check_heap bench_report_cost)
have_libunwind=0
if grep -q '^LIBUNWIND_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt"; then
  targets+=(bench_capture_libunwind)
  have_libunwind=1
fi
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# The same benchmark sources built by clang, plain and with each sanitizer, with the same flags.
# The sanitizers' ratios are to the plain clang build.
clang_variants=()
if command -v clang++ >/dev/null; then
  flags=(-O2 -g -fno-omit-frame-pointer)
  for v in clang lsan asan; do
    case $v in clang) san=();; lsan) san=(-fsanitize=leak);; asan) san=(-fsanitize=address);; esac
    if clang++ "${flags[@]}" "${san[@]}" bench/whole.cpp -o "$build/bench/bench_whole_$v" 2>/dev/null; then
      [ "$v" = asan ] || clang++ "${flags[@]}" "${san[@]}" bench/micro.cpp -o "$build/bench/bench_micro_$v" \
        -lbenchmark -lpthread 2>/dev/null || true
    fi
  done
  for v in clang lsan; do [ -x "$build/bench/bench_micro_$v" ] && clang_variants+=("$v"); done
fi

raw="$build/bench-raw"  # one JSON per process run; merged into $out/micro.json
mkdir -p "$out" "$raw"
rm -f "$raw"/micro_*.json "$out"/*.json "$out"/*.jsonl
groups=()
for fn in malloc_free new_delete; do
  for depth in 1 8 25 64; do groups+=("^$fn/depth:$depth/"); done
done
groups+=("^malloc_free_cold/")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for r in $(seq "$reps"); do
  order=(plain traced "${clang_variants[@]}")
  [ $((r % 2)) -eq 0 ] && order=(traced plain "${clang_variants[@]}")
  echo "bench: micro, repetition $r of $reps (${order[*]} alternately, ${#groups[@]} groups)" >&2
  for g in "${!groups[@]}"; do
    for variant in "${order[@]}"; do
      LSAN_OPTIONS=exitcode=0 "$build/bench/bench_micro_$variant" --benchmark_filter="${groups[$g]}" \
        --benchmark_min_time="$min_time" --benchmark_out="$raw/micro_${variant}_${r}_$g.json" \
        --benchmark_out_format=json >/dev/null 2>&1
    done
  done
done
echo "bench: micro took $(( $(date +%s) - started )) s" >&2
for r in 1 2 3; do
  echo "bench: stack capture methods, run $r of 3" >&2
  "$build/bench/bench_capture" --benchmark_min_time=0.1 --benchmark_out="$out/capture_$r.json" \
    --benchmark_out_format=json >/dev/null 2>&1
  if [ "$have_libunwind" = 1 ]; then
    "$build/bench/bench_capture_libunwind" --benchmark_min_time=0.1 \
      --benchmark_out="$out/capture_libunwind_$r.json" --benchmark_out_format=json >/dev/null 2>&1
  fi
done
echo "bench: snapshot of 1M live blocks" >&2
"$build/bench/bench_snapshot" >"$out/snapshot.json"
echo "bench: leak check against heap size" >&2
"$build/bench/bench_classify" >"$out/classify.jsonl"
echo "bench: report cost" >&2
"$build/bench/bench_report_cost" >"$out/report_cost.json"
"$build/bench/bench_whole_count" "${WHOLE_N:-500000}" >"$out/whole_count.json"
REPS=${TOOL_REPS:-5} /usr/bin/python3 bench/run_tools.py "$build/bench" "$out"

{
  grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
  grep -m1 "cpu family" /proc/cpuinfo | sed 's/.*: /cpu family: /'
  grep -m1 "^model\s" /proc/cpuinfo | sed 's/.*: /cpu model: /'
  echo "nproc: $(nproc)"
  echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "build type: $build_type (bench sources: -O2 -g -fno-omit-frame-pointer)"
  echo "compiler: $(c++ --version | head -1)"
  echo "glibc: $(ldd --version | head -1 | sed 's/.* //')"
  date -u +"date: %F %R UTC"
  echo "repetitions: $reps (micro), ${TOOL_REPS:-5} (process-level benchmarks)"
  echo "tools: $(clang++ --version 2>/dev/null | head -1 | sed 's/ (.*//'); heaptrack $(heaptrack --version 2>/dev/null | sed 's/.* //'); $(valgrind --version 2>/dev/null)"
} >"$out/machine.txt"
# Debian's python3 (the one python3-matplotlib installs into), not a pyenv one.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" bench/report.py "$out" bench/plots "$raw" >"$out/tables.md"
if [ "${NO_DOC:-0}" != 1 ]; then
  "$python" - "$out/tables.md" BENCHMARKS.md <<'PY'
import sys
tables, doc = sys.argv[1], sys.argv[2]
text = open(doc).read()
begin, end = "<!-- RESULTS BEGIN -->", "<!-- RESULTS END -->"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(doc, "w").write(head + begin + "\n" + open(tables).read().rstrip() + "\n" + end + tail)
    print("bench: BENCHMARKS.md results section regenerated", file=sys.stderr)
else:
    print("bench: BENCHMARKS.md has no RESULTS markers; paste bench/results/tables.md", file=sys.stderr)
PY
fi
cat "$out/tables.md"

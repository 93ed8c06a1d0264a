#!/usr/bin/env bash
# The report and info functions run from traps and `bash -c`, which shellcheck 0.9 takes for
# unreachable code:
# shellcheck disable=SC2317
# gpu-check.sh: builds xmrc-lens for CUDA on a machine with an NVIDIA GPU, runs the numeric
# tests on the GPU (tests/gpu.rs), a trace of a real prompt on the GPU and the bf16 benchmarks,
# and writes one report with the raw logs beside it.
#
# Usage (from anywhere):
#   scripts/gpu-check.sh [OUT_DIR]      # default OUT_DIR: gpu-report/ in the repository
#
# Writes OUT_DIR/report.md and, beside it, one log per step (NN-step.log), the bench JSON lines
# (bench-PRESET-TOKENS.json), the GPU memory samples of each bench run and the trace JSON. Exits
# 0 when every step passed; otherwise 1, naming the failed steps on stderr and in the report
# (which is written whatever happens, also after Ctrl-C).
#
# Steps, each with a time limit (seconds) and the time expected on one H200 machine (16 cores):
#   info      GPU, driver, nvcc, cargo, commit                       limit  30, expected ~2 s
#   toolchain nvcc on PATH, else the pinned wheels of                limit 240, expected 0 s
#             .ci/cuda-toolchain (needs pip access; ~330 MB)                   (30-90 s for wheels)
#   build     cargo build --release --features cuda (binary and      limit 480, expected 4-5 min
#             the tests/gpu.rs test binary)                                    cold, <30 s warm
#   model     the real test model: XMRC_LENS_REAL_MODEL, else        limit 180, expected 0-20 s
#             scripts/fetch_real_model.sh (93 MB); when neither works the real-model tests print
#             a note and pass, and the report says the model was missing (a warning, not a failure)
#   models    in the background, while the next steps run: the       limit 420, expected ~3 min
#             random-weight bench models (qwen2.5-0.5b, 1 GB; llama-3.1-8b, 16 GB) in bf16
#   tests     XMRC_LENS_GPU=1 cargo test --release --features cuda  limit 300, expected 1-2 min
#             --test gpu -- --nocapture --test-threads=1 (fails if a test skipped itself)
#   trace     xmrc-lens trace --device cuda --dtype bf16 on the real limit 120, expected 10-20 s
#             model (else the tiny Qwen2 GGUF), XQuAD mini sample 0, en-x de, oracle included
#   bench-*   xmrc-lens bench --device cuda --dtype bf16 --json-only, with GPU memory sampled by
#             nvidia-smi every 200 ms:
#               qwen2.5-0.5b at 1500 and 4000 tokens                 limit 120 each, ~15 s each
#               llama-3.1-8b at 1500 and 4000 tokens (after models)  limit 180 each, ~45 s each
# Expected in all: ~11-12 minutes with a cold build, ~6-7 with a warm one. A total budget caps
# the run: a step gets at most what is left of it, and a step with under 10 s left is not
# started (it counts as failed).
#
# Environment:
#   XMRC_GPU_CHECK_BUDGET_S   total budget in seconds (default 720)
#   XMRC_GPU_CHECK_SKIP       step names to leave out, e.g. "bench" or "build tests"; a word
#                             matches every step it starts (bench: all four bench steps)
#   XMRC_GPU_CHECK_PREBUILT   a folder with `xmrc-lens` and `gpu` (the tests/gpu.rs test binary,
#                             from `cargo test --release --features cuda --test gpu --no-run`)
#                             built elsewhere for this machine: toolchain and build are skipped,
#                             and the tests read the fixtures of this tree (XMRC_LENS_REPO)
#   XMRC_LENS_REAL_MODEL      the real test model (SmolLM2-135M-Instruct Q4_1 GGUF)
#   CUDA_COMPUTE_CAP          default: nvidia-smi's compute capability (90 on an H100/H200)
#   CARGO_TARGET_DIR          honoured as cargo does (default: target/ in the repository)
#
# The CUDA wheels of .ci/cuda-toolchain hold nvcc and headers but no CUDA libraries: with them
# the link step needs the machine's libcuda (driver), cuBLAS, cuRAND and NVRTC on the linker's
# path. Not run on a GPU yet (no device was lent when it was written).
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
out="${1:-gpu-report}"
mkdir -p "$out" || { echo "gpu-check: cannot create $out" >&2; exit 1; }
out="$(cd "$out" && pwd)"
report="$out/report.md"
budget="${XMRC_GPU_CHECK_BUDGET_S:-720}"
skip_words="${XMRC_GPU_CHECK_SKIP:-}"
prebuilt="${XMRC_GPU_CHECK_PREBUILT:-}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
started_at="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
start=$SECONDS

say() { echo "gpu-check: $*" >&2; }

# One row per step: name, status, seconds, limit, log, note.
step_names=() step_status=() step_secs=() step_limits=() step_logs=() step_notes=()
failed=() warnings=()
step_no=0

record() { # name status seconds limit log note
  step_names+=("$1") step_status+=("$2") step_secs+=("$3") step_limits+=("$4")
  step_logs+=("$5") step_notes+=("$6")
  case "$2" in
    ok | skipped) ;;
    warning) warnings+=("$1: $6") ;;
    *) failed+=("$1") ;;
  esac
  say "step $1: $2 after $3 s${6:+ ($6)}"
}

skipped_by_user() { # name
  local word
  for word in $skip_words; do
    case "$1" in "$word"*) return 0 ;; esac
  done
  return 1
}

# The limit a step gets: its own, or what is left of the budget. Prints 0 when under 10 s.
limit_for() {
  local left=$((budget - (SECONDS - start)))
  if ((left < 10)); then echo 0; elif (($1 > left)); then echo "$left"; else echo "$1"; fi
}

# run_step NAME LIMIT COMMAND...: runs COMMAND under the limit, its output into the step's log
# (and the terminal). Returns the command's status (124 on timeout).
last_log=""
run_step() {
  local name="$1" own="$2"
  shift 2
  step_no=$((step_no + 1))
  last_log="$(printf '%02d-%s.log' "$step_no" "$name")"
  if skipped_by_user "$name"; then
    record "$name" skipped 0 "$own" "" "XMRC_GPU_CHECK_SKIP"
    return 3
  fi
  local limit
  limit="$(limit_for "$own")"
  if [ "$limit" = 0 ]; then
    record "$name" "not run" 0 "$own" "" "out of time (budget ${budget} s)"
    return 4
  fi
  say "step $name (limit $limit s): $*"
  local t0=$SECONDS rc
  timeout --kill-after=15 "$limit" "$@" 2>&1 | tee "$out/$last_log"
  rc=${PIPESTATUS[0]}
  local secs=$((SECONDS - t0))
  if [ "$rc" = 0 ]; then
    record "$name" ok "$secs" "$limit" "$last_log" ""
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    record "$name" TIMEOUT "$secs" "$limit" "$last_log" "killed at the limit"
  else
    record "$name" FAILED "$secs" "$limit" "$last_log" "exit status $rc"
  fi
  return "$rc"
}

# Marks the last recorded step as failed after the fact (a check on its output).
fail_last() { # note
  local i=$((${#step_names[@]} - 1))
  if [ "${step_status[$i]}" = ok ]; then
    step_status[i]=FAILED
    step_notes[i]="$1"
    failed+=("${step_names[$i]}")
    say "step ${step_names[$i]}: FAILED ($1)"
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# The status of the step recorded last under NAME (empty when none).
status_of() {
  local i found=""
  for i in "${!step_names[@]}"; do
    if [ "${step_names[$i]}" = "$1" ]; then found="${step_status[$i]}"; fi
  done
  echo "$found"
}

# Turns the last recorded step from a failure into a warning.
warn_last() { # note
  local i=$((${#step_names[@]} - 1)) name kept=()
  name="${step_names[$i]}"
  case "${step_status[$i]}" in ok | skipped | warning) return ;; esac
  step_status[i]=warning
  step_notes[i]="$1"
  warnings+=("$name: $1")
  for i in "${!failed[@]}"; do
    if [ "${failed[$i]}" != "$name" ]; then kept+=("${failed[$i]}"); fi
  done
  failed=("${kept[@]}")
}

# ------------------------------------------------------------------------------------------
# The report, written at the end and on interruption.

json_field() { # file key: a number or string of a one-line JSON object (python3, else sed)
  if have python3; then
    python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("-" if v is None else (f"{v:.3f}" if isinstance(v, float) else v))
PY
  else
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1" | head -n 1
  fi
}

bench_rows=()
write_report() {
  {
    echo "# GPU check"
    echo
    echo "- started: $started_at; wall time $((SECONDS - start)) s of a ${budget} s budget"
    echo "- commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')" \
      "($(git -C "$repo" status --porcelain 2>/dev/null | wc -l | tr -d ' ') changed files in the tree)"
    echo "- GPU: ${gpu_desc:-not found}"
    echo "- CUDA compiler: ${nvcc_desc:-none}; CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-unset}"
    echo "- real model: ${real_desc:-not looked for}"
    echo "- result: $(if [ ${#failed[@]} = 0 ]; then echo "all steps passed"; else echo "FAILED: ${failed[*]}"; fi)"
    if [ ${#warnings[@]} != 0 ]; then
      echo "- warnings: ${warnings[*]}"
    fi
    echo
    echo "## Steps"
    echo
    echo "| step | status | seconds | limit (s) | log | note |"
    echo "|---|---|---|---|---|---|"
    local i
    for i in "${!step_names[@]}"; do
      echo "| ${step_names[$i]} | ${step_status[$i]} | ${step_secs[$i]} | ${step_limits[$i]} | ${step_logs[$i]:+[${step_logs[$i]}](${step_logs[$i]})} | ${step_notes[$i]} |"
    done
    echo
    echo "## Numerics on the GPU (tests/gpu.rs)"
    echo
    if [ -n "${tests_log:-}" ] && [ -f "$out/$tests_log" ]; then
      # With --test-threads=1 a test's first line of output follows its name ("test x ... ").
      grep -o 'gpu-check: .*' "$out/$tests_log" | sed 's/^gpu-check: /- /'
      grep -o 'note: .*' "$out/$tests_log" | sort -u | sed 's/^/- /'
      grep -h '^test result:' "$out/$tests_log" | sed 's/^/- /'
      if grep -q 'panicked at\|FAILED' "$out/$tests_log"; then
        echo
        echo "Failures:"
        echo
        echo '```'
        grep -h -A4 'panicked at' "$out/$tests_log" | head -n 80
        grep -h '^test .* FAILED$' "$out/$tests_log"
        echo '```'
      fi
    else
      echo "Not run."
    fi
    echo
    echo "## Benchmark (bf16 on the GPU, random-weight models)"
    echo
    if [ ${#bench_rows[@]} = 0 ]; then
      echo "Not run."
    else
      echo "| preset | tokens | load (s) | prefill (tok/s) | decode (tok/s) | AttnLRP trace (s) | trace / prefill | peak GPU memory (MiB) | peak RSS (MiB) |"
      echo "|---|---|---|---|---|---|---|---|---|"
      printf '%s\n' "${bench_rows[@]}"
      echo
      echo "Peak GPU memory: the largest \`memory.used\` nvidia-smi reported every 200 ms during"
      echo "the run, less what was in use before it; it includes the CUDA context and whatever"
      echo "candle's allocator held. Peak RSS is host memory (\`VmHWM\`)."
    fi
    local shown=0
    for i in "${!step_names[@]}"; do
      case "${step_status[$i]}" in ok | skipped | warning) continue ;; esac
      if [ -n "${step_logs[$i]}" ] && [ -f "$out/${step_logs[$i]}" ]; then
        if [ "$shown" = 0 ]; then
          echo
          echo "## Failed steps: the end of their logs"
          shown=1
        fi
        echo
        echo "### ${step_names[$i]} (${step_status[$i]}: ${step_notes[$i]})"
        echo
        echo '```'
        tail -n 30 "$out/${step_logs[$i]}"
        echo '```'
      fi
    done
  } >"$report"
}

finish() {
  local code=$?
  trap - EXIT INT TERM
  if [ -n "${models_pid:-}" ]; then stop_models; fi
  if [ -n "${sampler_pid:-}" ]; then kill "$sampler_pid" 2>/dev/null; fi
  write_report
  say "report: $report"
  if [ ${#failed[@]} != 0 ]; then
    say "FAILED steps: ${failed[*]}"
    if [ "$code" = 0 ]; then code=1; fi
  fi
  exit "$code"
}
trap finish EXIT
trap 'failed+=("interrupted"); exit 130' INT TERM

# ------------------------------------------------------------------------------------------
# info: what machine this is (~2 s).

gpu_info() {
  echo "## nvidia-smi"
  if have nvidia-smi; then
    nvidia-smi || return 1
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv || return 1
  else
    echo "nvidia-smi: not found (no NVIDIA driver on this machine?)"
    return 1
  fi
  echo "## nvcc"
  if have nvcc; then nvcc --version; else echo "not on PATH"; fi
  echo "## cargo"
  cargo --version && rustc --version
  echo "## cpu"
  nproc
  echo "## commit"
  git -C "$repo" log -1 --format='%H %s' 2>/dev/null
  git -C "$repo" status --short 2>/dev/null | head -n 50
}
export -f gpu_info have
export repo
run_step info 30 bash -c gpu_info
gpu_desc="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')"
  if [ -n "$cap" ]; then export CUDA_COMPUTE_CAP="$cap"; fi
fi
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"

# ------------------------------------------------------------------------------------------
# toolchain and build: the CUDA compiler, then the binary and the GPU test binary.

bin="$target_dir/release/xmrc-lens"
gpu_tests=""
if [ -n "$prebuilt" ]; then
  bin="$prebuilt/xmrc-lens"
  gpu_tests="$prebuilt/gpu"
  export XMRC_LENS_REPO="$repo"
  for f in "$bin" "$gpu_tests"; do
    [ -x "$f" ] || { say "XMRC_GPU_CHECK_PREBUILT: $f is missing or not executable"; failed+=("prebuilt"); exit 1; }
  done
  record toolchain skipped 0 0 "" "prebuilt binaries in $prebuilt"
  record build skipped 0 0 "" "prebuilt binaries in $prebuilt"
  nvcc_desc="not needed (prebuilt)"
else
  if have nvcc; then
    nvcc_desc="$(nvcc --version | grep -o 'release [0-9.]*' | head -n 1) at $(command -v nvcc)"
    export CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
    record toolchain ok 0 0 "" "nvcc on PATH, CUDA_HOME=$CUDA_HOME"
  else
    run_step toolchain 240 bash "$repo/.ci/cuda-toolchain" env
    if [ "$(status_of toolchain)" = ok ]; then
      # The export lines are the last lines of the log (pip's messages go before them).
      eval "$(grep '^export ' "$out/$last_log")"
      nvcc_desc="$(nvcc --version | grep -o 'release [0-9.]*' | head -n 1) from the pinned wheels (.ci/cuda-toolchain)"
    fi
  fi
  if [ -n "${CUDA_HOME:-}" ] && [ -d "$CUDA_HOME/lib64" ]; then
    export LD_LIBRARY_PATH="$CUDA_HOME/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  if have nvcc; then
    run_step build 480 bash -c 'cargo build --release --locked --features cuda --bin xmrc-lens &&
      cargo test --release --locked --features cuda --test gpu --no-run'
  else
    record build "not run" 0 480 "" "no nvcc: neither on PATH nor from the wheels"
  fi
fi
# Built: prebuilt binaries, a build that passed, or one the caller skipped over an earlier one.
built=0
case "$(status_of build)" in
  ok | skipped) if [ -x "$bin" ]; then built=1; fi ;;
esac

# ------------------------------------------------------------------------------------------
# model: the real test model, if it can be had.

real_model="${XMRC_LENS_REAL_MODEL:-}"
if [ -n "$real_model" ]; then
  real_desc="$real_model (XMRC_LENS_REAL_MODEL)"
  [ -f "$real_model" ] || { real_desc="XMRC_LENS_REAL_MODEL=$real_model is not a file"; failed+=("model"); }
else
  run_step model 180 bash "$repo/scripts/fetch_real_model.sh"
  # The path is the script's only stdout line, the last line of the log.
  candidate="$(tail -n 1 "$out/$last_log" 2>/dev/null)"
  if [ "$(status_of model)" = ok ] && [ -f "$candidate" ]; then
    real_model="$candidate"
    real_desc="$real_model (scripts/fetch_real_model.sh)"
  else
    # A warning, not a failure: the real-model tests print a note and pass without it.
    warn_last "no real model: the real-model tests print a note and pass"
    real_desc="missing: XMRC_LENS_REAL_MODEL unset and scripts/fetch_real_model.sh did not fetch it"
  fi
fi
if [ -n "$real_model" ]; then export XMRC_LENS_REAL_MODEL="$real_model"; fi

# ------------------------------------------------------------------------------------------
# models (background): the bench models, written while the tests run.

models_pid=""
models_log="bench-models.log"
models_started=$SECONDS
models_limit=420
if [ "$built" = 1 ] && ! skipped_by_user bench && ! skipped_by_user models; then
  say "writing the bench models in the background (log: $models_log)"
  # Each writer under its own timeout, so that stopping this subshell's children stops them.
  (
    for preset in qwen2.5-0.5b llama-3.1-8b; do
      timeout --kill-after=15 "$models_limit" "$bin" bench --preset "$preset" --dtype bf16 \
        --device cpu --build-only || exit 1
    done
  ) >"$out/$models_log" 2>&1 &
  models_pid=$!
fi

# Stops the background writer: its `timeout` children (which pass the signal on), then itself.
stop_models() {
  [ -n "$models_pid" ] || return 0
  if have pkill; then pkill -TERM -P "$models_pid" 2>/dev/null; fi
  kill "$models_pid" 2>/dev/null
  wait "$models_pid" 2>/dev/null
  models_pid=""
}

# ------------------------------------------------------------------------------------------
# tests: tests/gpu.rs on the GPU.

tests_log=""
if [ "$built" = 1 ]; then
  export XMRC_LENS_GPU=1 HF_HUB_OFFLINE=1
  if [ -n "$gpu_tests" ]; then
    run_step tests 300 "$gpu_tests" --nocapture --test-threads=1
  else
    run_step tests 300 cargo test --release --locked --features cuda --test gpu -- --nocapture --test-threads=1
  fi
  tests_log="$last_log"
  if [ -f "$out/$tests_log" ] && grep -q 'note: gpu test .* skipped' "$out/$tests_log"; then
    fail_last "tests skipped themselves: no CUDA device answered (see the notes)"
  fi
  unset XMRC_LENS_GPU
else
  record tests "not run" 0 300 "" "no build"
fi

# ------------------------------------------------------------------------------------------
# trace: one real prompt through the whole pipeline on the GPU.

if [ "$built" = 1 ]; then
  trace_model="${real_model:-$repo/tests/fixtures/models/gguf/tiny-qwen2.q8_0.gguf}"
  run_step trace 120 "$bin" trace --model "$trace_model" --data "$repo/tests/fixtures/xquad-mini" \
    --sample 0 --scenario en-x --lang de --device cuda --dtype bf16 --out "$out/trace.json"
else
  record trace "not run" 0 120 "" "no build"
fi

# ------------------------------------------------------------------------------------------
# bench: bf16 on the GPU, GPU memory sampled by nvidia-smi.

sampler_pid=""
bench_step() { # preset tokens limit
  local preset="$1" tokens="$2" name="bench-$1-$2" base=0 peak="-" json
  local mem="$out/$name.gpumem"
  if skipped_by_user "$name"; then
    record "$name" skipped 0 "$3" "" "XMRC_GPU_CHECK_SKIP"
    return
  fi
  if have nvidia-smi; then
    base="$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -n 1)"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 200 >"$mem" 2>/dev/null &
    sampler_pid=$!
  fi
  run_step "$name" "$3" "$bin" bench --preset "$preset" --device cuda --dtype bf16 \
    --tokens "$tokens" --json-only
  if [ -n "$sampler_pid" ]; then
    kill "$sampler_pid" 2>/dev/null
    wait "$sampler_pid" 2>/dev/null
    sampler_pid=""
    peak="$(sort -n "$mem" 2>/dev/null | tail -n 1)"
    if [ -n "$peak" ] && [ -n "$base" ]; then peak=$((peak - base)); else peak="-"; fi
  fi
  json="$out/$name.json"
  if [ -f "$out/$last_log" ] && grep '^{' "$out/$last_log" | tail -n 1 >"$json" && [ -s "$json" ]; then
    bench_rows+=("| $preset | $tokens | $(json_field "$json" load_s) | $(json_field "$json" prefill_fast_tok_s) | $(json_field "$json" decode_tok_s) | $(json_field "$json" trace_s) | $(json_field "$json" trace_over_prefill) | $peak | $(json_field "$json" peak_rss_mb) |")
  else
    rm -f "$json"
    bench_rows+=("| $preset | $tokens | failed: see ${last_log} | | | | | $peak | |")
  fi
}

# Waits for the background model writer (within its own limit); returns its status.
wait_models() {
  [ -n "$models_pid" ] || return 0
  local waited=$SECONDS
  while kill -0 "$models_pid" 2>/dev/null; do
    if ((SECONDS - models_started >= models_limit)) || [ "$(limit_for 60)" = 0 ]; then
      stop_models
      record models TIMEOUT $((SECONDS - models_started)) "$models_limit" "$models_log" "the bench models were not written in time"
      return 1
    fi
    sleep 2
  done
  wait "$models_pid"
  local rc=$?
  models_pid=""
  if [ "$rc" = 0 ]; then
    record models ok $((SECONDS - models_started)) "$models_limit" "$models_log" "in the background; waited $((SECONDS - waited)) s for it"
  else
    record models FAILED $((SECONDS - models_started)) "$models_limit" "$models_log" "exit status $rc"
  fi
  return "$rc"
}

if [ "$built" = 1 ]; then
  # The benches wait for the writer, so that its disk traffic does not blur their load times.
  models_ok=1
  wait_models || models_ok=0
  bench_step qwen2.5-0.5b 1500 120
  bench_step qwen2.5-0.5b 4000 120
  for tokens in 1500 4000; do
    if [ "$models_ok" = 1 ]; then
      bench_step llama-3.1-8b "$tokens" 180
    else
      record "bench-llama-3.1-8b-$tokens" "not run" 0 180 "" "the 8B model was not written (step models)"
    fi
  done
else
  for name in qwen2.5-0.5b-1500 qwen2.5-0.5b-4000 llama-3.1-8b-1500 llama-3.1-8b-4000; do
    record "bench-$name" "not run" 0 0 "" "no build"
  done
fi
# finish (the EXIT trap) writes the report and sets the exit status.
exit 0

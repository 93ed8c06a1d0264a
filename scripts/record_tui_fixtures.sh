#!/usr/bin/env bash
# Records the SampleTrace fixtures the explorer's snapshot tests draw (tests/fixtures/traces):
# the offline demo model (seed 0, and seed 1 as the "other model" of compare mode) on the
# bundled demo set, sample 0, en-x, 0-shot, v1. Rerun after a change of the trace layout.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/xmrc-lens"
cargo build --release --quiet
a=$("$bin" bench --preset demo --seed 0 --build-only | tail -1)
b=$("$bin" bench --preset demo --seed 1 --build-only | tail -1)
out=tests/fixtures/traces
mkdir -p "$out"
trace() { # model lang file
  "$bin" trace --model "$1" --data assets/demo --sample 0 --scenario en-x --lang "$2" \
    --shots 0 --format v1 --reference-pool 4 --out "$out/$3" 2>/dev/null
}
trace "$a" de demo-de-0.json
trace "$b" de demo-b-de-0.json
for lang in zh ar hi; do
  trace "$a" "$lang" "demo-$lang-0.json"
done
# Compact, without the pooled hidden states (no view draws them): about 200 KB a file.
python3 - "$out"/*.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    with open(path) as f:
        trace = json.load(f)
    trace["hidden"] = None
    # Named for what it is, not by the cache folder it was built in.
    seed = "1" if "demo-b-" in path else "0"
    trace["model"]["name"] = f"demo-seed{seed}"
    with open(path, "w") as f:
        json.dump(trace, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
PY
ls -l "$out"

#!/usr/bin/env bash
# Model build benchmark at national scale: 153 LAs x 4,500 persons (~690,000 children) of
# synthetic SEN2 loaded into a lake, then a full rebuild of every model (dimensions, facts,
# KPIs, data-quality checks, suppression, one Delta commit per table) timed with its peak RSS;
# and, in the same run, DuckDB running the same SQL in the same order over the same Parquet
# files (bench/models_duckdb.py). Prints both and the ratio.
#
#   bench/models.sh [LAS] [PERSONS_PER_LA] [THREADS]     (defaults 153 4500 2)
#
# Needs: cargo, python3 with duckdb (pip install duckdb), GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
LAS="${1:-153}"
PERSONS="${2:-4500}"
THREADS="${3:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sendlake-target}"
WORK="${BENCH_DIR:-/var/tmp/sendlake-bench-models}"
MODELS="$(pwd)/pipelines/models"
rm -rf "$WORK"; mkdir -p "$WORK"
python3 -c "import duckdb" 2>/dev/null || pip install --quiet duckdb

cargo build --release --locked -p sendlake-cli
BIN="$CARGO_TARGET_DIR/release/sendlake"

echo "== generating and loading $LAS LAs x $PERSONS persons"
"$BIN" --log-format json sim sen2 --las "$LAS" --persons-per-la "$PERSONS" --seed 42 --out "$WORK/sen2" > /dev/null
rm -f "$WORK/sen2/summary.json"
cat > "$WORK/bench.toml" <<TOML
[pipeline]
name = "national-models-bench"
[store]
url = "lake"
[[sources]]
type = "sen2_xml"
name = "sen2_returns"
path = "sen2"
[models]
dir = "$MODELS"
TOML
"$BIN" --log-format json run "$WORK/bench.toml" --demo --no-progress > /dev/null 2> "$WORK/load.err" \
  || { tail -20 "$WORK/load.err" >&2; exit 1; }
# The inputs and SQL for DuckDB, from the lake as it now is (not timed).
"$BIN" --log-format json run "$WORK/bench.toml" --demo --no-progress --models-only \
  --export-model-sql "$WORK/export" > /dev/null 2> "$WORK/export.err" \
  || { tail -20 "$WORK/export.err" >&2; exit 1; }

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" \
    || { tail -20 "$WORK/$name.err" >&2; exit 1; }
  read -r secs kb < "$WORK/$name.time"
  awk -v n="$name" -v s="$secs" -v kb="$kb" 'BEGIN { printf "%-17s wall %7.1f s   peak RSS %6.0f MiB\n", n, s, kb/1024 }'
}

echo "== full model rebuild ($THREADS threads for DuckDB; sendlake uses every core)"
# A batch job: mimalloc keeps freed memory for reuse instead of handing it back to the OS
# after a second, which halves the kernel's page zeroing (docs/benchmarks.md,
# docs/operations.md); the deployment sets the same.
MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:--1}" \
  measure sendlake "$BIN" --log-format json run "$WORK/bench.toml" --demo --no-progress --models-only
# DuckDB twice: tables materialised in memory only, and each also written to Parquet (ZSTD)
# as sendlake writes each to the lake: the like-for-like comparison.
measure duckdb python3 bench/models_duckdb.py "$WORK/export" "$THREADS"
rm -rf "$WORK/duckdb-out"; mkdir -p "$WORK/duckdb-out"
measure duckdb-persisted python3 bench/models_duckdb.py "$WORK/export" "$THREADS" "$WORK/duckdb-out"
python3 - "$WORK" <<'PY'
import glob, json, sys
work = sys.argv[1]
wall = lambda name: float(open(f"{work}/{name}.time").read().split()[0])
s, d, p = wall("sendlake"), wall("duckdb"), wall("duckdb-persisted")
manifest = sorted(glob.glob(f"{work}/lake/_runs/*.json"))[-1]
m = json.load(open(manifest))
models = m["models"]["models"]
print(f"sendlake / duckdb wall: {s / d:.2f}x (tables in memory); {s / p:.2f}x (tables written to Parquet)")
print(f"status {m['status']}, {sum(x['status'] == 'committed' for x in models)} of {len(models)} tables committed, "
      f"{sum(c['status'] == 'pass' for c in m['models']['checks'])} of {len(m['models']['checks'])} checks passed")
duck = {x["model"]: x for x in json.loads(open(f"{work}/duckdb.out").read())["models"]}
print(f"{'model':<24}{'rows':>12}{'sendlake s':>12}{'query':>8}{'checks':>8}{'commit':>8}{'duckdb s':>10}")
for x in sorted(models, key=lambda x: -x["millis"])[:12]:
    dd = duck.get(x["table"], {})
    print(f"{x['table']:<24}{x['rows']:>12}{x['millis'] / 1000:>12.2f}{x.get('query_millis', 0) / 1000:>8.2f}"
          f"{x.get('check_millis', 0) / 1000:>8.2f}{x.get('commit_millis', 0) / 1000:>8.2f}{dd.get('secs', float('nan')):>10.2f}")
total = lambda k: sum(x.get(k, 0) for x in models) / 1000
print(f"all models: query {total('query_millis'):.1f} s, checks {total('check_millis'):.1f} s, commit {total('commit_millis'):.1f} s")
mismatch = [x["table"] for x in models if x["table"] in duck and duck[x["table"]]["rows"] != x["rows"]]
print("row counts equal in both engines" if not mismatch else f"row counts differ: {mismatch}")
PY

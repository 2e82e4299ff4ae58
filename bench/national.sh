#!/usr/bin/env bash
# National-scale benchmark: 153 LAs x 4,500 persons (~700,000 persons), SEN2 XML to committed
# restricted Delta tables, end to end; and, in the same run, the Python lxml -> pyarrow ->
# Parquet baseline on the same files. Prints wall time, MB/s of XML and peak RSS for both.
#
#   bench/national.sh [LAS] [PERSONS_PER_LA]      (defaults 153 4500)
#
# Needs: cargo, python3 with lxml and pyarrow (pip install lxml pyarrow), GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
LAS="${1:-153}"
PERSONS="${2:-4500}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sendlake-target}"
WORK="${BENCH_DIR:-/var/tmp/sendlake-bench}"
rm -rf "$WORK"; mkdir -p "$WORK"

cargo build --release --locked -p sendlake-cli
BIN="$CARGO_TARGET_DIR/release/sendlake"

echo "== generating $LAS LAs x $PERSONS persons"
"$BIN" --log-format json sim sen2 --las "$LAS" --persons-per-la "$PERSONS" --seed 42 --out "$WORK/sen2"
rm -f "$WORK/sen2/summary.json"
BYTES=$(du -sb "$WORK/sen2" | cut -f1)
cat > "$WORK/bench.toml" <<TOML
[pipeline]
name = "national-bench"
[store]
url = "lake"
[[sources]]
type = "sen2_xml"
name = "sen2_returns"
path = "sen2"
TOML

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || { cat "$WORK/$name.err" >&2; exit 1; }
  read -r secs kb < "$WORK/$name.time"
  awk -v n="$name" -v s="$secs" -v kb="$kb" -v b="$BYTES" 'BEGIN { printf "%-10s wall %7.1f s   %7.1f MB/s   peak RSS %6.0f MiB\n", n, s, b/1e6/s, kb/1024 }'
}

echo "== XML: $((BYTES / 1000000)) MB"
measure sendlake "$BIN" --log-format json run "$WORK/bench.toml" --demo --no-progress
measure python python3 bench/python_baseline.py "$WORK/sen2" "$WORK/python-out"
grep -ho '"reconciled": [a-z]*' "$WORK/lake/_runs/"*.json | head -1

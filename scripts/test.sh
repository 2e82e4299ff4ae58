#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Rust installed. Installs what the tests need
# (xmllint and Chromium from Debian's packages, the Azurite and s3rver storage emulators from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sendlake-target}"

# Debian packages the tests need: xmllint (validating generated SEN2 returns against the XSDs)
# and Chromium (rendering the run report headless).
need=()
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
{ command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]} and apt-get is not available: install them and re-run" >&2
    exit 1
  fi
fi

# Storage emulators for the tests that run the demo against object stores, each started and
# stopped by its own test: Azurite, Microsoft's Azure Storage emulator (tests/it/azure.rs), and
# s3rver, an S3 emulator (tests/it/s3.rs). Installed from npm once, outside the clone, at
# pinned versions.
tools="${SENDLAKE_TOOLS:-/var/tmp/sendlake-tools}"
# npm_tool PACKAGE@VERSION BIN: installs the package unless BIN is there; prints BIN's path.
npm_tool() {
  if ! [ -x "$tools/node_modules/.bin/$2" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "installing nodejs and npm (for the storage emulators)" >&2
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "installing $1 into $tools" >&2
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent "$1" >&2
  fi
  echo "$tools/node_modules/.bin/$2"
}
SENDLAKE_AZURITE="${SENDLAKE_AZURITE:-$(npm_tool azurite@3.35.0 azurite-blob)}"
SENDLAKE_S3RVER="${SENDLAKE_S3RVER:-$(npm_tool s3rver@3.7.1 s3rver)}"
export SENDLAKE_AZURITE SENDLAKE_S3RVER

# One Arrow stack: no second arrow/parquet/datafusion/object_store version in the build.
dups=$(cargo tree --locked -e normal --prefix none 2>/dev/null | grep -E '^(arrow|parquet|datafusion|object_store)[a-z_-]* v' \
  | awk '{print $1, $2}' | sort -u | awk '{print $1}' | uniq -d || true)
if [ -n "$dups" ]; then
  echo "two Arrow stacks in the dependency tree:" >&2
  echo "$dups" >&2
  exit 1
fi

# Pipeline files must stay valid. A production pipeline reads the folders its deployment mounts
# under /data/inbound, and `check` requires every source folder to exist, so here it is checked
# only where they exist; tests/it/deploy/pipelines.rs checks it everywhere, with temporary
# folders in their place.
pipelines=()
for p in pipelines/*.toml; do
  if [ ! -d /data/inbound ] && grep -q '"/data/inbound/' "$p"; then
    echo "$p: reads /data/inbound, which this machine lacks: checked by tests/it/deploy/pipelines.rs"
    continue
  fi
  pipelines+=("$p")
done
# Built for the whole workspace with its tests, as `cargo test --workspace` builds, so features
# resolve alike and no dependency is compiled twice (`-p sendlake-cli` alone would rebuild
# DataFusion with other features).
cargo build --quiet --workspace --bins --tests --locked
"$CARGO_TARGET_DIR/debug/sendlake" check "${pipelines[@]}"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo's own last line is for the last binary only).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"

#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Rust installed. Installs what the tests need
# (xmllint and Chromium from Debian's packages, Azurite from npm).
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

# Azurite, Microsoft's Azure Storage emulator, for the test that runs the demo against Azure
# Blob Storage (tests/it/azure.rs; the test starts and stops its own instance). Installed from
# npm once, outside the clone, at a pinned version.
if [ -z "${SENDLAKE_AZURITE:-}" ]; then
  tools="${SENDLAKE_TOOLS:-/var/tmp/sendlake-tools}"
  if ! [ -x "$tools/node_modules/.bin/azurite-blob" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "installing nodejs and npm (for Azurite)"
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "installing Azurite into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent azurite@3.35.0
  fi
  export SENDLAKE_AZURITE="$tools/node_modules/.bin/azurite-blob"
fi

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
# only where they exist; tests/it/deploy.rs checks it everywhere, with temporary folders in
# their place.
pipelines=()
for p in pipelines/*.toml; do
  if [ ! -d /data/inbound ] && grep -q '"/data/inbound/' "$p"; then
    echo "$p: reads /data/inbound, which this machine lacks: checked by tests/it/deploy.rs"
    continue
  fi
  pipelines+=("$p")
done
cargo run --quiet --locked -p sendlake-cli -- check "${pipelines[@]}"

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

#!/usr/bin/env bash
# Volcano's two set-up commands, for a fresh machine where nothing is installed by hand:
#
#   deploy/dev.sh up     build, bring up the embedded stack (broker, Temporal dev server,
#                        pipeline) and send a first request through it
#   deploy/dev.sh test   build, bring up a separate test stack, run every test, bring it down
#   deploy/dev.sh down   stop the stack `up` started
#   deploy/dev.sh fuzz [SECONDS_PER_TARGET] [LIBFUZZER_ARG...]
#                        run every cargo-fuzz target in fuzz/ for that long (default 60)
#
# Everything it installs is pinned. Tools (the nisshi broker, temporal) and the cargo target directory live
# in a per-user cache (~/.cache/volcano, override with VOLCANO_CACHE) shared by every clone on
# the machine, CI's included, so only the first run pays for the cold builds.
set -euo pipefail
cd "$(dirname "$0")/.."

export VOLCANO_CACHE="${VOLCANO_CACHE:-$HOME/.cache/volcano}"
export VOLCANO_TOOLS_DIR="${VOLCANO_TOOLS_DIR:-$VOLCANO_CACHE/tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$VOLCANO_CACHE/target}"
BIN="$CARGO_TARGET_DIR/debug/volcano"
CARGO_FUZZ_VERSION="0.13.1"
# The REST API's property-based test (tests/ingress.rs); every Python package it pulls in is
# pinned in deploy/schemathesis-requirements.txt.
SCHEMATHESIS_VERSION="4.32.5"

# Debian packages the -sys crates need (librdkafka: gcc, make, perl, zlib, OpenSSL for TLS
# and SASL SCRAM; librocksdb-sys: g++ and libclang for bindgen), and stunnel4, the TLS front
# the tests put before the broker; pinned to the Debian 12 versions this was built with.
DEBIAN_PACKAGES=(
  "libclang-dev=1:14.0-55.7~deb12u1"
  "pkg-config=1.8.1-1"
  "zlib1g-dev=1:1.2.13.dfsg-1"
  "libssl-dev=3.0.22-1~deb12u2"
  "make=4.3-4.1"
  "g++=4:12.2.0-3"
  "stunnel4=3:5.68-2+deb12u1"
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

system_packages() {
  local missing=() spec name
  for spec in "${DEBIAN_PACKAGES[@]}"; do
    name="${spec%%=*}"
    dpkg -s "$name" >/dev/null 2>&1 || missing+=("$spec")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    # A point release can replace a pinned version; take the archive's current one then.
    say "pinned versions unavailable; installing the current ones"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}"
  fi
}

build() {
  say "building volcano (cargo, target dir $CARGO_TARGET_DIR)"
  cargo build --locked --workspace --all-targets
}

cmd_up() {
  system_packages
  build
  say "bringing up the stack (first run installs nisshi and temporal into $VOLCANO_TOOLS_DIR)"
  "$BIN" stack up
  say "sending a first request: volcano send \"Calculate 42 + 58\""
  "$BIN" send "Calculate 42 + 58"
  cat <<EOM

Volcano is up. Send requests with
  $BIN send "Calculate 42 + 58"
  $BIN send --session s1 "Calculate 42 + 58"
or through the REST API:
  curl -s localhost:8080/api/v1/execute -H 'Authorization: Bearer volcano-example-main-ingress' \\
    -H 'Content-Type: application/json' -d '{"text": "Calculate 42 + 58"}'
Status: $BIN stack status     Logs: .volcano/logs/     Stop: deploy/dev.sh down
EOM
}

cmd_down() {
  [ -x "$BIN" ] || build
  "$BIN" stack down
}

# schemathesis in a venv of its own in the tools cache; a marker file says it is complete.
schemathesis_tool() {
  local root="$VOLCANO_TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -f "$root/.installed" ]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $root (python venv + pip)"
    rm -rf "$root"
    python3 -m venv "$root"
    "$root/bin/pip" install --quiet --disable-pip-version-check \
      -r deploy/schemathesis-requirements.txt
    touch "$root/.installed"
  fi
  export VOLCANO_SCHEMATHESIS="$root/bin/schemathesis"
}

cmd_test() {
  system_packages
  build
  schemathesis_tool
  # The test stack has its own ports and data folder, so it never touches a running dev stack.
  local dir=".volcano/test"
  mkdir -p "$dir"
  cat > "$dir/volcano.toml" <<EOT
[stack]
broker_port = 19092
temporal_port = 17233
data_dir = "$PWD/$dir"
EOT
  export VOLCANO_CONFIG="$PWD/$dir/volcano.toml"
  trap '"$BIN" stack down || true' EXIT
  say "bringing up the test stack"
  "$BIN" stack up --no-pipeline
  # Each test keeps its topics' state in ${TMPDIR:-/tmp}/volcano-test-* for a post-mortem;
  # those of runs that ended over two hours ago (CI's limit is 90 minutes) are dropped, so
  # that repeated runs do not fill the disk.
  find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'volcano-test-*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
  say "running the tests"
  local status=0
  cargo test --locked --workspace --no-fail-fast -- --test-threads 4 || status=$?
  say "bringing the test stack down"
  local groups
  groups="$(cat "$dir"/run/*.pid 2>/dev/null || true)"
  "$BIN" stack down
  trap - EXIT
  # `stack down` must leave no process of the stack running: no member of any group it started.
  for g in $groups; do
    if pgrep -g "$g" >/dev/null; then
      echo "processes of the stack are still running after 'stack down':" >&2
      pgrep -a -g "$g" >&2
      status=1
    fi
  done
  return $status
}

# cargo-fuzz, pinned, installed once per machine into the tools cache like the broker.
cargo_fuzz_install() {
  local root="$VOLCANO_TOOLS_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION"
  if [ ! -x "$root/bin/cargo-fuzz" ]; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION into $root"
    CARGO_TARGET_DIR="$VOLCANO_CACHE/build/cargo-fuzz-$CARGO_FUZZ_VERSION" \
      cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$root"
  fi
  export PATH="$root/bin:$PATH"
}

cmd_fuzz() {
  local seconds="${1:-60}"
  [ $# -gt 0 ] && shift
  case "$seconds" in
    '' | *[!0-9]*) echo "usage: deploy/dev.sh fuzz [SECONDS_PER_TARGET] [LIBFUZZER_ARG...]" >&2; exit 2 ;;
  esac
  system_packages
  cargo_fuzz_install
  # The toolchain is stable; cargo-fuzz needs -Z flags (sanitizer, coverage passes).
  export RUSTC_BOOTSTRAP=1
  # Instrumented builds get their own target dir, so they never invalidate the normal one.
  export CARGO_TARGET_DIR="$VOLCANO_CACHE/fuzz-target"
  say "building the fuzz targets (target dir $CARGO_TARGET_DIR)"
  cargo fuzz build --fuzz-dir fuzz
  local target failed=()
  for target in $(cargo fuzz list --fuzz-dir fuzz); do
    # New inputs go to a corpus in the cache; fuzz/corpus/<target> holds the checked-in seeds
    # only (the corpus replay test in pipeline/tests runs them on every `cargo test`).
    local work="$VOLCANO_CACHE/fuzz-corpus/$target"
    mkdir -p "$work"
    say "fuzzing $target for ${seconds}s (corpus $work + fuzz/corpus/$target)"
    # A unit that runs over a minute is reported as a stall (the huge-regex seed of
    # `definition` takes ~15 s under ASan on a busy machine).
    if ! cargo fuzz run --fuzz-dir fuzz "$target" "$work" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 "$@"; then
      failed+=("$target")
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    return 1
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  test) cmd_test ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  *) echo "usage: deploy/dev.sh up | test | down | fuzz [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

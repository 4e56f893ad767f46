#!/usr/bin/env bash
# The project's single test command: ./scripts/test.sh
#
# Installs what the tests need (Debian packages only when missing, a Python virtualenv in .venv with
# the pinned packages of conformance/requirements.txt), then runs formatting, clippy and the
# workspace tests, builds the node and runs the conformance suites against a fresh node on free
# loopback ports. Safe to run again; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need; the only list of them.
APT_PACKAGES=(python3 python3-venv ca-certificates g++ curl)
VENV=.venv
REQUIREMENTS=conformance/requirements.txt
PYTHON=${PYTHON:-python3}

section() { printf '\n==== %s ====\n' "$*"; }
started=$(date +%s)

section "system packages"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "all present: ${APT_PACKAGES[*]}"
  fi
else
  echo "dpkg-query not found (not Debian?); assuming ${APT_PACKAGES[*]} are available"
fi

section "rust toolchain"
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck source=/dev/null
  . "$HOME/.cargo/env"
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
cargo --version
rustc --version
# One full build, nothing to reuse: incremental caches would only double the disk the build takes.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

section "python virtualenv ($VENV)"
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" >"$stamp"
fi
"$VENV/bin/python" -c 'import pyhandle, sys; print("python", sys.version.split()[0], "pyhandle", pyhandle.__version__)'

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test"
# trace/tests/epcis_differential.rs compares with the reference event hash generator in .venv.
export IDNODE_EPCIS_DIFF_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace

section "fuzz targets build (cargo-fuzz layout; fuzzing itself needs nightly, see fuzz/README.md)"
cargo check --manifest-path fuzz/Cargo.toml --target-dir target

section "build idnode"
cargo build -p idnode --bin idnode

section "conformance: offline checks of the replay logic"
"$VENV/bin/python" conformance/test_rest_replay.py

section "conformance suites ($(($(date +%s) - started)) s so far)"
# run.py's last line is the total "N passed, M failed" of the suites.
"$VENV/bin/python" conformance/run.py

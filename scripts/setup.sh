#!/usr/bin/env bash
# Installs what building and testing Redflag needs on Debian/Ubuntu, idempotently: system packages through apt-get
# (only those missing), and the rustfmt/clippy components. Safe to run again and again; CI runs it every time.
set -euo pipefail

# Build essentials for -sys crates; WebKitGTK for the Tauri desktop crate; Xvfb and WebKitWebDriver for its
# end-to-end test (issue #6). Tesseract and Leptonica with English data for reading screenshots (issue #21), clang
# for the bindings' generator, ImageMagick and a font to render the test images. PostgreSQL's server programs for
# the throw-away clusters of the bridge's store tests (issue #19; the tests start and remove their own, as the
# `postgres` user when run as root), openssl to make the certificates of the TLS test, and prometheus for
# `promtool`, which checks and unit-tests the shipped alerting rules (bridge/deploy/prometheus). Chromium and its
# chromedriver for the operator console's end-to-end test (bridge/tests/console_e2e.rs, issue #20).
packages=(
  build-essential pkg-config curl file
  libwebkit2gtk-4.1-dev libdbus-1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver
  libtesseract-dev libleptonica-dev tesseract-ocr-eng clang libclang-dev imagemagick fonts-dejavu-core
  postgresql openssl prometheus
  chromium chromium-driver
)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: apt-get not found; install the equivalents of: ${packages[*]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is missing; install it with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

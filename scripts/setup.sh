#!/usr/bin/env bash
# Install the Debian packages zentalk-ai needs to build, test and run.
# Idempotent: when everything is present it only checks (dpkg-query) and exits.
# Usage: scripts/setup.sh [--check]   (--check: list what is missing, install nothing)
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libsodium-dev libmicrohttpd-dev libjansson-dev libyaml-dev libcurl4-openssl-dev libpcre2-dev
  libcmocka-dev libjwt-dev libsecp256k1-dev nettle-dev libgnutls28-dev
  libsqlite3-dev libutf8proc-dev libstemmer-dev libexttextcat-dev
  libopendht-c-dev iproute2 iptables
  apertium apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-eu-en
  apertium-hbs-eng apertium-isl-eng apertium-mkd-eng
  curl ca-certificates openssl python3 python3-websockets
  python3-yaml shellcheck
  libpq-dev libhiredis-dev
)
# libopendht-c-dev: the discovery DHT (src/net/dht.c; without it the node
# says "DHT not built" when node.dht_port is set, and test_dht skips);
# iproute2: `ip link set lo up` in the tests' private network namespace;
# iptables: the firewall of test_outbound's worker namespace (accepts no
# inbound connection; without it that part is a counted skip).
# clang + its runtime give the libFuzzer targets and the sanitizer build;
# systemd gives systemd-analyze (test_systemd_unit skips without it).
# The Vulkan loader, glslc and Mesa's lavapipe (a CPU Vulkan device) build
# and test the Vulkan compute backend (src/engine/vulkan; off without them).
# Node.js and Chromium run the OpenAI client and dashboard browser tests
# (test_web_clients skips without them; the npm packages they use are
# pinned tarballs that scripts/data.sh fetches, no npm install).
# postgresql and redis-server: the real servers the tests of the shared
# store and queue start on loopback ports (tests/common/zt_test_servers.h;
# without them those tests skip, saying why).
OPTIONAL=(clang libclang-rt-14-dev wrk systemd libvulkan-dev glslc mesa-vulkan-drivers nodejs chromium
  postgresql redis-server)

missing=()
check() {
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
}
check "${PACKAGES[@]}"
required_missing=("${missing[@]+"${missing[@]}"}")
check "${OPTIONAL[@]}"

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  printf 'missing: %s\n' "${missing[*]}"
  exit 1
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: run as root, or install them: sudo apt-get install ${missing[*]}" >&2
    [ ${#required_missing[@]} -eq 0 ] && { echo "setup: (all optional; going on without them)" >&2; exit 0; }
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package lists are older than a day or absent.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  "${SUDO[@]}" apt-get update -qq
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # Optional packages may be unavailable on some mirrors: retry with the required ones only.
  if [ ${#required_missing[@]} -gt 0 ]; then
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${required_missing[@]}"
  fi
  echo "setup: some optional packages could not be installed (fuzzers or wrk may be skipped)" >&2
fi
echo "setup: done"

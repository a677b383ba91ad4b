#!/usr/bin/env bash
# Installs everything the project needs to build and test, from Debian 12's packages.
# Idempotent: a second run installs nothing and exits quickly. Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev            # Asio and Beast (never libboost-dev: it is 1.74 and conflicts)
  libprotobuf-dev protobuf-compiler
  libleveldb-dev libsnappy-dev  # LevelDB's CMake package links snappy by name
  libgtest-dev libgmock-dev
  libbenchmark-dev
  clang libclang-rt-14-dev    # libFuzzer target for the core
  lcov                        # line coverage report of raft/
  curl                        # the raft-kv demo and cluster scripts talk HTTP with it
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages hound needs, only those missing.
#   tests/install-deps.sh build   what building hound needs
#   tests/install-deps.sh test    build + what the test suite runs against
set -euo pipefail

build_pkgs=(build-essential autoconf automake pkg-config
	libyaml-dev libproc2-dev libcurl4-openssl-dev libssl-dev libunwind-dev
	libdw-dev libelf-dev zlib1g-dev libmicrohttpd-dev libjansson-dev libsystemd-dev
	python3 curl)
test_pkgs=(clang libclang-rt-14-dev golang-go elfutils gdb awscli
	prometheus prometheus-alertmanager libc6-dbg util-linux procps iproute2 linux-perf
	systemd lintian dpkg-dev debhelper fakeroot man-db apache2-utils wrk bc python3-yaml
	bsdextrautils groff-base binutils chromium strace
	debuginfod)
# JVM targets: real OpenJDK 17 services compiled by the tests (javac), jcmd to cross-check
test_pkgs+=(openjdk-17-jdk-headless)

# malloc tracking: libbpf, and clang -target bpf + bpftool to build the BPF
# object hound embeds; heaptrack is a peer of bench/heap.sh and
# bench/malloc.sh (which also needs bpfcc-tools for memleak-bpfcc).
build_pkgs+=(libbpf-dev clang llvm bpftool)
test_pkgs+=(heaptrack)

# core dumps: libzstd for core.zst, zstd to open them in the tests.
build_pkgs+=(libzstd-dev)
test_pkgs+=(zstd)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")
# Node.js may come from elsewhere than Debian (its npm then conflicts with
# Debian's npm package): only ask for the packages when the commands are missing.
if [ "${1:-build}" = test ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
	want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages and not root; run as root or install them: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/hound-apt-updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
# Packages such as prometheus would start their services on install: keep them down.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ -n "$created_policy" ] && rm -f "$policy"
exit $rc

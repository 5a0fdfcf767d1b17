#!/bin/sh
# build.sh [OUTDIR]: builds the hound Debian package from this source tree.
#
# dpkg-buildpackage wants debian/ at the top of the source tree; hound keeps
# it under packaging/debian. This copies the tree to a temporary directory,
# moves packaging/debian to debian/ there, runs `dpkg-buildpackage -us -uc -b`
# and copies the .deb, .buildinfo and .changes into OUTDIR (default: .).
# DEB_BUILD_OPTIONS defaults to "nocheck" (the test suite runs from the source
# tree); set it to "" to run the unit tests during the build.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hound-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

tree=$work/hound
mkdir "$tree"
# Generated files (configure, caches, objects) are left behind: dh regenerates them.
tar -C "$src" --exclude=.git --exclude=autom4te.cache --exclude='*.o' --exclude='*.a' \
	--exclude=config.status --exclude=config.log -cf - . | tar -C "$tree" -xf -
rm -rf "$tree/debian"
mv "$tree/packaging/debian" "$tree/debian"

jobs=$(nproc 2>/dev/null || echo 1)
(cd "$tree" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS-nocheck} parallel=$jobs" \
	dpkg-buildpackage -us -uc -b)
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/*.deb

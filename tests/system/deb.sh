#!/usr/bin/env bash
# The Debian package: packaging/debian/build.sh builds it with
# dpkg-buildpackage, lintian finds no error, it holds what it promises, and
# the hound it installs (unpacked into a scratch root) checks its own
# default configuration. About 25 s on 2 cores; HOUND_TEST_DEB=0 skips it.
. "$(dirname "$0")/lib.sh"

[ "${HOUND_TEST_DEB:-1}" = 0 ] && skip_all "HOUND_TEST_DEB=0"
for t in dpkg-buildpackage dh lintian; do
	command -v $t >/dev/null || skip_all "$t is missing (dpkg-dev, debhelper, lintian)"
done
dpkg-checkbuilddeps "$TOP_SRCDIR/packaging/debian/control" 2>"$T/builddeps" ||
	skip_all "build dependencies missing: $(cat "$T/builddeps")"

"$TOP_SRCDIR/packaging/debian/build.sh" "$T/out" >"$T/build.log" 2>&1
rc=$?
check "build.sh: dpkg-buildpackage -us -uc -b succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -30 "$T/build.log" | sed 's/^/#   /'
DEB=$(ls "$T"/out/hound_*.deb 2>/dev/null | head -1)
check "a hound .deb is built" [ -f "$DEB" ]
[ -f "$DEB" ] || { done_testing; exit 1; }

lintian --fail-on error "$DEB" >"$T/lintian.out" 2>&1
check "lintian: no errors" [ $? -eq 0 ]
check "lintian: no E: line" bash -c "! grep -q '^E:' '$T/lintian.out'"
grep -E '^[EW]:' "$T/lintian.out" | sed 's/^/#   /'

dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' >"$T/contents"
for f in ./usr/bin/hound ./lib/systemd/system/hound.service ./lib/systemd/system/hound@.service \
	./etc/hound/hound.yaml ./usr/share/man/man8/hound.8.gz ./usr/share/man/man5/hound.yaml.5.gz \
	./var/lib/hound/; do
	check "the package holds $f" grep -q " $f\$" "$T/contents"
done
dpkg-deb -e "$DEB" "$T/control"
check "/etc/hound/hound.yaml is a conffile" grep -qx /etc/hound/hound.yaml "$T/control/conffiles"
# postinst with its continuation lines joined
sed -e ':a' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;ba}' "$T/control/postinst" >"$T/postinst.joined"
check "postinst creates the hound system user" grep -q 'adduser --system --group .* hound$' "$T/postinst.joined"
check "postinst gives /var/lib/hound to it" grep -q 'chown hound:hound /var/lib/hound' "$T/control/postinst"
check "postinst is valid sh" sh -n "$T/control/postinst"
check "the package depends on adduser and the shared libraries" \
	bash -c "dpkg-deb -f '$DEB' Depends | grep -q adduser && dpkg-deb -f '$DEB' Depends | grep -q libunwind8"
check "and on the two libraries it loads with dlopen" \
	bash -c "dpkg-deb -f '$DEB' Depends | grep -q 'libcurl4' && dpkg-deb -f '$DEB' Depends | grep -q libmicrohttpd12"
# Every `enable` in postinst is guarded by was-enabled: an admin's choice is kept, none is made.
check "the unit is not enabled on install" \
	bash -c "! sed '/was-enabled/,+3d' '$T/control/postinst' | grep -q 'deb-systemd-helper enable'"

# Unpacked into a scratch root, the installed binary checks the installed config.
dpkg -x "$DEB" "$T/root"
"$T/root/usr/bin/hound" check -c "$T/root/etc/hound/hound.yaml" >"$T/check.out" 2>"$T/check.err"
check "the packaged hound check accepts the packaged hound.yaml" [ $? -eq 0 ]
[ -s "$T/check.err" ] && sed 's/^/#   /' "$T/check.err"
check "the packaged hound reads /etc/hound/hound.yaml by default" \
	bash -c "'$T/root/usr/bin/hound' --help | grep -q ' /etc/hound/hound.yaml '"
check "the packaged hound is built with sd_notify" bash -c "'$T/root/usr/bin/hound' version | grep -q systemd"

done_testing

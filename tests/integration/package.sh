# SPDX-License-Identifier: ISC
# package.sh -- the Debian package: debian/ agrees with the Makefile, the
# package builds (scripts/package, as `make package` runs it), lintian finds
# nothing, and the unpacked package runs and holds the man pages and the
# bash completion. The build takes seconds, so it runs here, once, in the
# plain variant.
# timeout: 300
. "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^VERSION *:= *//p' "$NT_TOP/Makefile")
is "$(cd "$NT_TOP" && dpkg-parsechangelog -S Version 2>&1)" "$version" \
	"debian/changelog's version is the Makefile's VERSION"

# Each pkg-config module the Makefile links comes from a package named in
# Build-Depends.
bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$NT_TOP/debian/control")
for m in $(sed -n 's/^PKGS *:= *//p' "$NT_TOP/Makefile"); do
	pc=$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)/$m.pc
	pkg=$(dpkg -S "$pc" 2>/dev/null | sed -n '1s/[:,].*//p')
	if [ -z "$pkg" ]; then
		notok "$m: found the package that provides $pc"
		continue
	fi
	case "$bdeps" in
	*"$pkg"[,\ ]*) ok "Build-Depends names $pkg, which provides $m" ;;
	*) notok "Build-Depends names $pkg, which provides $m" ;;
	esac
done

if [ "${NT_VARIANT:-plain}" != plain ]; then
	done_testing
	exit
fi

out=$T_TMP/deb
start=$(date +%s)
"$NT_TOP/scripts/package" "$out" >"$T_TMP/package.log" 2>&1
rc=$?
is "$rc" 0 "scripts/package builds the package"
diag "package built in $(($(date +%s) - start)) s"
[ $rc -eq 0 ] || sed 's/^/# /' "$T_TMP/package.log"
deb=$out/netthreads_${version}_$(dpkg --print-architecture).deb
check "it made $(basename "$deb")" test -f "$deb"

if command -v lintian >/dev/null 2>&1; then
	lintian "$out"/*.changes >"$T_TMP/lintian.log" 2>&1
	sed 's/^/# lintian: /' "$T_TMP/lintian.log" | grep -v 'root privileges'
	is "$(grep -c '^E: ' "$T_TMP/lintian.log")" 0 "lintian reports no errors"
	is "$(grep -c '^W: ' "$T_TMP/lintian.log")" 0 "lintian reports no warnings"
else
	echo "ok - lintian # SKIP lintian not installed (scripts/deps installs it)"
fi

root=$T_TMP/root
dpkg-deb -x "$deb" "$root"
is "$?" 0 "dpkg-deb -x unpacks it"
is "$("$root/usr/bin/download-accelerator" --version 2>&1)" \
	"download-accelerator (netthreads) $version" \
	"the unpacked download-accelerator --version runs"
missing=
for src in "$NT_TOP"/src/bin/*.c; do
	n=$(basename "$src" .c)
	[ -x "$root/usr/bin/$n" ] || missing="$missing bin/$n"
	[ -f "$root/usr/share/man/man1/$n.1.gz" ] || missing="$missing man1/$n.1.gz"
	[ "$(readlink "$root/usr/share/bash-completion/completions/$n")" = netthreads ] ||
		missing="$missing completions/$n"
done
is "$missing" "" "it holds every program, its man page and its completion"
check "it holds the completion script" \
	test -f "$root/usr/share/bash-completion/completions/netthreads"
check "it holds the copyright file" test -f "$root/usr/share/doc/netthreads/copyright"
is "$(find "$root" -name '*.a' -o -name '*.h' | wc -l)" 0 \
	"the library stays inside (no .a, no header)"
check "the tree is left without build products" \
	sh -c '! ls -d "$1"/debian/netthreads "$1"/debian/files "$1"/debian/.debhelper 2>/dev/null' _ "$NT_TOP"
done_testing

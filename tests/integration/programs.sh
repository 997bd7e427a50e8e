# SPDX-License-Identifier: ISC
# programs.sh -- what every program promises alike: --help, --version, exit
# status 2 on a bad option, a man page that renders, and make install.
# timeout: 120
. "$(dirname "$0")/lib.sh"

for p in "$NT_BIN"/*; do
	[ -x "$p" ] || continue
	name=$(basename "$p")
	out=$(timeout 10 "$p" --help 2>/dev/null)
	is "$?" 0 "$name --help exits 0"
	check "$name --help starts with usage" sh -c 'echo "$1" | head -n 1 | grep -q "^usage: $2"' _ "$out" "$name"
	out=$(timeout 10 "$p" --version 2>/dev/null)
	is "$out" "$name (netthreads) $(sed -n 's/^VERSION *:= *//p' "$NT_TOP/Makefile")" "$name --version"
	err=$(timeout 10 "$p" --no-such-option 2>&1 >/dev/null)
	is "$?" 2 "$name rejects an unknown option with status 2"
	check "$name says so on stderr" sh -c 'echo "$1" | head -n 1 | grep -q "^$2: "' _ "$err" "$name"
	man=$NT_TOP/docs/man/$name.1
	check "$name has a man page" test -f "$man"
	if command -v groff >/dev/null 2>&1 && [ -f "$man" ]; then
		w=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
		is "$w" "" "$name man page renders without warnings"
	fi
done

# make install honours DESTDIR and PREFIX and installs programs and pages.
if [ "${NT_VARIANT:-plain}" = plain ]; then
	d=$T_TMP/dest
	make -s -C "$NT_TOP" install DESTDIR="$d" PREFIX=/opt/nt >"$T_TMP/install.log" 2>&1
	is "$?" 0 "make install DESTDIR=... PREFIX=/opt/nt"
	for p in "$NT_BIN"/*; do
		n=$(basename "$p")
		check "installed $n" test -x "$d/opt/nt/bin/$n"
		check "installed $n.1" test -f "$d/opt/nt/share/man/man1/$n.1"
	done
fi
done_testing

#!/bin/bash
# SPDX-License-Identifier: ISC
# names.sh -- files named by the reply's Content-Disposition in all three
# downloaders: plain, quoted, filename* in UTF-8, hostile names kept in
# the folder, collisions numbered, nothing existing replaced or followed,
# and --no-content-disposition and -o taking the URL's or the given name.
# timeout: 120
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator

W=$T_TMP/www
mkdir -p "$W/files"
head -c 300000 /dev/urandom >"$W/files/data"
# cd NAME VALUE: /cd/NAME serves the data with that Content-Disposition.
cd_loc() {
	printf 'location = /cd/%s { alias %s/files/data;\n' "$1" "$W"
	printf '  add_header Content-Disposition "%s"; }\n' "${2//\"/\\\"}"
}
{
	cd_loc plain 'attachment; filename=report.pdf'
	cd_loc quoted 'attachment; filename="my report.pdf"'
	cd_loc ext "attachment; filename=\"fallback.txt\"; filename*=UTF-8''caf%C3%A9%20menu.txt"
	cd_loc dotdot 'attachment; filename="../../escaped"'
	cd_loc hidden 'attachment; filename=".hidden"'
	cd_loc slash 'attachment; filename="a/b"'
	cd_loc empty 'attachment; filename=""'
	cd_loc todata 'attachment; filename=data'
	cd_loc link 'attachment; filename=planted'
} >"$T_TMP/snippet"
nginx_start "$W" "$T_TMP/snippet" || {
	notok "nginx starts"
	done_testing
	exit 1
}
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP" || exit 1

# same FILE: the file holds exactly the served data.
same() { cmp -s "$W/files/data" "$1"; }

for p in "$D" "$TD"; do
	n=$(basename "$p")
	out=$T_TMP/out-$n
	mkdir -p "$out"
	echo keep >"$out/report.pdf.1"
	echo outside >"$T_TMP/target-$n"
	ln -s "$T_TMP/target-$n" "$out/planted"
	printf '%s\n' "$U/cd/plain?id=1" "$U/cd/quoted" "$U/cd/ext" \
		"$U/cd/dotdot" "$U/cd/hidden" "$U/cd/slash" "$U/cd/empty" \
		"$U/cd/plain?id=2" "$U/cd/todata" "$U/files/data" \
		"$U/cd/link" >"$T_TMP/list"
	"$p" -q -i "$T_TMP/list" -d "$out" >"$T_TMP/o" 2>"$T_TMP/e"
	is "$?" 0 "$n: every Content-Disposition URL saved"
	for f in report.pdf "my report.pdf" "café menu.txt" escaped hidden \
		b empty data data.1 report.pdf.2 planted.1; do
		check "$n: saved as '$f'" same "$out/$f"
	done
	is "$(cat "$out/report.pdf.1")" keep \
		"$n: an existing file is never replaced"
	is "$(cat "$T_TMP/target-$n")" outside \
		"$n: a planted symlink is neither followed nor replaced"
	check "$n: nothing lands outside the folder" \
		test ! -e "$T_TMP/escaped" -a ! -e "$out/.hidden"
	is "$(ls "$out" | wc -l)" 13 "$n: no other file in the folder"

	rm -rf "$out"
	printf '%s\n' "$U/cd/plain" >"$T_TMP/list"
	"$p" -i "$T_TMP/list" -d "$out" --no-content-disposition \
		>"$T_TMP/o" 2>"$T_TMP/e"
	check "$n --no-content-disposition: the URL's name" \
		test -f "$out/plain" -a ! -e "$out/report.pdf"
	"$p" -i "$T_TMP/list" -d "$out" >"$T_TMP/o" 2>"$T_TMP/e"
	check "$n: the saved line shows the name used" \
		grep -q " -> $out/report.pdf (" "$T_TMP/o"
done

# The accelerator: over ranges, into -d DIR, never replacing a file.
out=$T_TMP/out-da
"$DA" -q -n 4 -d "$out" "$U/cd/ext?sig=x" >"$T_TMP/o" 2>"$T_TMP/e"
is "$?" 0 "download-accelerator: Content-Disposition URL saved"
check "download-accelerator: filename* wins, in -d DIR" \
	same "$out/café menu.txt"
check "download-accelerator: no .part or state left" \
	test ! -e "$out/ext.part" -a ! -e "$out/ext.part.state"
echo keep >"$out/report.pdf"
"$DA" -n 4 -d "$out" "$U/cd/plain" >"$T_TMP/o" 2>"$T_TMP/e"
check "download-accelerator: an existing name becomes NAME.1" \
	same "$out/report.pdf.1"
is "$(cat "$out/report.pdf")" keep \
	"download-accelerator: the existing file is kept"
check "download-accelerator: says which name it used" \
	grep -q "saved as $out/report.pdf.1" "$T_TMP/e"
check "download-accelerator: the result line is unchanged" \
	grep -q "^$U/cd/plain 4 300000 " "$T_TMP/o"
"$DA" -q -d "$out" "$U/cd/dotdot" >/dev/null 2>&1
check "download-accelerator: a hostile name stays in the folder" \
	same "$out/escaped"
"$DA" -q -d "$out" -o given "$U/cd/plain" >/dev/null 2>&1
check "download-accelerator: -o wins" same "$out/given"
"$DA" -q -d "$out" --no-content-disposition "$U/cd/quoted" >/dev/null 2>&1
check "download-accelerator --no-content-disposition: the URL's name" \
	same "$out/quoted"
check "download-accelerator: -d creates the folder" \
	"$DA" -q -d "$T_TMP/new/sub" "$U/files/data" >/dev/null
done_testing

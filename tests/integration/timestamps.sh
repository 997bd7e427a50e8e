#!/bin/bash
# SPDX-License-Identifier: ISC
# timestamps.sh -- every saved file gets the server's Last-Modified time,
# and -N fetches a file only when the server's is newer, in all three
# downloaders: an unchanged file is skipped and said to be, a changed one
# fetched again.
# timeout: 120
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator

W=$T_TMP/www
mkdir -p "$W"
head -c 300000 /dev/urandom >"$W/big"
echo small >"$W/small"
touch -d "2020-01-02 03:04:05 UTC" "$W/big" "$W/small"
nginx_start "$W" || {
	notok "nginx starts"
	done_testing
	exit 1
}
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP" || exit 1
printf '%s\n' "$U/big" "$U/small" >list
want=$(date -d "2020-01-02 03:04:05 UTC" +%s)
mt() { stat -c %Y "$1"; }

for p in "$D" "$TD"; do
	n=$(basename "$p")
	out=$T_TMP/out-$n
	"$p" -i list -d "$out" >o 2>e
	is "$?" 0 "$n: fetched"
	is "$(mt "$out/big")" "$want" "$n: the file has the server's time"
	"$p" -N -i list -d "$out" >o 2>e
	is "$?" 0 "$n -N: unchanged files: exit 0"
	check "$n -N: an unchanged file is reported as not modified" \
		grep -q "^not modified $U/big -> $out/big (kept)" o
	check "$n -N: the summary counts them" \
		grep -q "^0 saved, 2 not modified, 0 failed" o
	echo "local change" >"$out/small"
	touch -d "2020-01-02 03:04:05 UTC" "$out/small"
	check "$n -N: a skipped file is left as it was" \
		grep -q "local change" "$out/small"
	touch -d "2021-05-06 07:08:09 UTC" "$W/small"
	"$p" -N -i list -d "$out" >o 2>e
	check "$n -N: a file changed on the server is fetched" \
		cmp -s "$W/small" "$out/small"
	is "$(mt "$out/small")" "$(mt "$W/small")" \
		"$n -N: and gets the new time"
	touch -d "2020-01-02 03:04:05 UTC" "$W/small"
done

out=$T_TMP/out-da
"$DA" -q -n 4 -d "$out" "$U/big" >o 2>e
is "$?" 0 "download-accelerator: fetched over ranges"
is "$(mt "$out/big")" "$want" \
	"download-accelerator: the file has the server's time"
"$DA" -N -n 4 -d "$out" "$U/big" >o 2>e
is "$?" 0 "download-accelerator -N: unchanged: exit 0"
check "download-accelerator -N: says it is not modified" \
	grep -q "not modified on the server; $out/big kept" e
check "download-accelerator -N: no result line, no .part" \
	test ! -s o -a ! -e "$out/big.part"
touch -d "2022-01-01 00:00:00 UTC" "$W/big"
"$DA" -q -N -n 4 -d "$out" "$U/big" >o 2>e
is "$(mt "$out/big")" "$(mt "$W/big")" \
	"download-accelerator -N: a changed file is fetched, with its time"
check "download-accelerator -N: the result line" grep -q "^$U/big 4 300000 " o
"$DA" -q -N -d "$out" "$U/small" >o 2>e
check "download-accelerator -N: no file here yet: fetched" \
	cmp -s "$W/small" "$out/small"
done_testing

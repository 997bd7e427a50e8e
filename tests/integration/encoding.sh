#!/bin/bash
# SPDX-License-Identifier: ISC
# encoding.sh -- a body sent with a Content-Encoding nobody asked for is
# never saved still compressed: the batch tools decode it; the
# accelerator refuses compressed ranges, says why, and fetches the whole
# file over one connection, decoded. An encoding that cannot be decoded
# fails and leaves no file.
# timeout: 120
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator

W=$T_TMP/www
mkdir -p "$W"
head -c 200000 /dev/urandom | od -An -tx1 >"$W/plain"
gzip -9 <"$W/plain" >"$W/plain.gz"
python3 -c 'import sys, zlib
sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))' \
	<"$W/plain" >"$W/plain.zz"
# enc NAME FILE ENCODING: /enc/NAME serves FILE as that encoding.
enc() {
	printf 'location = /enc/%s { alias %s/%s; default_type text/plain;\n' \
		"$1" "$W" "$2"
	printf '  add_header Content-Encoding %s; }\n' "$3"
}
{
	enc gzip plain.gz gzip
	enc deflate plain.zz deflate
	enc odd plain.gz x-unknown
} >"$T_TMP/snippet"
nginx_start "$W" "$T_TMP/snippet" || {
	notok "nginx starts"
	done_testing
	exit 1
}
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP" || exit 1
printf '%s\n' "$U/enc/gzip" "$U/enc/deflate" >list
printf '%s\n' "$U/enc/odd" >odd

for p in "$D" "$TD"; do
	n=$(basename "$p")
	"$p" -q -i list -d "out-$n" >o 2>e
	is "$?" 0 "$n: compressed replies fetched"
	check "$n: gzip decoded" cmp -s "$W/plain" "out-$n/gzip"
	check "$n: deflate decoded" cmp -s "$W/plain" "out-$n/deflate"
	"$p" -q -i odd -d "out-$n" >o 2>e
	is "$?" 1 "$n: an encoding it cannot decode fails"
	check "$n: and leaves no file" test ! -e "out-$n/odd"
done

"$DA" -n 4 -d out-da "$U/enc/gzip" >o 2>e
is "$?" 0 "download-accelerator: a compressed file fetched"
check "download-accelerator: decoded" cmp -s "$W/plain" out-da/gzip
check "download-accelerator: says why ranges were refused" \
	grep -q "a range came compressed (Content-Encoding: gzip); ranges of it cannot be stitched; fetching the whole file over one connection" e
check "download-accelerator: the result line has the decoded size" \
	grep -q "^$U/enc/gzip 4 $(stat -c %s "$W/plain") " o
"$DA" -q -d out-da "$U/enc/deflate" >o 2>e
check "download-accelerator: deflate decoded" \
	cmp -s "$W/plain" out-da/deflate
"$DA" -q -d out-da "$U/enc/odd" >o 2>e
is "$?" 1 "download-accelerator: an encoding it cannot decode fails"
check "download-accelerator: and leaves no file" \
	test ! -e out-da/odd -a ! -e out-da/odd.part
done_testing

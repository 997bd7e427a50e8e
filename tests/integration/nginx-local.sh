# SPDX-License-Identifier: ISC
# nginx-local.sh -- the private nginx the other tests stand on: starts on a
# kernel-chosen port, serves ranges, stops with the script.
# timeout: 60
. "$(dirname "$0")/lib.sh"
mkdir -p "$T_TMP/www"
head -c 100000 /dev/urandom >"$T_TMP/www/f.bin"
check "nginx starts" nginx_start "$T_TMP/www"
check "port is a number" sh -c "[ ${NGINX_PORT:-x} -gt 0 ] 2>/dev/null"
curl -s -o "$T_TMP/got" "http://127.0.0.1:$NGINX_PORT/f.bin"
check "whole file served byte for byte" cmp -s "$T_TMP/got" "$T_TMP/www/f.bin"
is "$(curl -s -r 10-19 "http://127.0.0.1:$NGINX_PORT/f.bin" | wc -c)" 10 "ranges served"
pid=$(cat "$T_TMP"/nginx.*/nginx.pid)
"$NT_TOP/scripts/nginx-local" stop "$(dirname "$(ls "$T_TMP"/nginx.*/nginx.pid)")"
check "nginx stops" sh -c "! kill -0 $pid 2>/dev/null"
done_testing

# SPDX-License-Identifier: ISC
# accel-auto.sh -- download-accelerator -n auto (the default) against the
# test server's two regimes: each connection capped (parallel pays: it
# opens many), a link all connections share (it does not: it holds few),
# and --max-connections; -n N stays fixed.
# timeout: 180
. "$(dirname "$0")/lib.sh"
DA=$NT_BIN/download-accelerator
FH=$NT_HELPERS/fault-httpd
W=$T_TMP/www
mkdir -p "$W" "$T_TMP/dl"
head -c $((8 << 20)) /dev/urandom >"$W/f8"
cd "$T_TMP/dl" || exit 1

# get URL [ARGS...]: downloads f8; sets rc (99 for exit 0 with other
# bytes), n (the result line's N), secs.
get() {
	local url=$1 t0=$EPOCHREALTIME out
	shift
	rm -f f8
	out=$(timeout 60 "$DA" -q "$@" "$url" 2>"$T_TMP/err")
	rc=$?
	n=$(echo "$out" | awk '{print $2}')
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
	if [ $rc -eq 0 ] && ! cmp -s f8 "$W/f8"; then
		rc=99 # exit 0 with wrong bytes
	fi
}

fh_start percap -r 1M || { notok "fault-httpd starts"; done_testing; exit 1; }
get "http://127.0.0.1:$PORT/f8"
is "$rc" 0 "per-connection cap 1 MiB/s: auto downloads the file"
check "and opens many connections (most at once: ${n:-none}, ${secs}s)" \
	[ "${n:-0}" -ge 8 ]
get "http://127.0.0.1:$PORT/f8" --max-connections 4
is "$rc/$n" 0/4 "--max-connections 4: never more than four"
get "http://127.0.0.1:$PORT/f8" -n 3
is "$rc/$n" 0/3 "-n 3: three, fixed, as before"

fh_start link --link 4M || { notok "fault-httpd --link starts"; exit 1; }
get "http://127.0.0.1:$PORT/f8"
is "$rc" 0 "a link of 4 MiB/s shared: auto downloads the file"
check "and holds few connections (most at once: ${n:-none}, ${secs}s)" \
	[ "${n:-99}" -le 4 ]
check "at the link's rate, which nothing beats (${secs}s for 2 s)" \
	awk -v t="$secs" 'BEGIN{exit !(t >= 1.8)}'

get "http://127.0.0.1:$PORT/f8" -n auto --max-connections 0
is "$rc" 2 "--max-connections 0: exit 2"
get "http://127.0.0.1:$PORT/f8" -n many
is "$rc" 2 "-n many: exit 2"
check "naming it" grep -q "many" "$T_TMP/err"
done_testing

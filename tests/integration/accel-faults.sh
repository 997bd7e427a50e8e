# SPDX-License-Identifier: ISC
# accel-faults.sh -- download-accelerator against fault-httpd: cut and reset
# connections, 503/429 with Retry-After, Range ignored or answered wrongly,
# a file that changes, stalls, HEAD refused, chunked, redirects, 404, and a
# mirror that keeps failing. Never a corrupt file under the final name.
# timeout: 240
. "$(dirname "$0")/lib.sh"
DA=$NT_BIN/download-accelerator
FH=$NT_HELPERS/fault-httpd
W=$T_TMP/www
mkdir -p "$W" "$T_TMP/dl"
SIZE=$((2 << 20))
head -c $SIZE /dev/urandom >"$W/f2"

fh_start main || { notok "fault-httpd starts"; done_testing; exit 1; }
U=http://127.0.0.1:$PORT
cd "$T_TMP/dl" || exit 1

# get [ARGS...] URL: runs the program; sets rc, out, errs, secs.
get() {
	local t0=$EPOCHREALTIME
	rm -f f2 f2.part f2.part.state
	out=$(timeout 60 "$DA" "$@" 2>"$T_TMP/err")
	rc=$?
	errs=$(cat "$T_TMP/err")
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
}
# good DESC: the run succeeded with the right bytes.
good() {
	if [ $rc -eq 0 ] && cmp -s f2 "$W/f2"; then
		ok "$1 (${secs}s)"
	else
		notok "$1 (rc $rc, ${secs}s): $errs"
	fi
}
# bad DESC PATTERN: the run failed with a message matching PATTERN and
# left nothing under the final name.
bad() {
	if [ $rc -eq 1 ] && [ ! -e f2 ] && echo "$errs" | grep -q "$2"; then
		ok "$1 (${secs}s)"
	else
		notok "$1 (rc $rc): $errs"
	fi
}

get -n 4 "$U/f2"
good "plain download from fault-httpd"

get -n 4 "$U/fault/cut=300000,times=4/f2"
good "connections cut at 300000 bytes: retried, same bytes"
check "only the missing bytes are asked again" \
	grep -q 'bytes=300000-524287' "$T_TMP/main.log"
get -n 4 "$U/fault/cut=rand,seed=7,times=8/f2"
good "connections cut at random points"
get -n 4 "$U/fault/cut=rand,rst,seed=3,times=8/f2"
good "connections reset at random points"
# The retry paths under valgrind (plain build): no leak, no bad access.
rm -f f2
out=$(timeout 120 $NT_VALGRIND "$DA" -q -n 4 "$U/fault/cut=rand,seed=9,times=6/f2" 2>"$T_TMP/err")
rc=$?
check "random cuts under valgrind (when plain): exit 0, same bytes" \
	sh -c '[ "$1" -eq 0 ] && cmp -s f2 "$2"' _ $rc "$W/f2"

get -n 4 "$U/fault/status=503,retry=1,times=2/f2"
good "503 with Retry-After: 1, twice"
check "Retry-After honoured (took ${secs}s, at least 2)" awk -v s="$secs" 'BEGIN{exit !(s >= 1.9)}'
get -n 4 "$U/fault/status=429,retry=1,times=1/f2"
good "429 with Retry-After: 1"
get -n 4 --retries 2 "$U/fault/status=503,id=a/f2"
bad "503 for ever: gives up after --retries" "HTTP 503"
check "and says it gave up" sh -c 'echo "$1" | grep -q "gave up after retries"' _ "$errs"
get "$U/fault/status=404/f2"
bad "404 fails at once" "fault/status=404/f2: HTTP 404 Not Found"
get "$U/fault/status=403/f2"
bad "403 fails at once" "HTTP 403"
check "no retry for a 4xx (took ${secs}s)" awk -v s="$secs" 'BEGIN{exit !(s < 0.5)}'

get -n 4 "$U/fault/norange/f2"
good "Range ignored: one streamed connection"
get -n 4 "$U/fault/chunked/f2"
good "chunked without a length: streamed"
get -n 4 "$U/fault/nohead/f2"
good "HEAD refused: not needed"
get -n 4 "$U/fault/redirect=3/f2"
good "three redirects followed"
get -n 4 "$U/fault/novalidator/f2"
good "no ETag nor Last-Modified"

get -n 4 --retries 2 "$U/fault/badrange/f2"
bad "a Content-Range other than asked is refused" "sent bytes [0-9]*-[0-9]* when asked for"
check "and no .part of wrong bytes is left named as the file" [ ! -e f2 ]
get -n 4 "$U/fault/change=1/f2"
bad "the file changes between requests: never stitched" "file changed on the server during the download"
check "and neither .part nor state is left" sh -c '! ls f2* 2>/dev/null | grep -q .'

get -n 4 --timeout 1 "$U/fault/stall=4,times=4/f2"
good "stalled connections abandoned after --timeout 1"
check "well before the 4 s stall ends (${secs}s)" awk -v s="$secs" 'BEGIN{exit !(s < 3.8)}'

# A mirror that keeps failing is dropped; the other serves everything.
get -n 4 --retries 2 "$U/f2" "$U/fault/status=503,id=m/f2"
good "a mirror answering 503 for ever"
check "is dropped with a warning" sh -c 'echo "$1" | grep -q "status=503,id=m/f2: HTTP 503.*mirror dropped"' _ "$errs"
get -n 4 "$U/f2" "$U/fault/cut=rand,seed=5,times=6,id=c/f2"
good "a mirror cutting connections still contributes"

# Paced server: per-connection cap; 4 connections get about 4x one.
fh_start paced -r 1M || notok "paced fault-httpd starts"
P=http://127.0.0.1:$PORT
get -n 4 "$P/f2"
good "paced server, -n 4"
check "4 connections at 1 MiB/s: 2 MiB in about 0.5 s (${secs}s)" awk -v s="$secs" 'BEGIN{exit !(s >= 0.4 && s < 1.2)}'
get -n 1 "$P/f2"
good "paced server, -n 1"
check "one connection at 1 MiB/s: about 2 s (${secs}s)" awk -v s="$secs" 'BEGIN{exit !(s >= 1.8 && s < 3.5)}'
done_testing

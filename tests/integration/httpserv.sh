# SPDX-License-Identifier: ISC
# httpserv.sh -- fault-httpd (the httpserv module) as curl and raw clients see it.
# timeout: 150
. "$(dirname "$0")/lib.sh"
FH=$NT_HELPERS/fault-httpd
W=$T_TMP/www
mkdir -p "$W/sub" "$T_TMP/out"
head -c 1048576 /dev/urandom >"$W/1m.bin"
head -c 300000 /dev/urandom >"$W/sub/300k.bin"
printf 'hello\n' >"$W/a.txt"
printf '<p>index</p>\n' >"$W/sub/index.html"
: >"$W/empty"
echo secret >"$T_TMP/secret"
ln -s "$T_TMP/secret" "$W/outlink"
ln -s a.txt "$W/inlink"

# fh_start NAME [ARGS...]: starts fault-httpd under valgrind (plain) and sets
# PORT; the server is stopped with SIGTERM when the script ends.
fh_start() {
	local name=$1 i=0
	shift
	rm -f "$T_TMP/$name.port"
	$NT_VALGRIND "$FH" -d "$W" --portfile "$T_TMP/$name.port" \
		--log "$T_TMP/$name.log" "$@" 2>"$T_TMP/$name.err" &
	eval "PID_$name=$!"
	at_exit "kill $! 2>/dev/null"
	while [ ! -s "$T_TMP/$name.port" ] && [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	PORT=$(cat "$T_TMP/$name.port" 2>/dev/null)
	[ -n "$PORT" ]
}

# get PATH [CURL ARGS...]: "CODE SIZE" of a request; body into $T_TMP/out/body.
get() {
	local p=$1
	shift
	timeout 20 curl -s -o "$T_TMP/out/body" -D "$T_TMP/out/head" \
		-w '%{http_code} %{size_download}' "$@" "http://127.0.0.1:$PORT$p"
}
hdr() { tr -d '\r' <"$T_TMP/out/head" | sed -n "s/^$1: //Ip" | tail -n 1; }
same() { cmp -s "$1" "$2"; }

check "fault-httpd starts and writes its port file" fh_start main
B=$T_TMP/out/body

# Plain files, ranges, validators.
is "$(get /1m.bin)" "200 1048576" "GET a whole file"
check "body is the file" same "$B" "$W/1m.bin"
is "$(hdr Content-Length)" 1048576 "Content-Length"
is "$(hdr Accept-Ranges)" bytes "Accept-Ranges: bytes"
etag=$(hdr ETag)
lm=$(hdr Last-Modified)
check "strong ETag" sh -c 'case "$1" in \"*\") exit 0;; esac; exit 1' _ "$etag"
check "Last-Modified is an HTTP date" sh -c 'echo "$1" | grep -Eq "^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$"' _ "$lm"
is "$(get /1m.bin -r 100-199)" "206 100" "Range a-b gives 206"
is "$(hdr Content-Range)" "bytes 100-199/1048576" "Content-Range of a-b"
check "range bytes are right" same "$B" <(tail -c +101 "$W/1m.bin" | head -c 100)
is "$(get /1m.bin -r 1048000-)" "206 576" "Range a- gives the tail"
is "$(hdr Content-Range)" "bytes 1048000-1048575/1048576" "Content-Range of a-"
is "$(get /1m.bin -r -1000)" "206 1000" "Range -n gives the last n"
check "suffix bytes are right" same "$B" <(tail -c 1000 "$W/1m.bin")
is "$(get /1m.bin -r 1048000-9999999)" "206 576" "Range end past the file is clamped"
is "$(get /1m.bin -r 1048576-)" "416 26" "Range past the end gives 416"
is "$(hdr Content-Range)" "bytes */1048576" "416 carries bytes */size"
is "$(get /empty -r 0-)" "416 26" "any range of an empty file is 416"
is "$(get /empty)" "200 0" "empty file whole"
is "$(get /1m.bin -r 0-1,5-9)" "200 1048576" "several ranges: the whole file"
is "$(get /1m.bin -H 'Range: bytes=9-2')" "200 1048576" "reversed range ignored"
is "$(get /1m.bin -H 'Range: lines=1-2')" "200 1048576" "other unit ignored"
is "$(get /1m.bin -r 0-9 -H "If-Range: $etag")" "206 10" "If-Range with the ETag: 206"
is "$(get /1m.bin -r 0-9 -H 'If-Range: "nope"')" "200 1048576" "If-Range with another ETag: 200"
is "$(get /1m.bin -r 0-9 -H "If-Range: $lm")" "206 10" "If-Range with the date: 206"
is "$(get /1m.bin -r 0-9 -H 'If-Range: Thu, 01 Jan 1970 00:00:00 GMT')" "200 1048576" "If-Range with another date: 200"
is "$(get /1m.bin -I)" "200 0" "HEAD"
is "$(hdr Content-Length)" 1048576 "HEAD has the length"
is "$(get /sub/)" "200 13" "a folder serves its index.html"
is "$(get /sub/300k%2ebin)" "200 300000" "percent-decoded path"
is "$(get /nothere)" "404 14" "missing file: 404"
is "$(get /sub/../a.txt --path-as-is)" "403 14" "/../ refused"
is "$(get /%2e%2e/secret)" "403 14" "encoded .. refused"
is "$(get /outlink)" "403 14" "symlink leading out refused"
is "$(get /inlink)" "200 6" "symlink inside the root served"
is "$(get /a.txt -X POST)" "405 23" "POST: 405"
is "$(hdr Allow)" "GET, HEAD" "405 says Allow"
is "$(get /a.txt?x=1)" "200 6" "query string ignored"

# Keep-alive: many requests on one connection (curl reuses it).
urls=
for i in $(seq 1 50); do urls="$urls http://127.0.0.1:$PORT/a.txt"; done
n=$(timeout 20 curl -s -o /dev/null -w '%{num_connects}\n' $urls | awk '{s += $1} END {print s}')
is "$n" 1 "50 requests over one connection"
is "$(awk '$3 == "/a.txt"' "$T_TMP/main.log" | tail -n 50 | awk '{print $1}' | sort -u | wc -l)" 1 \
	"the server saw them on one connection"
# Pipelined requests in one write, an HTTP/1.0 client, a bad request.
raw() { timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0; printf "$1" >&3; cat <&3' "$PORT" "$1"; }
out=$(raw 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
is "$(echo "$out" | grep -c '^HTTP/1.1 200 OK')" 3 "three pipelined requests, three answers"
is "$(echo "$out" | grep -c '^hello')" 2 "two bodies (the HEAD has none)"
out=$(raw 'GET /a.txt HTTP/1.0\r\n\r\n')
check "HTTP/1.0 without keep-alive: answered and closed" sh -c 'echo "$1" | grep -q "^hello"' _ "$out"
out=$(raw 'GET /a.txt HTTP/1.1\r\n\r\n')
check "HTTP/1.1 without Host: 400" sh -c 'echo "$1" | grep -q "^HTTP/1.1 400"' _ "$out"
out=$(raw 'BLAH\r\n\r\n')
check "garbage: 400" sh -c 'echo "$1" | grep -q "^HTTP/1.1 400"' _ "$out"
out=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0; printf "GET /%09000d HTTP/1.1\r\n" 0 >&3; cat <&3' "$PORT")
check "over-long head: 431" sh -c 'echo "$1" | grep -q "^HTTP/1.1 431"' _ "$out"

# Faults.
is "$(get /fault/status=503,retry=2,times=2/a.txt)" "503 24" "status=503: 503"
is "$(hdr Retry-After)" 2 "with Retry-After"
is "$(get /fault/status=503,retry=2,times=2/a.txt)" "503 24" "second request: 503 again"
is "$(get /fault/status=503,retry=2,times=2/a.txt)" "200 6" "times=2: the third is served"
is "$(get /fault/status=429,retry=1/a.txt)" "429 22" "status=429"
is "$(get /fault/status=404/a.txt)" "404 14" "status=404"
is "$(get /fault/cut=65536/1m.bin)" "200 65536" "cut=65536 stops after 64 KiB"
is "$(tail -n 1 "$T_TMP/main.log" | awk '{print $5, $7}')" "65536 1" "log records the cut"
get /fault/cut=65536/1m.bin >/dev/null
is "$?" 18 "curl sees a partial transfer"
is "$(get /fault/cut=1000/1m.bin -r 5000-)" "206 1000" "cut counts from the range start"
check "cut body is the right bytes" same "$B" <(tail -c +5001 "$W/1m.bin" | head -c 1000)
get /fault/cut=100,rst/1m.bin >/dev/null
is "$?" 56 "rst: curl sees a reset"
c1=$(get /fault/cut=rand,seed=7/1m.bin | cut -d' ' -f2)
c2=$(get /fault/cut=rand,seed=7/1m.bin | cut -d' ' -f2)
check "cut=rand cuts inside the body ($c1, $c2)" [ "$c1" -lt 1048576 -a "$c2" -lt 1048576 ]
check "cut=rand draws a new point per request" [ "$c1" != "$c2" ]
is "$(get /fault/norange/1m.bin -r 0-9)" "200 1048576" "norange: 200 with everything"
is "$(get /fault/badrange/1m.bin -r 0-9)" "206 10" "badrange: still 206"
is "$(hdr Content-Range)" "bytes 1-10/1048576" "badrange: Content-Range one byte later"
check "badrange: body matches its Content-Range" same "$B" <(tail -c +2 "$W/1m.bin" | head -c 10)
get /fault/change/1m.bin >/dev/null
e1=$(hdr ETag)
cp "$B" "$T_TMP/v1"
get /fault/change/1m.bin >/dev/null
e2=$(hdr ETag)
check "change: ETag differs between requests" [ "$e1" != "$e2" -a "$e1" != "$etag" ]
check "change: content differs too" sh -c '! cmp -s "$1" "$2" && ! cmp -s "$1" "$3"' _ "$B" "$T_TMP/v1" "$W/1m.bin"
is "$(get /fault/change/1m.bin -r 0-9 -H "If-Range: $e1")" "200 1048576" "change: If-Range with an old ETag gives 200"
is "$(get /fault/change=1/1m.bin -r 0-9)" "206 10" "change=1: first request sees the original"
is "$(hdr ETag)" "$etag" "change=1: with its ETag"
get /fault/change=1/1m.bin -r 0-9 >/dev/null
check "change=1: the second does not" [ "$(hdr ETag)" != "$etag" ]
t0=$EPOCHREALTIME
is "$(get /fault/stall=1.5/sub/300k.bin)" "200 300000" "stall=1.5: whole body"
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
check "stall=1.5 took at least 1.5 s ($t s)" awk -v t="$t" 'BEGIN{exit !(t >= 1.5 && t < 6)}'
is "$(get /fault/stall=5,at=1000/sub/300k.bin --max-time 1)" "200 1000" "stall at=1000 stops the flow after 1000 bytes"
is "$(get /fault/nohead/a.txt -I)" "405 0" "nohead: HEAD refused"
is "$(get /fault/nohead/a.txt)" "200 6" "nohead: GET served"
is "$(get /fault/chunked/sub/300k.bin -r 0-9)" "200 300000" "chunked: whole file, range ignored"
is "$(hdr Transfer-Encoding)" chunked "chunked: Transfer-Encoding"
is "$(hdr Content-Length)" "" "chunked: no Content-Length"
check "chunked body decoded by curl is the file" same "$B" "$W/sub/300k.bin"
is "$(get /fault/redirect=3/a.txt)" "302 10" "redirect=3: 302"
is "$(hdr Location)" "/fault/redirect=2/a.txt" "Location drops one hop"
is "$(get /fault/redirect=3/a.txt -L)" "200 6" "curl -L follows 3 hops to the file"
is "$(get /fault/redirect=3/a.txt -L --max-redirs 2)" "302 10" "a client allowing 2 hops stops"
is "$(get /fault/redirect=1,id=x/a.txt)" "302 10" "redirect keeps other items"
is "$(hdr Location)" "/fault/id=x/a.txt" "last hop leads to the plain fault path"
is "$(get /fault/novalidator/a.txt)" "200 6" "novalidator"
is "$(hdr ETag)$(hdr Last-Modified)" "" "novalidator: no ETag, no Last-Modified"
is "$(get /fault/bogus/a.txt)" "400 16" "unknown fault item: 400"
is "$(get /fault/cut=x/a.txt)" "400 16" "bad fault value: 400"

# Pacing: one connection of S bytes at cap C takes S/C. The kernel sends
# a connection's first 10 segments (about 14 KiB here) unpaced, so allow
# that head start; the slope between two sizes must be the cap itself.
# Each size is fetched twice and the shorter time kept: a stall of the
# client on a loaded machine only adds time, and a tenth of a second on
# the small one moves the slope by a tenth.
check "paced fault-httpd starts" fh_start paced -r 512k
# paced_time PATH OUT: the shorter curl time_total of two fetches.
paced_time() {
	for _ in 1 2; do
		timeout 30 curl -s -o "$2" -w '%{time_total}\n' "http://127.0.0.1:$PORT/$1"
	done | sort -n | head -n 1
}
t1=$(paced_time sub/300k.bin "$T_TMP/out/p")
check "300000 bytes at 512 KiB/s: about 0.57 s (took $t1 s)" \
	awk -v t="$t1" 'BEGIN{exit !(t > 0.45 && t < 1.0)}'
check "paced body is right" same "$T_TMP/out/p" "$W/sub/300k.bin"
t2=$(paced_time 1m.bin /dev/null)
check "1 MiB at 512 KiB/s: about 2 s (took $t2 s)" \
	awk -v t="$t2" 'BEGIN{exit !(t > 1.85 && t < 2.6)}'
r=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.0f", (1048576 - 300000) / (b - a)}')
diag "measured rate between the two sizes: $r bytes/s (cap 524288)"
check "the rate between the two sizes is the cap (-6 %, +10 %: $r)" \
	awk -v r="$r" 'BEGIN{exit !(r > 524288 * 0.94 && r < 524288 * 1.1)}'
# Two connections at once each get the full cap (it is per connection).
t0=$EPOCHREALTIME
timeout 30 curl -s -o /dev/null "http://127.0.0.1:$PORT/1m.bin" &
timeout 30 curl -s -o /dev/null "http://127.0.0.1:$PORT/1m.bin"
wait $!
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
check "two connections together also take about 2 s ($t s)" \
	awk -v t="$t" 'BEGIN{exit !(t > 1.85 && t < 2.9)}'
t=$(timeout 30 curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/fault/rate=1M/1m.bin")
check "rate=1M on one response: about 1 s (took $t s)" \
	awk -v t="$t" 'BEGIN{exit !(t > 0.9 && t < 1.6)}'

# Connection bound: with -c 2, a third client waits until one leaves.
check "fault-httpd -c 2 starts" fh_start bound -c 2
exec 5<>/dev/tcp/127.0.0.1/$PORT 6<>/dev/tcp/127.0.0.1/$PORT
printf 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n' >&5
printf 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n' >&6
sleep 0.3
is "$(timeout 5 curl -s -o /dev/null --max-time 1 -w '%{http_code}' "http://127.0.0.1:$PORT/a.txt")" 000 \
	"third connection waits while two are open"
exec 5>&- 6>&-
is "$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/a.txt")" 200 \
	"and is served once one closes"

# Per-client limit: with --max-per-client 2, a third connection from
# 127.0.0.1 is answered 503 with Retry-After, and served once one leaves.
check "fault-httpd --max-per-client 2 starts" fh_start perclient \
	--max-per-client 2
exec 5<>/dev/tcp/127.0.0.1/$PORT 6<>/dev/tcp/127.0.0.1/$PORT
sleep 0.2
is "$(get /a.txt)" "503 24" "third connection from one address: 503"
is "$(hdr Retry-After)" 1 "with Retry-After: 1"
is "$(hdr Connection)" close "and Connection: close"
exec 5>&-
sleep 0.3
is "$(get /a.txt)" "200 6" "served once one of the two leaves"
exec 6>&-
kill -TERM "$PID_perclient"

# A cap that changes: 1 MiB/s for the first 0.5 s after the first request,
# then 256 KiB/s. 1 MiB takes about 0.5 s + 512 KiB at 256 KiB/s = 2.5 s
# (1 s without the change); an open connection takes the new cap. What
# the socket had queued and the kernel's first unpaced segments make it
# up to half a second shorter.
check "fault-httpd --rate-after 0.5:256k starts" fh_start later -r 1M \
	--rate-after 0.5:256k
t=$(timeout 30 curl -s -o "$T_TMP/out/p" -w '%{time_total}' "http://127.0.0.1:$PORT/1m.bin")
check "the cap falls mid-download: about 2.5 s (took $t s)" \
	awk -v t="$t" 'BEGIN{exit !(t > 1.8 && t < 3.5)}'
check "and the body is right" same "$T_TMP/out/p" "$W/1m.bin"
t=$(timeout 30 curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/sub/300k.bin")
check "a new connection gets the new cap: 300000 bytes, about 1.1 s ($t s)" \
	awk -v t="$t" 'BEGIN{exit !(t > 0.95 && t < 1.8)}'
kill -TERM "$PID_later"

# Clean exit on SIGTERM, even with a connection mid-body.
timeout 20 curl -s -o /dev/null "http://127.0.0.1:$PORT/fault/stall=30/1m.bin" &
cpid=$!
sleep 0.3
kill -TERM "$PID_bound"
wait "$PID_bound"
is "$?" 0 "SIGTERM: exit 0 with a stalled connection open"
wait "$cpid"
kill -TERM "$PID_main" "$PID_paced"
wait "$PID_main"
is "$?" 0 "SIGTERM after many requests: exit 0 (valgrind clean in plain)"
wait "$PID_paced"
is "$?" 0 "paced server exits 0"

# The link cap: one rate all connections share. 1 MiB over a 1 MiB/s
# link takes 1 s whether one connection fetches it or four; a
# per-connection cap of 512 KiB/s under the same link lets four
# connections go twice as fast as one, and no faster. Timed against the
# link's own figure (it cannot be beaten), and one connection against
# four in the same run.
DA=$NT_BIN/download-accelerator
# timed NAME N: downloads 1m.bin from server NAME over N connections;
# prints the seconds.
timed() {
	local t0=$EPOCHREALTIME
	(cd "$T_TMP" && rm -f 1m.bin &&
		timeout 60 "$DA" -q -n "$2" "http://127.0.0.1:$3/1m.bin" \
			>/dev/null && cmp -s 1m.bin "$W/1m.bin") || echo fail
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}'
}
check "fault-httpd --link starts" fh_start link --link 1M
t1=$(timed link 1 "$PORT")
t4=$(timed link 4 "$PORT")
check "link 1M/s, one connection: about 1 s ($t1)" \
	awk -v t="$t1" 'BEGIN{exit !(t >= 0.9 && t < 10)}'
check "link 1M/s, four connections: no faster ($t4 against $t1)" \
	awk -v t="$t4" -v o="$t1" 'BEGIN{exit !(t >= 0.9 && t >= 0.85 * o)}'
check "fault-httpd -r 512k --link 1M starts" fh_start both -r 512k \
	--link 1M
t1=$(timed both 1 "$PORT")
t4=$(timed both 4 "$PORT")
check "both caps: one connection at its own cap, about 2 s ($t1)" \
	awk -v t="$t1" 'BEGIN{exit !(t >= 1.8 && t < 20)}'
check "both caps: four fill the link, twice as fast and no more ($t4)" \
	awk -v t="$t4" -v o="$t1" 'BEGIN{exit !(t >= 0.9 && t <= 0.7 * o)}'
kill -TERM "$PID_link" "$PID_both"

# Usage errors.
"$FH" 2>/dev/null
is "$?" 2 "no -d: exit 2"
"$FH" -d "$W" -r abc 2>/dev/null
is "$?" 2 "bad rate: exit 2"
"$FH" -d "$W" --link 0 2>/dev/null
is "$?" 2 "bad link rate: exit 2"
"$FH" -d "$W" --rate-after 5 2>/dev/null
is "$?" 2 "--rate-after without :RATE: exit 2"
"$FH" -d "$W" --rate-after 0:1M 2>/dev/null
is "$?" 2 "--rate-after 0 seconds: exit 2"
"$FH" -d "$W" --max-per-client 0 2>/dev/null
is "$?" 2 "--max-per-client 0: exit 2"
err=$("$FH" -d "$T_TMP/nope" --portfile "$T_TMP/x.port" 2>&1)
is "$?" 1 "missing root: exit 1"
check "and says which" sh -c 'echo "$1" | grep -q "^fault-httpd: .*nope: No such file"' _ "$err"
done_testing

# SPDX-License-Identifier: ISC
# batch-faults.sh -- download and threaded-download against fault-httpd:
# cut and reset connections, 404, 503/429 with Retry-After, redirects,
# chunked bodies, keep-alive seen from the server's side.
# timeout: 180
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
FH=$NT_HELPERS/fault-httpd
W=$T_TMP/www
mkdir -p "$W/f"
for i in $(seq 1 100); do head -c $((20000 + i * 997)) /dev/urandom >"$W/f/f$i"; done

"$FH" -d "$W" --portfile "$T_TMP/port" --log "$T_TMP/log" 2>"$T_TMP/fh.err" &
at_exit "kill $! 2>/dev/null"
for i in $(seq 1 200); do [ -s "$T_TMP/port" ] && break; sleep 0.05; done
[ -s "$T_TMP/port" ] || { notok "fault-httpd starts"; done_testing; exit 1; }
U=http://127.0.0.1:$(cat "$T_TMP/port")
cd "$T_TMP" || exit 1

# requests TEXT: how many logged requests have TEXT in their target.
requests() { grep -cF -- "$1" log; }

# Each first request cut after 5000 bytes (FIN, or RST for even ones): the
# retry completes the file.
for p in D TD; do
	prog=${!p}
	for i in $(seq 1 20); do
		rst=; [ $((i % 2)) -eq 0 ] && rst=,rst
		echo "$U/fault/cut=5000$rst,times=1,id=$p$i/f/f$i"
	done >ucut$p
	timeout 60 "$prog" -i ucut$p -d cut$p --retry-wait 0.01 -q 2>err.c
	is "$?" 0 "$p: connections cut once (FIN and RST) are retried, exit 0"
	bad=0
	for i in $(seq 1 20); do cmp -s "$W/f/f$i" cut$p/f$i || bad=$((bad + 1)); done
	is "$bad" 0 "$p: all 20 byte for byte after the retry"
	is "$(ls -A cut$p | wc -l)" 20 "$p: no partial files left"
done

# Cut every time after 5000 bytes: each try delivers, and the next asks only
# for the rest (a range from where the last one stopped), so the file
# completes at 5000 bytes a try.
size=$(stat -c %s "$W/f/f50")
echo "$U/fault/cut=5000,id=always/f/f50" >ualways
timeout 60 $NT_VALGRIND "$D" -i ualways -d always --retries 2 --retry-wait 0.01 2>err.a >out.a
is "$?" 0 "cut every 5000 bytes: completed (valgrind in plain)"
check "cut every 5000 bytes: byte for byte" cmp -s "$W/f/f50" always/f50
n=$(requests id=always)
check "cut every 5000 bytes: $n tries, each for the rest" [ "$n" -ge $((size / 5000)) -a "$n" -le $((size / 5000 + 2)) ]
# Cut before any byte, every time: fails after 1 + retries tries, leaves
# nothing.
echo "$U/fault/cut=0,id=never/f/f50" >unever
timeout 60 $NT_VALGRIND "$D" -i unever -d never --retries 2 --retry-wait 0.01 2>err.a >out.a
is "$?" 1 "always cut: exit 1 (valgrind in plain)"
check "always cut: reason given" grep -Eq "^download: failed $U/fault/cut=0,id=never/f/f50: .+" err.a
is "$(requests id=never)" 3 "always cut: tried 1 + 2 times"
is "$(ls -A never | wc -l)" 0 "always cut: nothing left behind"

# 404 is not retried.
echo "$U/fault/status=404,id=nf/f/f1" >u404
timeout 30 "$TD" -i u404 -d nf --retry-wait 0.01 2>err.n >/dev/null
is "$?" 1 "404: exit 1"
check "404: reported" grep -q "failed $U/fault/status=404,id=nf/f/f1: HTTP 404" err.n
is "$(requests id=nf)" 1 "404: asked once, not retried"
is "$(ls -A nf | wc -l)" 0 "404: error page not saved"

# 503 twice with Retry-After: 1, then the file: waits as asked, then saves.
echo "$U/fault/status=503,retry=1,times=2,id=busy/f/f3" >ubusy
echo "$U/fault/status=429,retry=1,times=1,id=slow/f/f4" >>ubusy
t0=$EPOCHREALTIME
timeout 60 "$D" -i ubusy -d busy --retry-wait 0.01 -q
rc=$? t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
is "$rc" 0 "503 x2 then 200, 429 then 200: saved"
check "503 storm: three requests" [ "$(requests id=busy)" -eq 3 ]
check "429: two requests" [ "$(requests id=slow)" -eq 2 ]
check "Retry-After honoured: 3 waits of 1 s ($t s)" awk -v t="$t" 'BEGIN { exit !(t >= 2.9) }'
check "the files are right" sh -c 'cmp -s "$1/f/f3" busy/f3 && cmp -s "$1/f/f4" busy/f4' _ "$W"

# Redirects followed, but not forever; chunked bodies.
printf '%s\n' "$U/fault/redirect=3,id=r3/f/f5" "$U/fault/redirect=15,id=r15/f/f6" \
	"$U/fault/chunked/f/f7" >uredir
timeout 30 "$TD" -i uredir -d redir -j 3 -q --retry-wait 0.01 2>err.r
is "$?" 1 "redirect loop fails the run"
check "3 redirects followed" cmp -s "$W/f/f5" redir/f5
check "15 redirects refused" grep -qi "failed $U/fault/redirect=15,id=r15/f/f6: .*redirect" err.r
check "chunked body saved" cmp -s "$W/f/f7" redir/f7
check "no file for the refused redirect" test ! -e redir/f6

# Random cuts across 100 files with 8 threads: all complete in the end.
for i in $(seq 1 100); do echo "$U/fault/cut=rand,seed=$i,times=1,id=rand$i/f/f$i"; done >urand
timeout 60 "$TD" -i urand -d rand -j 8 --retry-wait 0.01 -q
is "$?" 0 "100 randomly cut files, -j 8: exit 0"
bad=0
for i in $(seq 1 100); do cmp -s "$W/f/f$i" rand/f$i || bad=$((bad + 1)); done
is "$bad" 0 "all 100 byte for byte"

# Keep-alive seen by the server: 40 URLs over 1 connection (download),
# over at most 4 (threaded-download -j 4).
: >log
for i in $(seq 1 40); do echo "$U/f/f$i"; done >ukeep
timeout 30 "$D" -i ukeep -d keepD -s 1 -q
is "$(awk '{ print $1 }' log | sort -u | wc -l)" 1 "download: one connection for 40 URLs"
: >log
timeout 30 "$TD" -i ukeep -d keepT -j 4 -s 1 -q
n=$(awk '{ print $1 }' log | sort -u | wc -l)
check "threaded-download -j 4: $n connections for 40 URLs (<= 4)" [ "$n" -le 4 -a "$n" -ge 1 ]
done_testing

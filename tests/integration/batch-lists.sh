# SPDX-License-Identifier: ISC
# batch-lists.sh -- aria2c-style lists in threaded-download, download and
# download-accelerator -i: out=, dir=, checksum=, header=, split=, mirrors
# on a line, lines refused with their number, the per-host cap counted at
# the server, --no-clobber, --max-speed over the run, and --json read line
# by line.
# timeout: 240
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator
W=$T_TMP/www
mkdir -p "$W/f" "$W/p" "$T_TMP/other/f"
head -c 300000 /dev/urandom >"$W/f/a"
head -c 1200000 /dev/urandom >"$W/f/b"
head -c 200000 /dev/urandom >"$W/f/c"
for i in 1 2 3 4; do head -c 1000000 /dev/urandom >"$W/p/q$i"; done
head -c 1200000 /dev/urandom >"$T_TMP/other/f/b" # a mirror that differs
echo secret-payload >"$W/hdr"
cd "$T_TMP" || exit 1

fh_start main || { notok "fault-httpd starts"; done_testing; exit 1; }
U=http://127.0.0.1:$PORT
# b's two mirrors are paced so that no one connection can take the whole
# file before the others open, however slow the build.
fh_start mirror -r 1M || { notok "mirror starts"; done_testing; exit 1; }
M=http://127.0.0.1:$PORT
fh_start paced -r 1M || { notok "paced server starts"; done_testing; exit 1; }
P=http://127.0.0.1:$PORT
W=$T_TMP/other fh_start bad || { notok "bad mirror starts"; done_testing; exit 1; }
B=http://127.0.0.1:$PORT
W=$T_TMP/www
sha() { sha256sum "$1" | cut -d' ' -f1; }
zeros=0000000000000000000000000000000000000000000000000000000000000000

# Options, mirrors and refused lines in one list.
tab=$(printf '\t')
cat >list <<EOF2
# options apply to the URL line above them
$U/f/a
  out=renamed
$P/f/b${tab}$M/f/b
  split=4
  dir=sub/deeper
$U/f/c
	checksum = sha-256=$(sha "$W/f/c")
$U/f/a
  checksum=sha-256=$zeros
  out=wrong
$U/f/c
  out=../escape
$U/f/c
  dir=/etc
$U/f/c
  dir=a/../../b
$U/f/c
  bogus=1
  out=c-unknown-ok
  out=twice
$U/f/c
  bogus=1
  out=c-unknown
EOF2
timeout 60 "$TD" -i list -d L -j 8 >out.l 2>err.l
is "$?" 1 "bad lines and a failed checksum exit 1"
check "out= names the file" cmp -s "$W/f/a" L/renamed
check "dir= puts it in a subfolder" cmp -s "$W/f/b" L/sub/deeper/b
check "both mirrors served ranges of b" \
	[ "$(grep -c ' /f/b ' paced.log)" -ge 1 -a "$(grep -c ' /f/b ' mirror.log)" -ge 1 ]
check "a right checksum: saved" cmp -s "$W/f/c" L/c
check "a wrong checksum: nothing under its name" test ! -e L/wrong -a ! -e L/wrong.part
check "a wrong checksum: said" grep -q "failed $U/f/a: .*checksum\|failed $U/f/a: .*SHA-256\|failed $U/f/a: .*sha256" err.l
check "out=../x refused with its line" grep -q "^threaded-download: list:13: out=\.\./escape: " err.l
check "dir=/etc refused with its line" grep -q "^threaded-download: list:15: dir=/etc: " err.l
check "dir=a/../../b refused with its line" grep -q "^threaded-download: list:17: dir=a/\.\./\.\./b: " err.l
check "nothing written outside the folder" test ! -e escape -a ! -e b -a ! -e L/../escape
check "an option given twice drops its entry" test ! -e L/c-unknown-ok -a ! -e L/twice
check "an unknown option is reported" grep -q "^threaded-download: list:23: bogus=1" err.l
check "and its entry still runs" cmp -s "$W/f/c" L/c-unknown
is "$(ls -A L | sort | tr '\n' ' ')" "c c-unknown renamed sub " "nothing else in the folder"

# A mirror whose file differs is dropped; the file comes out right.
printf '%s\t%s\n' "$U/f/b" "$B/f/b" >lbad
timeout 60 "$TD" -i lbad -d LB -s 4 >/dev/null 2>err.b
is "$?" 0 "a disagreeing mirror: the file still completes"
check "byte for byte from the right source" cmp -s "$W/f/b" LB/b
check "the mirror is dropped with a warning" grep -q "mirror dropped" err.b

# header= goes with that file's requests only: the test server logs no
# headers, so the file is fetched through nginx, which refuses without it.
cat >"$T_TMP/snippet" <<NGX
location = /hdr { if (\$http_x_token != "t1") { return 403; } }
NGX
if nginx_start "$W" "$T_TMP/snippet"; then
	N=http://127.0.0.1:$NGINX_PORT
	printf '%s\n  header=X-Token: t1\n  out=with\n%s\n  out=without\n' \
		"$N/hdr" "$N/hdr" >lhdr
	timeout 30 "$D" -i lhdr -d H -q 2>err.h
	is "$?" 1 "header=: one file with it, one without"
	check "header= sent: saved" cmp -s "$W/hdr" H/with
	check "not sent to the other file: 403" grep -q "failed $N/hdr: HTTP 403" err.h
else
	notok "nginx starts"
fi

# The per-host cap, counted at the server: sockets with bytes queued (the
# server paces each at 1 MB/s, so every live transfer has some), sampled
# every 20 ms while four files download with -s 4 (16 wanted). A count
# holds when two samples in a row see it: a range cut at its end leaves
# the server a socket with bytes queued for the instant it takes the
# reset to arrive, while the connection that replaces it already runs.
fh_start paced -r 1M || { notok "paced server starts"; done_testing; exit 1; }
P=$PORT
for i in 1 2 3 4; do echo "http://127.0.0.1:$P/p/q$i"; done >lp
# peak_at_server CMD...: runs CMD; prints the most transfers held at once
# and its exit status.
peak_at_server() {
	"$@" &
	local pid=$! max=0 n last=0 held
	while kill -0 $pid 2>/dev/null; do
		n=$(ss -Htn state established "( sport = :$P )" | awk '$2 > 0' | wc -l)
		held=$((n < last ? n : last))
		[ "$held" -gt "$max" ] && max=$held
		last=$n
		sleep 0.02
	done
	wait $pid
	echo "$max $?"
}
set -- $(peak_at_server timeout 60 "$TD" -i lp -d P2 -j 16 -s 4 --max-per-host 2 -q)
is "$2" 0 "--max-per-host 2: exit 0"
check "--max-per-host 2: at most 2 transfers at the server (peak $1)" [ "$1" -le 2 -a "$1" -ge 1 ]
for i in 1 2 3 4; do cmp -s "$W/p/q$i" P2/q$i || break; done
is "$i" 4 "--max-per-host 2: all four byte for byte"
set -- $(peak_at_server timeout 60 "$TD" -i lp -d P8 -j 16 -s 4 -q)
check "the default (8): more at once (peak $1), so the count above can fail" [ "$1" -gt 2 -a "$1" -le 8 ]
set -- $(peak_at_server timeout 60 "$TD" -i lp -d P16 -j 4 -s 4 --max-per-host 16 -q)
check "-j 4: at most 4 transfers at once over all files (peak $1)" [ "$1" -le 4 -a "$1" -ge 2 ]

# A server that allows 3 connections per client (503 and Retry-After
# beyond): the list asks for 16, is refused, holds what the server allows,
# and no file fails.
fh_start percl -r 1M --max-per-client 3 || { notok "per-client server starts"; done_testing; exit 1; }
C=$PORT
for i in 1 2 3 4; do echo "http://127.0.0.1:$C/p/q$i"; done >lc
timeout 60 "$TD" -i lc -d PC -j 16 -s 4 --retries 1 -q 2>err.pc
is "$?" 0 "3 connections per client: every file completes"
for i in 1 2 3 4; do cmp -s "$W/p/q$i" PC/q$i || break; done
is "$i" 4 "3 connections per client: all four byte for byte"
check "the server did refuse some ($(grep -c ' 503 ' percl.log))" [ "$(grep -c ' 503 ' percl.log)" -ge 1 ]
check "and the list did not fail on them" [ ! -s err.pc ]

# --max-speed is one rate for the whole run: 4 x 1 MB at 2 MB/s over four
# files at once takes about 2 s, not 0.5 s.
t0=$EPOCHREALTIME
timeout 60 "$TD" -i lp -d S -j 8 -s 1 --max-speed 2M -q
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
check "--max-speed 2M over four files: $t s (>= 1.7)" awk -v t="$t" 'BEGIN { exit !(t >= 1.7) }'

# --no-clobber: a file there is skipped and said so, not replaced.
mkdir -p NC && echo mine >NC/a
printf '%s\n' "$U/f/a" "$U/f/c" >lnc
timeout 30 "$TD" -i lnc -d NC --no-clobber >out.nc 2>&1
is "$?" 0 "--no-clobber: exit 0"
is "$(cat NC/a)" mine "--no-clobber: the file there is kept"
check "--no-clobber: and reported" grep -q "^skipped $U/f/a -> NC/a: already there" out.nc
check "--no-clobber: no numbered copy" test ! -e NC/a.1
check "--no-clobber: the other file saved" cmp -s "$W/f/c" NC/c

# --json: one JSON object a line on stdout, nothing else there; a start
# and done for a file, failed with the reason for a 404, skipped, progress
# for the slow file (the run, 1.5 MB at 400 kB/s, takes about 4 s) at most
# once a second, and the summary last.
mkdir -p J && echo mine >J/a
printf '%s\n' "$U/f/a" "$U/f/c" "$U/f/missing" "http://127.0.0.1:$P/p/q1" >lj
timeout 60 "$TD" -i lj -d J --json --no-clobber -s 1 --max-speed 400k \
	>out.j 2>err.j
is "$?" 1 "--json: a failed file exits 1"
bad=0
while IFS= read -r line; do
	printf '%s\n' "$line" | jq -e 'type == "object" and (.event | type == "string")' \
		>/dev/null 2>&1 || { bad=$((bad + 1)); diag "not JSON: $line"; }
done <out.j
is "$bad" 0 "--json: every stdout line is a JSON object with an event"
check "--json: some lines" [ "$(wc -l <out.j)" -ge 6 ]
ev() { jq -r "select(.event == \"$1\") | $2" out.j; }
is "$(ev skipped .name)" a "--json: skipped names the file"
is "$(ev done .name | sort | tr '\n' ' ')" "c q1 " "--json: done for each saved file"
is "$(ev done 'select(.name == "c") | .bytes')" 200000 "--json: done carries the bytes"
is "$(ev start 'select(.name == "c") | .size')" 200000 "--json: start carries the size"
is "$(ev failed .reason)" "HTTP 404 Not Found" "--json: failed carries the reason"
n=$(ev progress .name | grep -c q1)
check "--json: progress for the slow file, at most once a second ($n)" [ "$n" -ge 2 -a "$n" -le 4 ]
is "$(tail -n 1 out.j | jq -r '[.event, .files, .done, .skipped, .failed] | join(" ")')" \
	"summary 4 2 1 1" "--json: the summary comes last and counts"
check "--json: errors still go to stderr as lines" grep -q "missing: HTTP 404" err.j

# download-accelerator -i: the same list format, one file after another.
printf '%s\n  out=one\n%s\n' "$U/f/a" "$U/f/c" >lda
timeout 60 "$DA" -i lda -d DA -q >out.da 2>err.da
is "$?" 0 "download-accelerator -i: exit 0"
check "download-accelerator -i: out= honoured" cmp -s "$W/f/a" DA/one
check "download-accelerator -i: the second file" cmp -s "$W/f/c" DA/c
is "$(awk '{ print $1, $3 }' out.da | tr '\n' ' ')" "$U/f/a 300000 $U/f/c 200000 " \
	"download-accelerator -i: a result line a file"
printf '%s\nnot a url\n' "$U/f/a" >lda2
timeout 60 "$DA" -i lda2 -d DA2 --json >out.da2 2>err.da2
is "$?" 1 "download-accelerator -i: a bad line exits 1"
check "and names it" grep -q "^download-accelerator: lda2:2: " err.da2
# A "connections" event comes when the controller chose a count before
# the file was done, which a fast download may beat.
is "$(jq -r 'select(.event != "connections") | .event' out.da2 | tr '\n' ' ')" \
	"start done summary " "download-accelerator --json: start, done, summary"
check "download-accelerator --json: a connections event has a count and why" \
	jq -s -e '[.[] | select(.event == "connections") |
		select(.connections >= 1 and (.reason | length) > 0 | not)] |
		length == 0' out.da2
timeout 10 "$DA" -i lda "$U/f/a" 2>/dev/null
is "$?" 2 "download-accelerator: -i with a URL exits 2"
timeout 10 "$DA" -i lda -o x 2>/dev/null
is "$?" 2 "download-accelerator: -i with -o exits 2"
done_testing

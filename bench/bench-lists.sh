#!/bin/bash
# SPDX-License-Identifier: ISC
# bench-lists.sh -- lists whose files are split: threaded-download beside
# aria2c on the paced server, the small-file cost of going through the
# accelerator's engine, and the bytes a resume after SIGKILL fetches again.
#
# 1. 8 files x 40 MiB from fault-httpd -r 2M (2 MiB/s per connection):
#    threaded-download -j 32 -s 4 --max-per-host 32 against
#    aria2c -i -j 8 -x 4 -s 4 -k 1M; ideal 8 x 40 / (32 x 2) = 5 s.
#    Median of LISTS_REPS runs (default 3), the tools taking turns.
# 2. 200 x 64 KiB from nginx, uncapped, -j 8 and -j 32 (the latter also
#    with --max-per-host 32, the connections the base build opened): wall
#    and CPU (runstat), the median of LISTS_SMALL_REPS paired runs
#    (default 61), which build goes first alternating;
#    with LISTS_BASE=DIR (another build's bin/) that build's
#    threaded-download runs beside, as the base of the ratios, and the
#    median of the run-by-run ratios is given too (a run of 20 ms swings
#    by more than the 5 % looked for; the pairs cancel the drift); else
#    curl --parallel is the base.
# 3. A 4-file list (4 x 24 MiB, -j 16 -s 4, 2 MiB/s per connection) killed
#    with SIGKILL after 2 s, then run again with -c: the bytes the server
#    sent in all, less the files' size, against one second of transfer
#    per connection (16 x 2 MiB).
# LISTS_CASES="split small kill" picks the sections (default all three).
# The files go to a tmpfs folder (BENCH_OUT, default /dev/shm), as in
# bench-batch.sh; a throwaway file of the same size is written first so
# that the first run does not pay for memory the host took back.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
top=${NT_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${NT_BIN:-$top/build/plain/bin}
helpers=${NT_HELPERS:-$top/build/plain/helpers}
BB=${NT_BENCH_BIN:-$(dirname "$bin")/bench}
reps=${LISTS_REPS:-3}
sreps=${LISTS_SMALL_REPS:-61}
base=${LISTS_BASE:-}
MiB=1048576

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nt-bench-lists.XXXXXX")
outroot=${BENCH_OUT:-}
if [ -z "$outroot" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then outroot=/dev/shm; fi
outdir=$(mktemp -d "${outroot:-$tmp}/nt-bench-lists.XXXXXX")
fpids=
cleanup() {
	for p in $fpids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	"$top/scripts/nginx-local" stop "$tmp/ng" >/dev/null 2>&1
	rm -rf "$outdir" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for t in aria2c curl jq; do
	command -v $t >/dev/null || { echo "bench-lists: $t missing (scripts/deps bench)" >&2; exit 1; }
done
[ -x "$BB/runstat" ] || { echo "bench-lists: $BB/runstat not built" >&2; exit 1; }

# fh NAME ARGS...: a fault-httpd serving $tmp/www, its log in $tmp/NAME.log.
fh() {
	local name=$1 i
	shift
	"$helpers/fault-httpd" -d "$tmp/www" -c 256 --portfile "$tmp/$name.port" \
		--log "$tmp/$name.log" "$@" >/dev/null 2>&1 &
	fpids="$fpids $!"
	for i in $(seq 1 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
	cat "$tmp/$name.port"
}
# secs CMD...: runs CMD in a fresh $outdir/o; prints its wall seconds.
secs() {
	rm -rf "$outdir/o"; mkdir -p "$outdir/o"
	local t0=$EPOCHREALTIME
	(cd "$outdir/o" && "$@" >/dev/null 2>"$tmp/err") || echo "FAIL: $*: $(tail -n 1 "$tmp/err")" >&2
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

mkdir -p "$tmp/www/big" "$tmp/www/small" "$tmp/www/kill"
for i in $(seq 1 8); do head -c $((40 * MiB)) /dev/urandom >"$tmp/www/big/b$i"; done
for i in $(seq 1 200); do head -c 65536 /dev/urandom >"$tmp/www/small/s$i"; done
for i in 1 2 3 4; do head -c $((24 * MiB)) /dev/urandom >"$tmp/www/kill/k$i"; done
head -c $((320 * MiB)) /dev/zero >"$outdir/warm" && rm -f "$outdir/warm"

echo "# $(date -u +%F) $(nproc) cores; bench-lists.sh"
cases=" ${LISTS_CASES:-split small kill} "
# 1. Split lists on the paced server.
if [[ $cases == *" split "* ]]; then
p=$(fh paced -r 2M)
for i in $(seq 1 8); do echo "http://127.0.0.1:$p/big/b$i"; done >"$tmp/lbig"
: >"$tmp/td" ; : >"$tmp/ar"
for r in $(seq 1 "$reps"); do
	secs "$bin/threaded-download" -q -i "$tmp/lbig" -d . -j 32 -s 4 --max-per-host 32 >>"$tmp/td"
	secs aria2c -q -i "$tmp/lbig" -j 8 -x 4 -s 4 -k 1M --allow-overwrite=true \
		--auto-file-renaming=false --file-allocation=none >>"$tmp/ar"
done
td=$(median <"$tmp/td") ar=$(median <"$tmp/ar")
echo
echo "## 8 x 40 MiB, 2 MiB/s per connection; median of $reps; ideal 5.00 s"
printf '%-50s %8s %9s %9s\n' tool wall "x ideal" "x aria2c"
printf '%-50s %8s %9s %9s\n' "threaded-download -j 32 -s 4 --max-per-host 32" "$td" \
	"$(awk -v a="$td" 'BEGIN { printf "%.3f", 5 / a }')" \
	"$(awk -v a="$td" -v b="$ar" 'BEGIN { printf "%.2f", a / b }')"
printf '%-50s %8s %9s %9s\n' "aria2c -i -j 8 -x 4 -s 4 -k 1M" "$ar" \
	"$(awk -v a="$ar" 'BEGIN { printf "%.3f", 5 / a }')" 1.00
echo "(x ideal: ideal / wall, 1.000 = the ideal; x aria2c: wall / aria2c's)"
echo "(all times: threaded-download $(tr '\n' ' ' <"$tmp/td")/ aria2c $(tr '\n' ' ' <"$tmp/ar"))"
fi

# 2. Small files: what the engine costs them.
if [[ $cases == *" small "* ]]; then
nport=$("$top/scripts/nginx-local" start "$tmp/ng" "$tmp/www") ||
	{ echo "bench-lists: nginx did not start" >&2; exit 1; }
for i in $(seq 1 200); do echo "http://127.0.0.1:$nport/small/s$i"; done >"$tmp/lsmall"
# stat NAME CMD...: one runstat run in a fresh folder, appended to NAME.
stat1() {
	local name=$1
	shift
	rm -rf "$outdir/o"; mkdir -p "$outdir/o"
	(cd "$outdir/o" && "$BB/runstat" "$tmp/t" "$@" >/dev/null 2>&1)
	[ "$(ls "$outdir/o" | wc -l)" -eq 200 ] || echo "FAIL: $name" >&2
	cat "$tmp/t" >>"$tmp/$name"
}
# pairs N: the median, lowest and highest of column N of new over old,
# run by run.
pairs() {
	paste -d ' ' "$tmp/new" "$tmp/old" | awk -v n="$1" '{ print $n / $(n + 3) }' |
		sort -n | awk '{ v[NR] = $1 } END {
			printf "%.3f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
echo
echo "## 200 x 64 KiB, uncapped (nginx); median of $sreps paired runs"
printf '%-40s %3s %8s %8s %8s %8s\n' tool N wall cpu "x wall" "x cpu"
# Each case: the connections at once, and this build's options beyond
# -j. -j 32 runs twice: with the default --max-per-host (8 to the one
# host) and with 32, the count the base build opens (it had no cap).
for case in "8" "32" "32 --max-per-host 32"; do
	n=${case%% *} extra=
	[ "$case" != "$n" ] && extra=${case#* }
	: >"$tmp/new"; : >"$tmp/old"; : >"$tmp/curl"
	for r in $(seq 1 "$sreps"); do
		# Which build goes first alternates: a run warms the server's
		# and the kernel's caches for the one after it.
		if [ $((r % 2)) -eq 1 ] || [ -z "$base" ]; then
			stat1 new "$bin/threaded-download" -q -j $n $extra -i "$tmp/lsmall" -d .
			[ -n "$base" ] && stat1 old "$base/threaded-download" -q -j $n -i "$tmp/lsmall" -d .
		else
			stat1 old "$base/threaded-download" -q -j $n -i "$tmp/lsmall" -d .
			stat1 new "$bin/threaded-download" -q -j $n $extra -i "$tmp/lsmall" -d .
		fi
		[ -z "$extra" ] &&
			stat1 curl curl -s --parallel --parallel-max $n --remote-name-all $(cat "$tmp/lsmall")
	done
	ref=curl
	[ -n "$base" ] && ref=old
	rw=$(awk '{ print $1 }' "$tmp/$ref" | median) rc=$(awk '{ print $2 }' "$tmp/$ref" | median)
	for t in new old curl; do
		[ -s "$tmp/$t" ] || continue
		w=$(awk '{ print $1 }' "$tmp/$t" | median) c=$(awk '{ print $2 }' "$tmp/$t" | median)
		case $t in
		new) l="threaded-download -j N${extra:+ $extra}" ;;
		old) l="threaded-download -j N ($base)" ;;
		curl) l="curl --parallel-max N" ;;
		esac
		printf '%-40s %3s %8.4f %8.4f %8s %8s\n' "$l" $n "$w" "$c" \
			"$(awk -v a="$w" -v b="$rw" 'BEGIN { printf "%.2f", a / b }')" \
			"$(awk -v a="$c" -v b="$rc" 'BEGIN { printf "%.2f", a / b }')"
	done
	[ -n "$base" ] && echo "  paired, new / base run by run (median, lowest-highest):" \
		"wall $(pairs 1), cpu $(pairs 2)"
done
echo "(x wall, x cpu: over the $( [ -n "$base" ] && echo "base build's" || echo "curl") median)"
fi

# 3. SIGKILL, then -c. The server logs the bytes it sent for each request
# (at its end, a killed one included): all of them, less the files' size,
# is what was sent twice or thrown away. A run of the same list without a
# kill shows what ranges cut at their ends throw away anyway (bytes already
# in the socket buffers); the difference is what the kill cost.
[[ $cases == *" kill "* ]] || exit 0
k=$(fh kill -r 2M)
for i in 1 2 3 4; do echo "http://127.0.0.1:$k/kill/k$i"; done >"$tmp/lkill"
total=$((4 * 24 * MiB))
sent() { awk '{ s += $5 } END { print s + 0 }' "$tmp/kill.log"; }
rm -rf "$outdir/o"; mkdir -p "$outdir/o"
(cd "$outdir/o" && "$bin/threaded-download" -q -i "$tmp/lkill" -d . -j 16 -s 4)
control=$(( $(sent) - total ))
: >"$tmp/kill.log"
rm -rf "$outdir/o"; mkdir -p "$outdir/o"
(cd "$outdir/o" && exec "$bin/threaded-download" -q -i "$tmp/lkill" -d . -j 16 -s 4) &
pid=$!
sleep 2
kill -KILL $pid
wait $pid 2>/dev/null
(cd "$outdir/o" && "$bin/threaded-download" -q -i "$tmp/lkill" -d . -j 16 -s 4 -c)
rc=$?
killed=$(( $(sent) - total ))
whole=0
for i in 1 2 3 4; do cmp -s "$tmp/www/kill/k$i" "$outdir/o/k$i" && whole=$((whole + 1)); done
echo
echo "## SIGKILL after 2 s of a 4 x 24 MiB list (-j 16 -s 4, 2 MiB/s per connection), then -c"
echo "exit $rc; $whole of 4 files whole"
awk -v c="$control" -v k="$killed" -v m=$MiB 'BEGIN {
	printf "sent beyond the files: %.2f MiB without a kill, %.2f MiB with kill and -c\n", c / m, k / m
	r = k - c
	printf "the kill cost %.2f MiB = %.2f s of one connection; %.3f of the bound (16 connections x 1 s x 2 MiB/s)\n",
		r / m, r / (2 * m), r / (16 * 2 * m) }'

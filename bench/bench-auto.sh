#!/bin/bash
# SPDX-License-Identifier: ISC
# bench-auto.sh -- download-accelerator -n auto against fixed counts and
# axel, in one run, in the regimes the controller must tell apart:
#   percap  fault-httpd capping each connection at 2 MiB/s, 100 MiB:
#           auto against -n 16 and axel -n 16 (parallel pays)
#   link    fault-httpd with one 20 MiB/s link for all, 200 MiB: auto
#           against the link, and the connections it holds on average,
#           counted at the server's socket every 0.1 s (it does not pay)
#   small   256 KiB at 1 MiB/s per connection: auto against the best of
#           -n 1, 2, 4 (five downloads of each a run)
#   uncapped 1 GiB from nginx on loopback: auto against -n 4, four
#           pairs a run, each side first in two of them; the ratio is
#           the median of the pairs' ratios (single downloads here
#           swing by 10 % and more, a pair's two far less)
#   perclient fault-httpd allowing 4 connections per client (503 with
#           Retry-After beyond), 2 MiB/s each, 40 MiB: auto against
#           4 x cap, and the 503s it met (none may fail the download)
#   throttle fault-httpd at 4 MiB/s per connection under a 16 MiB/s link,
#           the cap falling to 1 MiB/s 10 s after the first request
#           (a fresh server each download), 200 MiB: auto against the
#           best of -n 4 (the count that fills the link before) and -n 16
#           (after); auto must raise its count to keep up
# Medians of BENCH_RUNS (3) runs; ratios within this run.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
top=${NT_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NT_BIN:-$top/build/plain/bin}
HELP=${NT_HELPERS:-$top/build/plain/helpers}
RUNS=${BENCH_RUNS:-3}
DA=$BIN/download-accelerator

for t in axel ss nginx; do
	command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] ||
		{ echo "bench-auto: $t missing (scripts/deps bench)" >&2; exit 1; }
done
base=/dev/shm
[ -d $base ] && [ -w $base ] || base=${TMPDIR:-/tmp}
B=$(mktemp -d "$base/bench-auto.XXXXXX")
W=$B/www D=$B/dl R=$B/results
mkdir -p "$W" "$D" "$R"
PIDS=
cleanup() {
	[ -n "$PIDS" ] && kill $PIDS 2>/dev/null
	"$top/scripts/nginx-local" stop "$B/nginx" >/dev/null 2>&1
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

head -c $((100 << 20)) /dev/urandom >"$W/f100"
head -c $((200 << 20)) /dev/urandom >"$W/f200"
head -c $((256 << 10)) /dev/urandom >"$W/f256k"
head -c $((40 << 20)) /dev/urandom >"$W/f40"
head -c $((1024 << 20)) /dev/zero | tr '\0' x >"$W/big"

# serve NAME ARGS...: fault-httpd on a port of its own; sets PORT.
serve() {
	local name=$1
	shift
	"$HELP/fault-httpd" -d "$W" --no-faults -c 1024 "$@" \
		--portfile "$B/$name.port" 2>"$B/$name.err" &
	PIDS="$PIDS $!"
	for i in $(seq 100); do [ -s "$B/$name.port" ] && break; sleep 0.05; done
	PORT=$(cat "$B/$name.port")
}
serve percap -r 2M
PERCAP=$PORT
serve link --link 20M
LINK=$PORT
serve small -r 1M
SMALL=$PORT
serve perclient -r 2M --max-per-client 4 --log "$B/perclient.log"
PERCL=$PORT
mkdir -p "$B/nginx"
NP=$(NT_HELPERS=$HELP "$top/scripts/nginx-local" start "$B/nginx" "$W") ||
	{ echo "bench-auto: nginx did not start" >&2; exit 1; }

# one KEY PORT FILE CMD...: one timed download into an empty folder;
# appends "wall N avgconns" to $R/KEY (N from our result line, avgconns
# the established connections on PORT sampled every 0.1 s), or "fail".
one() {
	local key=$1 port=$2 name=$3 t0 t1 out sampler
	shift 3
	rm -rf "$D" && mkdir -p "$D"
	(
		while :; do
			ss -Htn state established "( sport = :$port )" | wc -l
			sleep 0.1
		done
	) >"$B/samples" &
	sampler=$!
	t0=$EPOCHREALTIME
	if out=$(cd "$D" && timeout 600 "$@" 2>"$B/err") &&
		t1=$EPOCHREALTIME && cmp -s "$D/$name" "$W/$name"; then
		kill $sampler
		wait $sampler 2>/dev/null
		awk -v a="$t0" -v b="$t1" -v n="$(echo "$out" | awk '{print $2}')" \
			'{s += $1; k++} END {printf "%.3f %s %.2f\n", b - a, n, k ? s / k : 0}' \
			"$B/samples" >>"$R/$key"
	else
		kill $sampler
		wait $sampler 2>/dev/null
		echo fail >>"$R/$key"
	fi
}

# throttled KEY CMD...: one download of f200 from a fresh server whose
# per-connection cap falls from 4 to 1 MiB/s 10 s after the first
# request, under a 16 MiB/s link; the URL is CMD's last word, with the
# port left for this function to add.
throttled() {
	local key=$1 pid
	shift
	rm -f "$B/throttle.port"
	"$HELP/fault-httpd" -d "$W" --no-faults -c 1024 -r 4M --link 16M \
		--rate-after 10:1M --portfile "$B/throttle.port" \
		2>"$B/throttle.err" &
	pid=$!
	for i in $(seq 100); do [ -s "$B/throttle.port" ] && break; sleep 0.05; done
	PORT=$(cat "$B/throttle.port")
	one "$key" "$PORT" f200 "$@" "$U:$PORT/f200"
	kill $pid
	wait $pid 2>/dev/null
}

# median KEY COLUMN: the median of a column (or "fail").
median() {
	[ -s "$R/$1" ] || { echo -; return; }
	grep -q fail "$R/$1" && { echo fail; return; }
	awk -v c="$2" '{print $c}' "$R/$1" | sort -n |
		awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratio() { # ratio A B: B / A, as "0.95x"
	case "$1$2" in *fail* | *-*) echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", b / a}'
}

# Memory given back to the host costs seconds a GiB when first touched
# again: a throwaway file of the big one's size takes that cost first.
head -c $((1024 << 20)) /dev/zero >"$D/warm" && rm -f "$D/warm"
echo "# bench-auto: $RUNS run(s), $(date -u '+%Y-%m-%d %H:%M UTC')"
U=http://127.0.0.1
for run in $(seq "$RUNS"); do
	one percap-auto $PERCAP f100 "$DA" -n auto "$U:$PERCAP/f100"
	one percap-16 $PERCAP f100 "$DA" -n 16 "$U:$PERCAP/f100"
	one percap-axel $PERCAP f100 axel -q -n 16 -o f100 "$U:$PERCAP/f100"
	one link-auto $LINK f200 "$DA" -n auto "$U:$LINK/f200"
	one link-1 $LINK f200 "$DA" -n 1 "$U:$LINK/f200"
	# A tenth of a second each: five of each count a run, taking turns,
	# so the median is not one moment's noise.
	for rep in 1 2 3 4 5; do
		for n in auto 1 2 4; do
			one small-$n $SMALL f256k "$DA" -n $n "$U:$SMALL/f256k"
		done
	done
	one perclient-auto $PERCL f40 "$DA" -n auto "$U:$PERCL/f40"
	echo "$(grep -c ' 503 ' "$B/perclient.log")" >>"$R/perclient-503"
	: >"$B/perclient.log"
	one perclient-4 $PERCL f40 "$DA" -n 4 "$U:$PERCL/f40"
	throttled throttle-auto "$DA" -n auto
	throttled throttle-4 "$DA" -n 4
	throttled throttle-16 "$DA" -n 16
	# Four pairs a run, each side first in two (auto, -n 4, -n 4,
	# auto, ...): the first of a pair after other work pays more. The
	# memory a GiB needs is touched first by a throwaway file each
	# time.
	for k in auto 4 4 auto auto 4 4 auto; do
		head -c $((1024 << 20)) /dev/zero >"$D/warm" && rm -f "$D/warm"
		one big-$k $NP big "$DA" -n $k "$U:$NP/big"
	done
done

a=$(median percap-auto 1) f=$(median percap-16 1) x=$(median percap-axel 1)
echo
echo "| cell | auto s (N, conns held) | against | ratio (goal) |"
echo "| --- | ---: | ---: | ---: |"
echo "| 2 MiB/s per connection, 100 MiB | $a ($(median percap-auto 2), $(median percap-auto 3)) | -n 16: $f | $(ratio "$a" "$f") (>= 0.95x) |"
echo "| same | | axel -n 16: $x | $(ratio "$a" "$x") (>= 1.00x) |"
a=$(median link-auto 1) o=$(median link-1 1)
echo "| 20 MiB/s link, 200 MiB | $a ($(median link-auto 2), $(median link-auto 3)) | the link: 10.000 | $(ratio "$a" 10) (>= 0.95x, conns <= 3) |"
echo "| same | | -n 1: $o | $(ratio "$a" "$o") |"
best=$(for n in 1 2 4; do median small-$n 1; done | sort -n | head -n 1)
a=$(median small-auto 1)
echo "| 256 KiB at 1 MiB/s per connection | $a ($(median small-auto 2)) | best fixed: $best | $(ratio "$a" "$best") (>= 0.91x) |"
a=$(median perclient-auto 1) f=$(median perclient-4 1)
echo "| 4 conns per client (503 beyond), 2 MiB/s each, 40 MiB | $a ($(median perclient-auto 2), $(median perclient-auto 3); 503s: $(sort -n "$R/perclient-503" | tr '\n' ' ' | sed 's/ $//')) | 4 x cap: 5.000 | $(ratio "$a" 5) (>= 0.90x) |"
echo "| same | | -n 4: $f | $(ratio "$a" "$f") |"
best=$(for n in 4 16; do median throttle-$n 1; done | sort -n | head -n 1)
a=$(median throttle-auto 1)
echo "| 4 -> 1 MiB/s per conn after 10 s, 16 MiB/s link, 200 MiB | $a ($(median throttle-auto 2), $(median throttle-auto 3)) | best of -n 4 ($(median throttle-4 1)), -n 16 ($(median throttle-16 1)): $best | $(ratio "$a" "$best") (>= 0.90x) |"
a=$(median big-auto 1) f=$(median big-4 1)
# The pairs' ratios, -n 4's time over auto's, and their median.
paste -d ' ' "$R/big-auto" "$R/big-4" | awk '
	$1 == "fail" || $4 == "fail" { print "fail"; next }
	{ printf "%.3f\n", $4 / $1 }' | sort -n >"$R/big-pairs"
pr=$(median big-pairs 1)
case $pr in fail | -) ;; *) pr=$(awk -v r="$pr" 'BEGIN {printf "%.2fx", r}') ;; esac
echo "| uncapped 1 GiB, nginx | $a ($(median big-auto 2)) | -n 4: $f | $pr (>= 0.95x), median of $(wc -l <"$R/big-pairs") pairs, $(head -n 1 "$R/big-pairs")-$(tail -n 1 "$R/big-pairs") |"

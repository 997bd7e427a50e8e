#!/bin/bash
# SPDX-License-Identifier: ISC
# bench-accel.sh -- download-accelerator side by side with axel, aria2c and
# curl, in one run: files of 1, 10 and 100 MiB with N = 1, 2, 4, 8, 16 from
# fault-httpd pacing each connection at 2 MiB/s (SO_MAX_PACING_RATE, a true
# per-connection cap), then a 1 GiB and a 1 MiB file from an uncapped
# nginx. Medians of several runs: wall time, CPU time, peak RSS.
#
# Knobs: BENCH_RUNS (3), BENCH_SIZES ("1 10 100", MiB), BENCH_NS
# ("1 2 4 8 16"), BENCH_BIG (1024, MiB), BENCH_CAP (2M per connection).
# Files live on tmpfs (/dev/shm) so the disk is not what is measured.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
top=${NT_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NT_BIN:-$top/build/plain/bin}
HELP=${NT_HELPERS:-$top/build/plain/helpers}
RUNS=${BENCH_RUNS:-3}
SIZES=${BENCH_SIZES:-1 10 100}
NS=${BENCH_NS:-1 2 4 8 16}
BIG=${BENCH_BIG:-1024}
CAP=${BENCH_CAP:-2M}
capb=$(( ${CAP%M} * 1048576 ))
DA=$BIN/download-accelerator

for t in axel aria2c curl /usr/bin/time nginx; do
	command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] ||
		{ echo "bench-accel: $t missing (scripts/deps bench)" >&2; exit 1; }
done
base=/dev/shm
[ -d $base ] && [ -w $base ] || base=${TMPDIR:-/tmp}
B=$(mktemp -d "$base/bench-accel.XXXXXX")
W=$B/www D=$B/dl R=$B/results
mkdir -p "$W" "$D" "$R"
FHPID=
cleanup() {
	[ -n "$FHPID" ] && kill "$FHPID" 2>/dev/null
	"$top/scripts/nginx-local" stop "$B/nginx" >/dev/null 2>&1
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

for s in $SIZES; do head -c $((s << 20)) /dev/urandom >"$W/f$s"; done
head -c $((BIG << 20)) /dev/zero | tr '\0' 'x' >"$W/big"
head -c $((1 << 20)) /dev/urandom >"$W/one"

"$HELP/fault-httpd" -d "$W" -r "$CAP" --no-faults -c 1024 \
	--portfile "$B/fh.port" 2>"$B/fh.err" &
FHPID=$!
for i in $(seq 100); do [ -s "$B/fh.port" ] && break; sleep 0.05; done
CAPPED=http://127.0.0.1:$(cat "$B/fh.port")
mkdir -p "$B/nginx"
NP=$(NT_HELPERS=$HELP "$top/scripts/nginx-local" start "$B/nginx" "$W") ||
	{ echo "bench-accel: nginx did not start" >&2; exit 1; }
FAST=http://127.0.0.1:$NP

# one TOOL N URL: one timed download into an empty folder; appends
# "wall cpu rss_kib" to $R/TOOL-N-NAME, or "fail" when it failed or the
# bytes differ.
one() {
	local tool=$1 n=$2 url=$3 name=${3##*/} key cmd
	key=$R/$tool-$n-$name
	rm -rf "$D" && mkdir -p "$D"
	case $tool in
	ours) cmd=("$DA" -q -n "$n" "$url") ;;
	axel) cmd=(axel -q -n "$n" -o "$D/$name" "$url") ;;
	aria2c) cmd=(aria2c -q -x "$n" -s "$n" -k 1M --allow-overwrite=true
		--auto-file-renaming=false -d "$D" -o "$name" "$url") ;;
	curl) cmd=(curl -s -o "$D/$name" "$url") ;;
	esac
	local t0=$EPOCHREALTIME t1
	# Wall time from bash's clock (microseconds); CPU and peak RSS from
	# GNU time.
	if (cd "$D" && timeout 600 /usr/bin/time -f '%U %S %M' \
		-o "$B/time" "${cmd[@]}" >/dev/null 2>"$B/err") &&
		t1=$EPOCHREALTIME && cmp -s "$D/$name" "$W/$name"; then
		awk -v a="$t0" -v b="$t1" '{printf "%.3f %.3f %s\n", b - a, $1 + $2, $3}' \
			"$B/time" >>"$key"
	else
		echo fail >>"$key"
	fi
	rm -f "$D/$name"
}

# median FILE COLUMN: the median of a column (or "fail").
median() {
	[ -s "$1" ] || { echo -; return; }
	grep -q fail "$1" && { echo fail; return; }
	awk -v c="$2" '{print $c}' "$1" | sort -n |
		awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo "# bench-accel: $RUNS run(s), per-connection cap $CAP (fault-httpd pacing), $(date -u '+%Y-%m-%d %H:%M UTC')"
for run in $(seq "$RUNS"); do
	for s in $SIZES; do
		one curl 1 "$CAPPED/f$s"
		for n in $NS; do
			for tool in ours axel aria2c; do
				one $tool "$n" "$CAPPED/f$s"
			done
		done
	done
	for tool in ours aria2c axel; do one $tool 4 "$FAST/big"; done
	one ours 16 "$FAST/big"
	one curl 1 "$FAST/big"
	one ours 8 "$FAST/one"
	one curl 1 "$FAST/one"
done

# pct TIME SIZE N: percent of N x cap reached.
pct() {
	case $1 in fail | -) echo "$1"; return ;; esac
	awk -v t="$1" -v s="$2" -v n="$3" -v c="$capb" \
		'BEGIN {printf "%.0f%%", 100 * (s * 1048576 / (n * c)) / t}'
}
ratio() {
	case "$1$2" in *fail* | *-*) echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", b / a}'
}

echo
echo "Capped at $CAP per connection: median wall seconds (percent of N x cap);"
echo "speedup = peer's time / ours."
echo
echo "| file | N | ours | axel | aria2c | curl (1 conn) | vs axel | vs aria2c |"
echo "| ---: | -: | ---: | ---: | ---: | ---: | ---: | ---: |"
for s in $SIZES; do
	c=$(median "$R/curl-1-f$s" 1)
	for n in $NS; do
		o=$(median "$R/ours-$n-f$s" 1)
		x=$(median "$R/axel-$n-f$s" 1)
		a=$(median "$R/aria2c-$n-f$s" 1)
		printf '| %s MiB | %s | %s (%s) | %s (%s) | %s (%s) | %s | %s | %s |\n' \
			"$s" "$n" "$o" "$(pct "$o" "$s" "$n")" "$x" "$(pct "$x" "$s" "$n")" \
			"$a" "$(pct "$a" "$s" "$n")" "$c" "$(ratio "$o" "$x")" "$(ratio "$o" "$a")"
	done
done

echo
echo "Uncapped nginx on loopback: median wall, throughput, CPU (user+sys) per GiB, peak RSS."
echo
echo "| file | tool | N | wall s | MiB/s | CPU s/GiB | peak RSS MiB |"
echo "| --- | --- | -: | ---: | ---: | ---: | ---: |"
for row in "big ours 4" "big ours 16" "big aria2c 4" "big axel 4" "big curl 1" \
	"one ours 8" "one curl 1"; do
	set -- $row
	f=$R/$2-$3-$1
	w=$(median "$f" 1) cpu=$(median "$f" 2) rss=$(median "$f" 3)
	mb=$BIG
	[ "$1" = one ] && mb=1
	if [ "$w" = fail ] || [ "$w" = - ]; then
		echo "| $1 | $2 | $3 | $w | | | |"
		continue
	fi
	awk -v f="$1" -v t="$2" -v n="$3" -v w="$w" -v c="$cpu" -v r="$rss" -v mb="$mb" \
		'BEGIN {printf "| %s (%d MiB) | %s | %s | %.3f | %.0f | %.2f | %.1f |\n",
			f, mb, t, n, w, (w > 0 ? mb / w : 0), c * 1024 / mb, r / 1024}'
done
o=$(median "$R/ours-4-big" 1); a=$(median "$R/aria2c-4-big" 1)
echo
echo "$BIG MiB at N = 4: ours $(ratio "$o" "$a") aria2c's throughput."

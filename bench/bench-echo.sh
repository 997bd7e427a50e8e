#!/bin/sh
# SPDX-License-Identifier: ISC
# bench-echo.sh -- echo-bench against every echo server mode and against a
# libuv reference server, at 1 to 10,000 connections and two message
# sizes; server pinned to CPU 0, load generator to CPU 1. Prints round
# trips/s, p99, stalled connections, server peak RSS, server CPU time per
# round trip (utime + stime from /proc/PID/stat, whole run including the
# accepts), and ratios to the libuv reference measured in the same run.
#
# Each figure is the median of ECHO_REPS runs (default 3), the servers
# taking turns. Environment: ECHO_SECONDS (timed phase per run, default 2),
# ECHO_CONNS (default "1 100 1000 10000"), ECHO_SIZES (default "64 16384"),
# ECHO_IDLE (silent connections beside 10 busy ones, default 10000; empty:
# no such row), ECHO_RAW (a folder to keep every run's figures in),
# ECHO_MODES (the servers, default "libuv poll epoll" and
# blocking at one connection; the libuv reference always runs, as the
# ratios' base).
set -eu
: "${NT_BIN:?run through bench/run}"
BB=$NT_BUILD/bench
SECS=${ECHO_SECONDS:-2}
REPS=${ECHO_REPS:-3}
CONNS=${ECHO_CONNS:-1 100 1000 10000}
SIZES=${ECHO_SIZES:-64 16384}
SCPU=0
CCPU=1
HZ=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-echo.XXXXXX")
spid=
cleanup() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
	# ECHO_RAW=DIR keeps every run's figures (one file per server).
	[ -n "${ECHO_RAW:-}" ] && mkdir -p "$ECHO_RAW" && cp "$tmp"/raw.* "$ECHO_RAW"/ 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

for p in "$NT_BIN/echo-bench" "$NT_BIN/echo-server-poll" "$NT_BIN/echo-server" \
	"$BB/uv-echo" "$BB/tcp-stream"; do
	[ -x "$p" ] || { echo "bench-echo: $p is not built (make bench builds it)" >&2; exit 1; }
done
if ! taskset -c $CCPU true 2>/dev/null; then
	echo "bench-echo: cannot pin to CPU $CCPU; running unpinned" >&2
	pin_s=
	pin_c=
else
	pin_s="taskset -c $SCPU"
	pin_c="taskset -c $CCPU"
fi

# srv NAME: starts a server mode on CPU 0; sets spid and port.
srv() {
	case $1 in
	blocking) set -- "$NT_BIN/echo-server" -b 127.0.0.1 -p 0 -q ;;
	poll) set -- "$NT_BIN/echo-server-poll" --backend poll -b 127.0.0.1 -p 0 -q ;;
	epoll) set -- "$NT_BIN/echo-server-poll" --backend epoll -b 127.0.0.1 -p 0 -q ;;
	libuv) set -- "$BB/uv-echo" ;;
	esac
	# The reference gets the same descriptor limit the others raise to.
	(ulimit -n "$(ulimit -Hn)"; exec $pin_s "$@") 2>"$tmp/srv.log" &
	spid=$!
	port=
	i=0
	while [ -z "$port" ] && [ $i -lt 100 ]; do
		sleep 0.05
		port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$tmp/srv.log")
		i=$((i + 1))
	done
	[ -n "$port" ] || { echo "bench-echo: $1 did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
}

srv_kill() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
val() { awk -v k="$1" '$1 == k {print $2}' "$tmp/out"; }

echo "echo servers: median of $REPS runs of ${SECS} s, server on CPU $SCPU, echo-bench on CPU $CCPU ($(nproc) CPUs)"
# stream: one loopback TCP stream with 16 KiB writes, sink on the server's
# CPU and source on the load generator's; prints its MiB/s. The 16 KiB
# echo goal is a share of this, and it swings from run to run, so it is
# measured beside every 16 KiB repetition and compared run by run.
stream() {
	# Gone first: the loop below must not read the last run's port.
	rm -f "$tmp/sink"
	$pin_s "$BB/tcp-stream" sink >"$tmp/sink" &
	sink=$!
	while [ ! -s "$tmp/sink" ]; do sleep 0.05; done
	$pin_c "$BB/tcp-stream" source "$(head -n 1 "$tmp/sink")" 16384 "$SECS"
	wait $sink
	sed -n 's/ MiB\/s$//p' "$tmp/sink"
}
echo

# median: the middle of the numbers on standard input.
median() { sort -n | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "-"}'; }

# run MODE C SIZE IDLE: one measurement; appends "rt/s MiB/s p99 stalled
# errors rss cpu" to $tmp/MODE.
run() {
	srv "$1"
	t0=$(ticks "$spid")
	$pin_c "$NT_BIN/echo-bench" -s 127.0.0.1 -p "$port" -c "$2" \
		-l "$3" -i "$4" -d "$SECS" >"$tmp/out" 2>"$tmp/err" || true
	t1=$(ticks "$spid")
	rss=$(hwm "$spid")
	srv_kill
	rt=$(val round-trips)
	if [ -z "$rt" ]; then
		echo "bench-echo: echo-bench failed against $1:" >&2
		cat "$tmp/err" >&2
		return 0
	fi
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$rt" \
		'BEGIN{ if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "-" }')
	echo "$(val round-trips/s) $(val MiB/s) $(val latency-p99) $(val stalled) $(val errors) $rss $cpu" >>"$tmp/$1"
	echo "$3 $2 $4 $(cat "$tmp/out" | awk '{ printf "%s=%s ", $1, $2 }') rss=$rss cpu_us_rt=$cpu" >>"$tmp/raw.$1"
}

# col MODE N: the median of column N over the repetitions.
col() { awk -v n="$2" '{print $n}' "$tmp/$1" | median; }

# group SIZE C IDLE LABEL: every server mode, REPS times, one row each.
group() {
	size=$1 c=$2 idle=$3 label=$4
	modes="libuv ${ECHO_MODES:-poll epoll}"
	modes=$(echo "$modes" | awk '{ for (i = 1; i <= NF; i++) if (!seen[$i]++) printf "%s ", $i }')
	# The blocking server serves one client at a time: only one
	# connection is a meaningful measurement for it.
	[ -z "${ECHO_MODES:-}" ] && [ "$c" -eq 1 ] && [ "$idle" -eq 0 ] &&
		modes="$modes blocking"
	for m in $modes; do : >"$tmp/$m"; done
	: >"$tmp/stream"
	# Repetitions interleave the servers, so a burst of load from
	# elsewhere on the machine hits them alike.
	r=0
	while [ $r -lt "$REPS" ]; do
		for m in $modes; do run $m "$c" "$size" "$idle"; done
		[ "$size" -ge 16384 ] && [ "$c" -eq 100 ] && stream >>"$tmp/stream"
		r=$((r + 1))
	done
	for m in $modes; do
		[ -s "$tmp/$m" ] || continue
		rts=$(col $m 1)
		cpu=$(col $m 7)
		# Ratios to the reference run by run (the runs take turns, so
		# run i of each server met the same moment's load), then their
		# median: drift on the machine cancels out of each pair.
		rr=$(pratio $m 1)
		cr=$(pratio $m 7)
		pr=$(pratio $m 3)
		# Stalled and errors: the worst repetition, not the median.
		st=$(awk '{print $4}' "$tmp/$m" | sort -n | tail -n 1)
		er=$(awk '{print $5}' "$tmp/$m" | sort -n | tail -n 1)
		printf '%-6s %9s %-9s %10.0f %9s %9s %7s %6s %8s %9s %8s %8s %8s\n' \
			"$size" "$label" "$m" "$rts" "$(col $m 2)" "$(col $m 3)" \
			"$st" "$er" "$(col $m 6)" "$cpu" "$rr" "$cr" "$pr"
		[ "$m" = libuv ] || [ "$REPS" -lt 3 ] || echo "$size $label $m $(pspread $m 1) $(pspread $m 7) $(pspread $m 3)" >>"$tmp/spread"
	done
	if [ -s "$tmp/stream" ]; then
		for m in $modes; do
			[ -s "$tmp/$m" ] || continue
			paste -d ' ' "$tmp/$m" "$tmp/stream" |
				awk '$8 > 0 { print $2 / $8 }' | median |
				awk -v m="$m" '{ printf "%s %.0f%%\n", m, $1 * 100 }'
		done | tr '\n' ' ' >"$tmp/share"
		echo "$size $label: one stream beside these runs $(median <"$tmp/stream") MiB/s (median);" \
			"echoed MiB/s as a share of it, run by run: $(cat "$tmp/share")" >>"$tmp/streams"
	fi
}

# pratio MODE N: the median over the runs of column N of MODE divided by
# column N of the libuv run it took turns with.
pratio() {
	paste -d ' ' "$tmp/$1" "$tmp/libuv" | awk -v n="$2" '
		{ a = $n; b = $(n + 7); if (a != "-" && b != "-" && b > 0) print a / b }' |
		median | awk '{ if ($1 == "-") print "-"; else printf "%.2f", $1 }'
}

# pspread MODE N: "LOW-HIGH (W/R)": the lowest and highest run-by-run
# ratio of column N, and in how many of the R runs it was at least 1.
pspread() {
	paste -d ' ' "$tmp/$1" "$tmp/libuv" | awk -v n="$2" '
		{ a = $n; b = $(n + 7); if (a == "-" || b == "-" || b <= 0) next
		  r = a / b; k++; if (k == 1 || r < lo) lo = r; if (k == 1 || r > hi) hi = r
		  if (r >= 1) w++ }
		END { if (k) printf "%.2f-%.2f(%d/%d)", lo, hi, w, k; else print "-" }'
}

printf '%-6s %9s %-9s %10s %9s %9s %7s %6s %8s %9s %8s %8s %8s\n' \
	size conns server "rt/s" "MiB/s" "p99 ms" stalled errors "RSS MiB" "CPU us/rt" "rt/s÷uv" "CPU÷uv" "p99÷uv"
for size in $SIZES; do
	for c in $CONNS; do
		group "$size" "$c" 0 "$c"
	done
done
# Mostly idle: 10 busy clients among 10,000 silent ones, where poll pays
# for every descriptor on every wait and epoll only for the ready ones.
[ -n "${ECHO_IDLE-10000}" ] && group 64 10 "${ECHO_IDLE-10000}" "10+${ECHO_IDLE-10000}i"
if [ -s "$tmp/streams" ]; then
	echo
	cat "$tmp/streams"
fi
if [ -s "$tmp/spread" ]; then
	echo
	echo "run-by-run ratios to libuv, lowest-highest (runs where the ratio was >= 1 of all):"
	printf '%-6s %9s %-9s %20s %20s %20s\n' size conns server "rt/s÷uv" "CPU÷uv" "p99÷uv"
	while read -r a b c d e f; do
		printf '%-6s %9s %-9s %20s %20s %20s\n' "$a" "$b" "$c" "$d" "$e" "$f"
	done <"$tmp/spread"
fi
echo
echo "rt/s: verified round trips per second; stalled: connections with no"
echo "round trip at all; RSS: server peak (VmHWM); CPU us/rt: server user +"
echo "system time over the whole run, divided by the round trips. Each"
echo "figure is a median over the repetitions; stalled and errors the worst;"
echo "the ratios are medians of run-by-run ratios to the libuv run beside it."

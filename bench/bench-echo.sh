#!/bin/sh
# bench-echo.sh -- echo-bench against every echo server mode and against a
# libuv reference server, at 1 to 10,000 connections and two message
# sizes; server pinned to CPU 0, load generator to CPU 1. Prints round
# trips/s, p99, stalled connections, server peak RSS, server CPU time per
# round trip (utime + stime from /proc/PID/stat, whole run including the
# accepts), and ratios to the libuv reference measured in the same run.
#
# Environment: ECHO_SECONDS (timed phase per run, default 3),
# ECHO_CONNS (default "1 100 1000 10000"), ECHO_SIZES (default "64 16384").
set -eu
: "${NT_BIN:?run through bench/run}"
BB=$NT_BUILD/bench
SECS=${ECHO_SECONDS:-3}
CONNS=${ECHO_CONNS:-1 100 1000 10000}
SIZES=${ECHO_SIZES:-64 16384}
SCPU=0
CCPU=1
HZ=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-echo.XXXXXX")
spid=
cleanup() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
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

echo "echo servers: ${SECS} s per run, server on CPU $SCPU, echo-bench on CPU $CCPU ($(nproc) CPUs)"
# One loopback TCP stream, for the 16 KiB comparison.
$pin_s "$BB/tcp-stream" sink >"$tmp/sink" &
sink=$!
while [ ! -s "$tmp/sink" ]; do sleep 0.05; done
$pin_c "$BB/tcp-stream" source "$(head -n 1 "$tmp/sink")" 16384 "$SECS"
wait $sink
stream=$(sed -n 's/ MiB\/s$//p' "$tmp/sink")
echo "one loopback TCP stream, 16 KiB writes: $stream MiB/s"
echo
printf '%-6s %6s %-9s %10s %9s %9s %7s %6s %8s %9s %8s %8s\n' \
	size conns server "rt/s" "MiB/s" "p99 ms" stalled errors "RSS MiB" "CPU us/rt" "rt/s÷uv" "CPU÷uv"
for size in $SIZES; do
	for c in $CONNS; do
		uvrt=
		uvcpu=
		for mode in libuv poll epoll blocking; do
			# The blocking server serves one client at a time: only
			# one connection is a meaningful measurement for it.
			[ $mode = blocking ] && [ "$c" -ne 1 ] && continue
			srv $mode
			t0=$(ticks "$spid")
			$pin_c "$NT_BIN/echo-bench" -s 127.0.0.1 -p "$port" -c "$c" \
				-l "$size" -d "$SECS" >"$tmp/out" 2>"$tmp/err" || true
			t1=$(ticks "$spid")
			rss=$(hwm "$spid")
			srv_kill
			rt=$(val round-trips)
			if [ -z "$rt" ]; then
				echo "bench-echo: echo-bench failed against $mode:" >&2
				cat "$tmp/err" >&2
				continue
			fi
			rts=$(val round-trips/s)
			cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$rt" \
				'BEGIN{ if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "-" }')
			if [ $mode = libuv ]; then
				uvrt=$rts
				uvcpu=$cpu
			fi
			rr=$(awk -v a="$rts" -v b="$uvrt" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
			cr=$(awk -v a="$cpu" -v b="$uvcpu" 'BEGIN{ if (b > 0 && a != "-") printf "%.2f", a / b; else print "-" }')
			printf '%-6s %6s %-9s %10.0f %9s %9s %7s %6s %8s %9s %8s %8s\n' \
				"$size" "$c" "$mode" "$rts" "$(val MiB/s)" "$(val latency-p99)" \
				"$(val stalled)" "$(val errors)" "$rss" "$cpu" "$rr" "$cr"
		done
	done
done
echo
echo "rt/s: verified round trips per second; stalled: connections with no"
echo "round trip at all; RSS: server peak (VmHWM); CPU us/rt: server user +"
echo "system time over the whole run, divided by the round trips."

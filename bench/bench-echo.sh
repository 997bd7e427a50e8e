#!/bin/sh
# SPDX-License-Identifier: ISC
# bench-echo.sh -- echo-bench against every echo server mode and against a
# libuv reference server; server pinned to CPU 0, load generator to CPU 1.
# Prints round trips/s, p99, stalled connections, server peak RSS, server
# CPU time per round trip (utime + stime from /proc/PID/stat, whole run
# including the accepts), ratios to the libuv reference measured in the
# same run, uring against epoll run by run, and how far echo-bench on
# uring moves the round-trip ceiling against echo-bench on epoll.
#
# Each figure is the median of ECHO_REPS runs (default 9), the servers
# taking turns; single runs on a shared 2-core machine swing by 10 % and
# more, so nine paired runs are the least that settles a ratio. To keep
# the whole under about 20 minutes, the default cells are the ones the
# goals name: 64 B at 1,000 and 10,000 connections, 16 KiB at 100 and
# 1,000. Environment: ECHO_SECONDS (timed phase per run, default 2),
# ECHO_CELLS (SIZE:CONNS pairs, default "64:1000 64:10000 16384:100
# 16384:1000"), or ECHO_CONNS and ECHO_SIZES, whose every pair is a cell
# (the full table: ECHO_CONNS="1 100 1000 10000" ECHO_SIZES="64 16384"),
# ECHO_IDLE (silent connections beside 10 busy ones, one row each,
# default "10000 19000": 19,000 is near the 20,000 descriptors allowed
# here; empty: no such row), ECHO_GEN (SIZE:CONNS cells where the
# generators are compared, default "64:100 64:1000"; empty: none),
# ECHO_RAW (a folder to keep every run's figures in), ECHO_MODES (the
# servers, default "poll epoll uring floor", and blocking at one
# connection; floor is bench/uring-echo, the least an io_uring echo server
# does, which shows how much of uring's cost is io_uring's own; the libuv
# reference always runs, as the ratios' base).
set -eu
: "${NT_BIN:?run through bench/run}"
BB=$NT_BUILD/bench
SECS=${ECHO_SECONDS:-2}
REPS=${ECHO_REPS:-9}
if [ -n "${ECHO_CONNS:-}${ECHO_SIZES:-}" ]; then
	CELLS=$(for s in ${ECHO_SIZES:-64 16384}; do
		for c in ${ECHO_CONNS:-1 100 1000 10000}; do echo "$s:$c"; done
	done)
else
	CELLS=${ECHO_CELLS:-64:1000 64:10000 16384:100 16384:1000}
fi
IDLE=${ECHO_IDLE-10000 19000}
GEN=${ECHO_GEN-64:100 64:1000}
MODES=${ECHO_MODES:-poll epoll uring floor}
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
	"$BB/uv-echo" "$BB/uring-echo" "$BB/tcp-stream"; do
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

who=bench-echo
. "$(dirname "$0")/echo-servers.sh"

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

# run MODE C SIZE IDLE [GEN [FILE]]: one measurement with echo-bench on
# the GEN backend (default epoll); appends "rt/s MiB/s p99 stalled errors
# rss cpu" to $tmp/FILE (default MODE).
run() {
	f=${6:-$1}
	srv "$1"
	t0=$(ticks "$spid")
	$pin_c "$NT_BIN/echo-bench" --backend "${5:-epoll}" -s 127.0.0.1 \
		-p "$port" -c "$2" -l "$3" -i "$4" -d "$SECS" >"$tmp/out" \
		2>"$tmp/err" || true
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
	echo "$(val round-trips/s) $(val MiB/s) $(val latency-p99) $(val stalled) $(val errors) $rss $cpu" >>"$tmp/$f"
	echo "$3 $2 $4 gen=${5:-epoll} $(awk '{ printf "%s=%s ", $1, $2 }' "$tmp/out") rss=$rss cpu_us_rt=$cpu" >>"$tmp/raw.$f"
}

# col FILE N: the median of column N over the repetitions.
col() { awk -v n="$2" '{print $n}' "$tmp/$1" | median; }

# pratio FILE BASE N: the median over the runs of column N of FILE divided
# by column N of the BASE run it took turns with.
pratio() {
	paste -d ' ' "$tmp/$1" "$tmp/$2" | awk -v n="$3" '
		{ a = $n; b = $(n + 7); if (a != "-" && b != "-" && b > 0) print a / b }' |
		median | awk '{ if ($1 == "-") print "-"; else printf "%.2f", $1 }'
}

# pspread FILE BASE N: "LOW-HIGH (W/R)": the lowest and highest run-by-run
# ratio of column N, and in how many of the R runs it was at least 1.
pspread() {
	paste -d ' ' "$tmp/$1" "$tmp/$2" | awk -v n="$3" '
		{ a = $n; b = $(n + 7); if (a == "-" || b == "-" || b <= 0) next
		  r = a / b; k++; if (k == 1 || r < lo) lo = r; if (k == 1 || r > hi) hi = r
		  if (r >= 1) w++ }
		END { if (k) printf "%.2f-%.2f(%d/%d)", lo, hi, w, k; else print "-" }'
}

# has WORD LIST...: whether WORD is one of LIST.
has() {
	w=$1
	shift
	for x in "$@"; do [ "$x" = "$w" ] && return 0; done
	return 1
}

# row SIZE LABEL MODE: one line of the main table.
row() {
	printf '%-6s %9s %-9s %10.0f %9s %9s %7s %6s %8s %9s %8s %8s %8s\n' \
		"$1" "$2" "$3" "$(col $3 1)" "$(col $3 2)" "$(col $3 3)" \
		"$(awk '{print $4}' "$tmp/$3" | sort -n | tail -n 1)" \
		"$(awk '{print $5}' "$tmp/$3" | sort -n | tail -n 1)" \
		"$(col $3 6)" "$(col $3 7)" "$(pratio $3 libuv 1)" \
		"$(pratio $3 libuv 7)" "$(pratio $3 libuv 3)"
}

# group SIZE C IDLE LABEL [REPS]: every server mode, REPS times, one row
# each.
group() {
	size=$1 c=$2 idle=$3 label=$4 reps=${5:-$REPS}
	modes=$(echo "libuv $MODES" |
		awk '{ for (i = 1; i <= NF; i++) if (!seen[$i]++) printf "%s ", $i }')
	# The blocking server serves one client at a time: only one
	# connection is a meaningful measurement for it.
	[ -z "${ECHO_MODES:-}" ] && [ "$c" -eq 1 ] && [ "$idle" -eq 0 ] &&
		modes="$modes blocking"
	for m in $modes; do : >"$tmp/$m"; done
	: >"$tmp/stream"
	# Repetitions interleave the servers, so a burst of load from
	# elsewhere on the machine hits them alike.
	r=0
	while [ $r -lt "$reps" ]; do
		for m in $modes; do run $m "$c" "$size" "$idle"; done
		[ "$size" -ge 16384 ] && [ "$c" -eq 100 ] && stream >>"$tmp/stream"
		r=$((r + 1))
	done
	for m in $modes; do
		[ -s "$tmp/$m" ] || continue
		# Ratios to the reference run by run (the runs take turns, so
		# run i of each server met the same moment's load), then their
		# median: drift on the machine cancels out of each pair.
		# Stalled and errors: the worst repetition, not the median.
		row "$size" "$label" "$m"
		[ "$m" = libuv ] || [ "$reps" -lt 3 ] ||
			echo "$size $label $m $(pspread $m libuv 1) $(pspread $m libuv 7) $(pspread $m libuv 3)" >>"$tmp/spread"
	done
	# uring against epoll, the pair its goals name.
	if [ -s "$tmp/uring" ] && [ -s "$tmp/epoll" ]; then
		echo "$size $label $(pratio uring epoll 7) $(pspread uring epoll 7)" \
			"$(pratio uring epoll 3) $(pspread uring epoll 3)" \
			"$(pratio uring epoll 1) $(pspread uring epoll 1)" >>"$tmp/vsepoll"
	fi
	# uring against the floor: what the event loop adds to io_uring.
	if [ -s "$tmp/uring" ] && [ -s "$tmp/floor" ]; then
		echo "$size $label $(pratio uring floor 7) $(pspread uring floor 7)" \
			"$(pratio uring floor 1) $(pspread uring floor 1)" >>"$tmp/vsfloor"
	fi
	shares "$modes"
}

# shares MODES: each mode's echoed MiB/s as a share of the stream measured
# beside it, run by run.
shares() {
	[ -s "$tmp/stream" ] || return 0
	for m in $1; do
		[ -s "$tmp/$m" ] || continue
		paste -d ' ' "$tmp/$m" "$tmp/stream" |
			awk '$8 > 0 { print $2 / $8 }' | median |
			awk -v m="$m" '{ printf "%s %.0f%%\n", m, $1 * 100 }'
	done | tr '\n' ' ' >"$tmp/share"
	echo "$size $label: one stream beside these runs $(median <"$tmp/stream") MiB/s (median);" \
		"echoed MiB/s as a share of it, run by run: $(cat "$tmp/share")" >>"$tmp/streams"
}

# gens SIZE C: the same server driven by echo-bench on epoll and on
# uring, taking turns; how far the uring generator moves round trips/s.
gens() {
	servers=
	for m in epoll uring; do has $m $MODES && servers="$servers $m"; done
	for m in $servers; do : >"$tmp/$m.epoll"; : >"$tmp/$m.uring"; done
	r=0
	while [ $r -lt "$REPS" ]; do
		for m in $servers; do
			run $m "$2" "$1" 0 epoll "$m.epoll"
			run $m "$2" "$1" 0 uring "$m.uring"
		done
		r=$((r + 1))
	done
	for m in $servers; do
		[ -s "$tmp/$m.epoll" ] && [ -s "$tmp/$m.uring" ] || continue
		printf '%-6s %6s %-7s %12.0f %12.0f %8s %-18s %9s %9s\n' \
			"$1" "$2" "$m" "$(col $m.epoll 1)" "$(col $m.uring 1)" \
			"$(pratio $m.uring $m.epoll 1)" "$(pspread $m.uring $m.epoll 1)" \
			"$(col $m.epoll 7)" "$(col $m.uring 7)"
	done
}

printf '%-6s %9s %-9s %10s %9s %9s %7s %6s %8s %9s %8s %8s %8s\n' \
	size conns server "rt/s" "MiB/s" "p99 ms" stalled errors "RSS MiB" "CPU us/rt" "rt/s÷uv" "CPU÷uv" "p99÷uv"
for cell in $CELLS; do
	group "${cell%%:*}" "${cell#*:}" 0 "${cell#*:}"
done
# Mostly idle: 10 busy clients among thousands of silent ones, where poll
# pays for every descriptor on every wait and epoll only for the ready
# ones; the largest shows the memory a held connection costs. Memory
# does not swing like time does: ECHO_IDLE_REPS (default 3) runs each.
for i in $IDLE; do
	group 64 10 "$i" "10+${i}i" "${ECHO_IDLE_REPS:-3}"
done
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
if [ -s "$tmp/vsepoll" ]; then
	echo
	echo "uring against epoll, medians of run-by-run ratios (lowest-highest, runs >= 1 of all):"
	printf '%-6s %9s %27s %27s %27s\n' size conns "CPU÷epoll" "p99÷epoll" "rt/s÷epoll"
	while read -r a b c d e f g h; do
		printf '%-6s %9s %27s %27s %27s\n' "$a" "$b" "$c $d" "$e $f" "$g $h"
	done <"$tmp/vsepoll"
fi
if [ -s "$tmp/vsfloor" ]; then
	echo
	echo "uring against floor (bench/uring-echo), medians of run-by-run ratios:"
	printf '%-6s %9s %27s %27s\n' size conns "CPU÷floor" "rt/s÷floor"
	while read -r a b c d e f; do
		printf '%-6s %9s %27s %27s\n' "$a" "$b" "$c $d" "$e $f"
	done <"$tmp/vsfloor"
fi
if [ -n "$GEN" ]; then
	echo
	echo "load generators: echo-bench --backend epoll against --backend uring, same server, taking turns:"
	printf '%-6s %6s %-7s %12s %12s %8s %-18s %9s %9s\n' size conns server \
		"rt/s epoll" "rt/s uring" "uring÷ep" "lowest-highest" "CPU/rt e" "CPU/rt u"
	for cell in $GEN; do
		gens "${cell%%:*}" "${cell#*:}"
	done
fi
echo
echo "rt/s: verified round trips per second; stalled: connections with no"
echo "round trip at all; RSS: server peak (VmHWM); CPU us/rt: server user +"
echo "system time over the whole run, divided by the round trips (at one"
echo "size, CPU per MiB is in the same ratio). Each figure is a median over"
echo "the repetitions; stalled and errors the worst; the ratios are medians"
echo "of run-by-run ratios to the run beside it."

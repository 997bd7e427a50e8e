#!/bin/sh
# SPDX-License-Identifier: ISC
# echo-profile.sh -- where an echo server's CPU goes, server by server: the
# share of perf samples inside the socket calls (the TCP work every server
# pays alike, which on loopback includes delivering each echo to the
# client's socket), in the event mechanism (epoll_wait, read and write
# around the socket calls, or io_uring's own code), and in user space; and
# how many waits (epoll_wait or io_uring_enter) the server made a round
# trip. Not part of bench/run: it needs perf (Debian: linux-perf), the
# reference server built (make bench builds it), and root or
# kernel.perf_event_paranoid <= 1.
#
#   bench/echo-profile.sh BUILD_DIR [SERVER...]
#
# SERVER: libuv (the reference), poll, epoll, uring, floor (bench/uring-echo,
# the least an io_uring echo server does); default "libuv epoll
# uring". Environment: PROFILE_CONNS (default 1000), PROFILE_SIZE (64),
# PROFILE_SECONDS (sampled seconds, default 3). The server runs on CPU 0,
# echo-bench on CPU 1, as in bench-echo.sh.
#
# If the socket calls' work is the same for every server, a server's CPU
# per round trip against another's is the inverse ratio of their socket
# shares: the "expected ÷ first" column.
set -eu
[ $# -ge 1 ] || { echo "usage: bench/echo-profile.sh BUILD_DIR [SERVER...]" >&2; exit 2; }
B=$(cd "$1" && pwd)
shift
[ $# -gt 0 ] || set -- libuv epoll uring
command -v perf >/dev/null 2>&1 ||
	{ echo "echo-profile: perf is not installed (Debian: linux-perf)" >&2; exit 1; }
CONNS=${PROFILE_CONNS:-1000}
SIZE=${PROFILE_SIZE:-64}
SECS=${PROFILE_SECONDS:-3}
for v in "$CONNS" "$SIZE" "$SECS"; do
	case $v in
	'' | *[!0-9]* | 0) echo "echo-profile: not a positive whole number: '$v'" >&2; exit 2 ;;
	esac
done
NT_BIN=$B/bin
BB=$B/bench
pin_s="taskset -c 0"
who=echo-profile
tmp=$(mktemp -d "${TMPDIR:-/tmp}/echo-profile.XXXXXX")
spid=
. "$(dirname "$0")/echo-servers.sh"
cleanup() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# shares: reads `perf script` output; prints the shares of the samples.
shares() {
	awk '
	function flush() {
		if (n == 0)
			return
		if (stk ~ / (__sock_sendmsg|sock_sendmsg|tcp_sendmsg)\+/)
			c["socket send"]++
		else if (stk ~ / (sock_recvmsg|inet_recvmsg|tcp_recvmsg)\+/)
			c["socket receive"]++
		else if (top !~ /kallsyms/)
			c["user space"]++
		else if (stk ~ /io_uring|io_run_local_work|io_submit_sqes|io_poll|io_cqring/)
			c["io_uring"]++
		else if (stk ~ /do_epoll_wait|ep_poll|ep_send_events/)
			c["epoll_wait"]++
		else if (stk ~ /ksys_read|ksys_write|vfs_read|vfs_write/ ||
		    stk ~ /__sys_recvfrom|__sys_sendto|do_sys_poll/)
			c["system calls"]++
		else
			c["other kernel"]++
		tot++
		n = 0
		stk = top = ""
	}
	/^[^ \t]/ { flush(); next }
	/^$/ { flush(); next }
	{ if (n == 0) top = $0; n++; stk = stk " " $2 }
	END {
		flush()
		if (tot == 0 || c["socket send"] + c["socket receive"] == 0)
			exit 1
		sock = (c["socket send"] + c["socket receive"]) / tot
		printf "%.3f", sock
		split("socket send|socket receive|io_uring|epoll_wait|" \
		    "system calls|other kernel|user space", k, "|")
		for (i = 1; i in k; i++)
			printf " %.1f", 100 * c[k[i]] / tot
		printf "\n"
	}'
}

echo "echo-profile: $CONNS connections, $SIZE B, $SECS s sampled a server"
printf '%-7s %8s %7s %7s %8s %6s %7s %6s %6s %8s %11s\n' server rt/s \
	"send%" "recv%" "uring%" "epoll%" "calls%" "other%" "user%" \
	waits/rt "expected÷1st"
first=
for m in "$@"; do
	srv "$m"
	taskset -c 1 "$B/bin/echo-bench" -s 127.0.0.1 -p "$port" -c "$CONNS" \
		-l "$SIZE" -d $((SECS * 2 + 3)) >"$tmp/out" 2>&1 &
	gen=$!
	sleep 2 # connected and past the start
	perf record -q -g -o "$tmp/perf.data" -p "$spid" -- sleep "$SECS" \
		>/dev/null 2>"$tmp/perf.err" || {
		echo "echo-profile: perf record failed: $(head -n 1 "$tmp/perf.err")" >&2
		exit 1
	}
	ev=
	for c in epoll_wait epoll_pwait epoll_pwait2 io_uring_enter poll ppoll; do
		ev="$ev${ev:+,}syscalls:sys_enter_$c"
	done
	# Without the syscall tracepoints (no tracefs), waits/rt is "-".
	perf stat -x, -e "$ev" -p "$spid" -o "$tmp/stat" -- sleep "$SECS" \
		>/dev/null 2>&1 || : >"$tmp/stat"
	wait "$gen" || true
	srv_kill
	rate=$(awk '$1 == "round-trips/s" {print $2}' "$tmp/out")
	waits=$(awk -F, '$1 ~ /^[0-9]+$/ {s += $1; k++}
		END {if (k) print s; else print "-"}' "$tmp/stat")
	shares=$(perf script -i "$tmp/perf.data" 2>/dev/null | shares) || {
		echo "echo-profile: $m: no samples in the socket calls" >&2
		exit 1
	}
	sock=${shares%% *}
	[ -n "$first" ] || first=$sock
	echo "$m ${rate:-0} $waits $SECS $shares $first" | awk '{
		w = $3 == "-" || $2 <= 0 ? "-" : sprintf("%.3f", $3 / ($2 * $4))
		printf "%-7s %8.0f %7s %7s %8s %6s %7s %6s %6s %8s %11.3f\n",
		    $1, $2, $6, $7, $8, $9, $10, $11, $12, w, $13 / $5 }'
done

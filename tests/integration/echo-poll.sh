# SPDX-License-Identifier: ISC
# echo-poll.sh -- echo-server-poll on every backend (poll, epoll, uring)
# under real load: many clients verified byte for byte, every size, idle
# timeouts, a client that never reads, resets, connect-close cycles,
# shedding, workers, SIGTERM, IPv6; echo-bench on every backend too.
# timeout: 300
# serial: ten thousand connections and the shedding limits want both processors
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/echo.lib"
S=$NT_BIN/echo-server-poll
B=$NT_BIN/echo-bench
P=$NT_HELPERS/echo-peer
H=127.0.0.1

# Under ASan freed blocks stay resident in its quarantine (256 MiB by
# default), so a server that allocates and frees per message (the uring
# send queue) would fail the RSS bound for memory it no longer holds. A
# 4 MiB quarantine still catches use after free of recent blocks.
if [ "${NT_VARIANT:-plain}" = asan ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
fi

# The same sizes in every variant: under ASan and TSan these still take
# well under a second each.
clients=1000
cycles=10000

# The backends that work here: uring needs a kernel with io_uring.
backends="poll epoll uring"
out=$(timeout 10 "$B" --backend uring -s $H -p 1 2>&1 >/dev/null)
case "$out" in
*"--backend uring:"*)
	echo "ok - uring backend # SKIP $out"
	backends="poll epoll"
	;;
esac
# echo-bench runs on the backend under test as well.
BB=epoll

# bench NAME ARGS...: runs echo-bench, output in $T_TMP/NAME.out.
bench() {
	local name=$1
	shift
	timeout 60 "$B" --backend $BB -s $H -p "$SPORT" "$@" >"$T_TMP/$name.out" 2>&1
}

for be in $backends; do
	BB=$be
	srv_start "$be" "$S" --backend $be -b $H -p 0 -q || { notok "$be: server starts"; continue; }
	ok "$be: server starts"
	pid=$SPID

	# Many clients at once, each verified byte for byte by echo-bench.
	bench many -c $clients -n 3 -l 512 -T 2 -d 40
	is "$?" 0 "$be: $clients concurrent clients, 3 round trips each, no error"
	is "$(field round-trips "$T_TMP/many.out")" $((clients * 3)) "$be: all $((clients * 3)) round trips verified"
	is "$(field stalled "$T_TMP/many.out")" 0 "$be: no stalled client"

	# More clients sending at once than the uring backend has receive
	# buffers (128 of 16 KiB): its ring runs dry, receives are re-armed,
	# and nothing is lost or stalls.
	bench dry -c 300 -n 2 -l 64k -T 2 -d 40
	is "$?/$(field round-trips "$T_TMP/dry.out")/$(field stalled "$T_TMP/dry.out")" "0/600/0" \
		"$be: 300 clients x 64 KiB at once (more than the buffers) all echoed"

	# Every size from one byte to a mebibyte.
	for len in 1 100 4096 65536 1M; do
		bench "size$len" -c 4 -n 3 -l $len -d 30
		rc=$?
		is "$rc/$(field round-trips "$T_TMP/size$len.out")" "0/12" "$be: $len-byte messages echoed intact"
	done

	# A client that writes 100 MiB and never reads: the server stops
	# reading it, so its memory stays flat and others are served as usual.
	rss0=$(rss_kib $pid)
	timeout 30 "$P" flood $H "$SPORT" $((100 << 20)) 3 >"$T_TMP/flood.out" &
	fpid=$!
	sleep 1
	bench beside -c 10 -n 200 -l 64 -d 20
	rc=$?
	rss1=$(rss_kib $pid)
	wait $fpid
	is "$?" 0 "$be: the flooding client is neither reset nor closed"
	wrote=$(sed -n 's/^wrote \([0-9]*\) bytes$/\1/p' "$T_TMP/flood.out")
	check "$be: the flooding client is throttled (wrote ${wrote:-?} of 104857600 bytes)" \
		test "${wrote:-104857600}" -lt $((100 << 20))
	check "$be: server RSS stays bounded while flooded ($rss0 -> $rss1 KiB)" \
		test $((rss1 - rss0)) -lt 8192
	p99=$(field latency-p99 "$T_TMP/beside.out")
	is "$rc/$(field round-trips "$T_TMP/beside.out")" "0/2000" "$be: another client is served while one floods"
	check "$be: ... with p99 latency ${p99:-?} ms under 500 ms" awk -v p="${p99:-999}" 'BEGIN{exit !(p < 500)}'

	# Abrupt resets, then the server still serves.
	timeout 30 "$P" reset $H "$SPORT" 50
	is "$?" 0 "$be: 50 clients reset their connections"
	bench after -c 10 -n 10 -d 20
	is "$?" 0 "$be: the server serves after the resets"

	# Connect-close cycles leave the descriptor count where it started
	# (once the clients before have all been closed).
	fd0=$(nfds $pid)
	for i in $(seq 1 20); do
		sleep 0.1
		fd1=$(nfds $pid)
		[ "$fd1" -eq "$fd0" ] && break
		fd0=$fd1
	done
	timeout 120 "$P" cycles $H "$SPORT" $cycles
	is "$?" 0 "$be: $cycles connect-echo-close cycles"
	for i in $(seq 1 40); do
		fd1=$(nfds $pid)
		[ "$fd1" -eq "$fd0" ] && break
		sleep 0.05
	done
	is "$fd1" "$fd0" "$be: descriptor count back where it started"

	# SIGTERM with a client whose output cannot be flushed: exits 0
	# after the bounded flush, with the summary.
	timeout 30 "$P" flood $H "$SPORT" $((100 << 20)) 6 >/dev/null 2>&1 &
	fpid=$!
	sleep 0.5
	srv_stop 10
	wait $fpid
	is "$SRC" 0 "$be: SIGTERM exits 0"
	check "$be: ... promptly (${SSECS} s, flush bounded at 2 s)" awk -v s="$SSECS" 'BEGIN{exit !(s < 4)}'
	check "$be: ... with a one-line summary" \
		grep -Eq '^echo-server-poll: served [0-9]+ clients \(workers [0-9]+\), echoed [0-9]+ bytes, shed 0 connections$' "$SLOG"

	# Idle timeout: silent clients go after -t; busy ones stay.
	srv_start "idle-$be" "$S" --backend $be -b $H -p 0 -q -t 1.5 || notok "$be: server with -t starts"
	out=$(timeout 20 "$P" idle $H "$SPORT" 10)
	secs=$(echo "$out" | sed -n 's/^closed after \([0-9.]*\) s$/\1/p')
	check "$be: a silent client is closed after the idle timeout (${secs:-never} s)" \
		awk -v s="${secs:-99}" 'BEGIN{exit !(s >= 1.3 && s <= 4)}'
	bench busy -c 5 -d 2.5 -l 64
	is "$?/$(field stalled "$T_TMP/busy.out")" "0/0" "$be: clients busy for longer than the timeout are not closed"
	# Quiet for 1.2 s, one echo, quiet 0.8 s: 2 s after connecting but
	# only 0.8 s after it last spoke, so it must still be open. (The loop
	# slept through the 1.2 s; the echo must be stamped with the time the
	# wait ended, not the time it began.)
	out=$(timeout 20 "$P" late $H "$SPORT" 1.2 0.8)
	is "$out" "$(echo "$out" | grep '^both echoed')" "$be: a client that spoke late in its idle period keeps it ($out)"

	srv_stop 10
	is "$SRC" 0 "$be: server with -t exits 0"
done
BB=epoll

# Busy clients among many silent ones (echo-bench -i): all served, the
# silent ones kept open.
srv_start mostly-idle "$S" --backend poll -b $H -p 0 -q || notok "server for idle crowd starts"
bench crowd -c 5 -i 300 -n 20 -d 20
is "$?/$(field round-trips "$T_TMP/crowd.out")" "0/100" "5 busy clients beside 300 silent ones all served"
check "the 300 silent ones stay connected" grep -q '^idle  *300 (300 connected)$' "$T_TMP/crowd.out"
srv_stop 10
check "the server counted all 305 (and echo-bench's address probe)" grep -q 'served 306 clients' "$SLOG"

# IPv6, where the machine has ::1.
if srv_start v6 "$S" --backend epoll -b ::1 -p 0 -q 2>/dev/null; then
	bench v6 -c 10 -n 5 -d 20 -s ::1
	is "$?/$(field round-trips "$T_TMP/v6.out")" "0/50" "echo over IPv6 (::1)"
	srv_stop 10
else
	echo "ok - IPv6 echo # SKIP no ::1 on this machine"
fi

# The client limit: connections beyond -m are closed at once.
srv_start limit "$S" --backend epoll -b $H -p 0 -q -m 10 || notok "server with -m starts"
out=$(timeout 20 "$P" hold $H "$SPORT" 20 5)
is "$out" "echoed 10 closed 10" "-m 10: ten clients served, ten shed"
srv_stop 10
check "-m 10: the shed connections are counted" grep -q 'shed 10 connections$' "$SLOG"

# Out of descriptors: shed without spinning, recover afterwards.
for be in $backends; do
	srv_start "emfile-$be" prlimit --nofile=40:40 "$S" --backend $be -b $H -p 0 -q ||
		{ notok "$be: server at 40 descriptors starts"; continue; }
	t0=$(cpu_ticks $SPID)
	out=$(timeout 20 "$P" hold $H "$SPORT" 80 3)
	rc=$?
	t1=$(cpu_ticks $SPID)
	echoed=$(echo "$out" | awk '{print $2}')
	closed=$(echo "$out" | awk '{print $4}')
	check "$be: at the descriptor limit some are served, the rest shed ($out)" \
		test "$rc" -eq 0 -a "${echoed:-0}" -gt 10 -a "${closed:-0}" -gt 10
	check "$be: ... and the server does not spin ($((t1 - t0)) ticks of CPU)" test $((t1 - t0)) -lt 50
	bench recover -c 10 -n 5 -d 20
	is "$?" 0 "$be: serves again once descriptors are free"
	srv_stop 10
	is "$SRC" 0 "$be: exits 0 after shedding"
done

# Workers sharing the port with SO_REUSEPORT.
for be in epoll uring; do
	case " $backends " in *" $be "*) ;; *) continue ;; esac
	BB=$be
	srv_start "workers-$be" "$S" --backend $be -w 2 -b $H -p 0 -q || notok "$be: two workers start"
	# (ThreadSanitizer runs one background thread of its own.)
	want=3
	[ "${NT_VARIANT:-plain}" = tsan ] && want=4
	is "$(ls /proc/$SPID/task | wc -l)" $want "$be: -w 2: two worker threads beside the main one"
	bench w2 -c 200 -n 5 -l 100 -T 2 -d 30
	is "$?/$(field round-trips "$T_TMP/w2.out")" "0/1000" "$be: -w 2: 200 clients verified"
	srv_stop 10
	is "$SRC" 0 "$be: -w 2: SIGTERM exits 0"
	check "$be: -w 2: both workers served clients ($(grep -o 'workers [0-9+]*' "$SLOG"))" \
		grep -Eq 'workers [1-9][0-9]*\+[1-9][0-9]*\)' "$SLOG"
done
BB=epoll

# IPv6 and the client limit on uring too.
if [ "$backends" != "poll epoll uring" ]; then
	:
elif srv_start v6u "$S" --backend uring -b ::1 -p 0 -q 2>/dev/null; then
	BB=uring
	bench v6u -c 10 -n 5 -d 20 -s ::1
	is "$?/$(field round-trips "$T_TMP/v6u.out")" "0/50" "uring: echo over IPv6 (::1)"
	srv_stop 10
	BB=epoll
	srv_start limitu "$S" --backend uring -b $H -p 0 -q -m 10 || notok "uring: server with -m starts"
	out=$(timeout 20 "$P" hold $H "$SPORT" 20 5)
	is "$out" "echoed 10 closed 10" "uring: -m 10: ten clients served, ten shed"
	srv_stop 10
fi

# A kernel without io_uring (as seccomp, the sysctl or an old kernel
# leave it): one line saying why, exit 1; the other backends still work.
err=$(NT_EVLOOP_NO_URING=1 timeout 10 "$S" --backend uring -b $H -p 0 -q 2>&1 >/dev/null)
is "$?" 1 "no io_uring: echo-server-poll --backend uring exits 1"
is "$err" "echo-server-poll: --backend uring: io_uring is not available here" "... with one line saying why"
err=$(NT_EVLOOP_NO_URING=1 timeout 10 "$B" --backend uring -s $H -p 1 2>&1 >/dev/null)
is "$?" 1 "no io_uring: echo-bench --backend uring exits 1"
is "$err" "echo-bench: --backend uring: io_uring is not available here" "... with one line saying why"
if NT_EVLOOP_NO_URING=1 srv_start nouring "$S" -b $H -p 0 -q; then
	NT_EVLOOP_NO_URING=1 timeout 30 "$B" -s $H -p "$SPORT" -c 5 -n 5 -d 10 >"$T_TMP/nouring.out" 2>&1
	is "$?/$(field round-trips "$T_TMP/nouring.out")" "0/25" "no io_uring: the default backends still serve"
	srv_stop 10
else
	notok "no io_uring: the default backend starts"
fi

# Under valgrind (plain build): a short session and a clean exit. Not the
# uring backend: valgrind 3.19 takes io_uring_enter for a system call that
# never blocks, so a worker waiting in it stops every other thread of the
# server (its signals too) until the wait ends. (test_evloop runs the
# backend under valgrind, single-threaded.)
if [ -n "$NT_VALGRIND" ]; then
	echo "ok - valgrind: uring backend server # SKIP valgrind 3.19 stalls the other threads while one waits in io_uring_enter"
	srv_start vg $NT_VALGRIND "$S" --backend epoll -b $H -p 0 -t 5 || notok "server under valgrind starts"
	timeout 120 $NT_VALGRIND "$B" -s $H -p "$SPORT" -c 20 -n 5 -l 3000 -T 2 -d 60 >"$T_TMP/vg.out" 2>&1
	is "$?/$(field round-trips "$T_TMP/vg.out")" "0/100" "valgrind: 20 clients served, echo-bench clean too"
	timeout 10 "$P" reset $H "$SPORT" 3
	srv_stop 30
	is "$SRC" 0 "valgrind: no error, no leak, exit 0"
	srv_start vgp $NT_VALGRIND "$S" --backend poll -b $H -p 0 || notok "poll server under valgrind starts"
	bench vgp -c 20 -n 5 -l 3000 -d 30
	srv_stop 30
	is "$SRC" 0 "valgrind: poll backend, no error, no leak, exit 0"
	out=$(timeout 60 $NT_VALGRIND "$B" -s $H -p 1 2>&1)
	is "$?" 1 "valgrind: echo-bench to a closed port exits 1 cleanly"
fi

# Usage.
for args in "--backend kqueue" "--backend" "-t -1" "-t x" "-m 0" "-w 0" "-w 65" "-p 65536" "stray"; do
	err=$(timeout 5 "$S" $args 2>&1 >/dev/null)
	is "$?" 2 "echo-server-poll $args exits 2"
done
err=$(timeout 5 "$S" --backend kqueue 2>&1 >/dev/null)
check "echo-server-poll names the bad backend" sh -c 'echo "$1" | head -n 1 | grep -q "^echo-server-poll: kqueue: invalid backend"' _ "$err"
for args in "-c 0" "-l 0" "-l 65M" "-d 0" "-T 0" "-n x" "-p 0" "--backend kqueue"; do
	timeout 5 "$B" $args >/dev/null 2>&1
	is "$?" 2 "echo-bench $args exits 2"
done
err=$(timeout 10 "$B" -s $H -p 1 2>&1 >/dev/null)
is "$?" 1 "echo-bench with no server exits 1"
check "echo-bench names the server and the reason" sh -c 'echo "$1" | grep -q "^echo-bench: 127.0.0.1 port 1: Connection refused$"' _ "$err"
for p in "$S" "$B"; do
	n=$(basename "$p")
	timeout 5 "$p" --help | grep -q "^usage: $n" && ok "$n --help" || notok "$n --help"
	timeout 5 "$p" --version | grep -q "^$n (netthreads) " && ok "$n --version" || notok "$n --version"
done
done_testing

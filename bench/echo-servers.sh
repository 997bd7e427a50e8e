# SPDX-License-Identifier: ISC
# echo-servers.sh -- sourced by bench-echo.sh and echo-profile.sh: starts
# and stops the echo servers they compare. The caller sets NT_BIN (the
# programs), BB (the build's bench/ helpers), tmp (a private folder),
# pin_s (a command prefix pinning the server to its CPU, or empty) and
# who (its name, for messages).

# srv NAME: starts a server (blocking, poll, epoll, uring, libuv, the
# reference, or floor, the least an io_uring echo server does); sets spid
# and port.
srv() {
	case $1 in
	blocking) set -- "$NT_BIN/echo-server" -b 127.0.0.1 -p 0 -q ;;
	poll) set -- "$NT_BIN/echo-server-poll" --backend poll -b 127.0.0.1 -p 0 -q ;;
	epoll) set -- "$NT_BIN/echo-server-poll" --backend epoll -b 127.0.0.1 -p 0 -q ;;
	uring) set -- "$NT_BIN/echo-server-poll" --backend uring -b 127.0.0.1 -p 0 -q ;;
	libuv) set -- "$BB/uv-echo" ;;
	floor) set -- "$BB/uring-echo" ;;
	*) echo "$who: unknown server: $1" >&2; exit 2 ;;
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
	[ -n "$port" ] || { echo "$who: $1 did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
}

srv_kill() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=
}

# SPDX-License-Identifier: ISC
# echo.sh -- the blocking echo-server and echo-client, as a user runs them.
# timeout: 120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/echo.lib"
S=$NT_BIN/echo-server
C=$NT_BIN/echo-client
P=$NT_HELPERS/echo-peer

srv_start blocking $NT_VALGRIND "$S" -b 127.0.0.1 -p 0 || { notok "echo-server starts"; done_testing; exit; }
ok "echo-server starts on a kernel-chosen port ($SPORT)"

out=$(printf 'a\nb\n' | timeout 30 $NT_VALGRIND "$C" -s 127.0.0.1 -p "$SPORT")
is "$?" 0 "echo-client with piped input exits 0"
is "$out" "$(printf 'a\nb')" "piped 'a' and 'b' come back as two lines, no prompt"

# Lines far longer than any socket buffer: the client must send and
# receive at once, or both sides would block in send.
head -c 1500000 /dev/urandom | base64 -w 0 >"$T_TMP/long"
echo >>"$T_TMP/long"
head -c 300000 /dev/urandom | base64 -w 0 >>"$T_TMP/long"
echo >>"$T_TMP/long"
printf 'tail without newline' >>"$T_TMP/long"
timeout 30 "$C" -s 127.0.0.1 -p "$SPORT" <"$T_TMP/long" >"$T_TMP/long.out"
is "$?" 0 "echo-client with 2 MB and 400 kB lines exits 0"
{ cat "$T_TMP/long"; echo; } | cmp -s - "$T_TMP/long.out" && ok "long lines echoed byte for byte" || notok "long lines echoed byte for byte"

# On a terminal (script(1) gives it one): the banner and a prompt per line.
(sleep 0.3; printf 'hello\n'; sleep 0.3; printf '\n') |
	timeout 20 script -qec "'$C' -s 127.0.0.1 -p $SPORT" /dev/null | tr -d '\r' >"$T_TMP/tty"
is "${PIPESTATUS[1]}" 0 "echo-client on a terminal exits 0"
is "$(head -n 1 "$T_TMP/tty")" "Enter a blank line to stop." "on a terminal it prints the banner"
is "$(grep -c '^> ' "$T_TMP/tty")" 2 "and a '> ' prompt before each line"
is "$(grep -c '^hello$' "$T_TMP/tty")" 1 "and the echo of the line"

out=$(printf 'one\n\nnever\n' | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT")
is "$out" "one" "a blank line stops the client"

# A client that resets: logged, and the server serves the next one.
timeout 20 "$P" reset 127.0.0.1 "$SPORT" 3
is "$?" 0 "three clients reset their connections"
out=$(printf 'after reset\n' | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT")
is "$out" "after reset" "the server serves the next client after resets"
check "the reset is logged" grep -q 'closed (Connection reset by peer' "$SLOG"
check "connections are logged opened and closed" \
	sh -c 'grep -c "connected$" "$1" | grep -qx 8 && grep -c "closed (" "$1" | grep -qx 8' _ "$SLOG"

# One at a time: a second client waits until the first is done.
( printf 'first\n'; sleep 1; printf 'first again\n' ) | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT" >"$T_TMP/first" &
fpid=$!
sleep 0.3
t0=$EPOCHREALTIME
out=$(printf 'second\n' | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT")
waited=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print (b-a >= 0.4) ? "yes" : "no"}')
wait $fpid
is "$out" "second" "the second client is served"
is "$waited" yes "only after the first one has finished"
is "$(cat "$T_TMP/first")" "$(printf 'first\nfirst again')" "the first client got both its lines"

srv_stop 10
is "$SRC" 0 "echo-server exits 0 on SIGTERM"
check "and prints a summary" grep -q '^echo-server: served [0-9]* clients, echoed [0-9]* bytes$' "$SLOG"

# The client's errors.
err=$(printf 'x\n' | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT" 2>&1 >/dev/null)
is "$?" 1 "echo-client to a closed port exits 1"
check "and names the server and the reason" \
	sh -c 'echo "$1" | grep -q "^echo-client: 127.0.0.1 port [0-9]*: Connection refused$"' _ "$err"
err=$(printf 'x\n' | timeout 10 "$C" -s no-such-host.invalid -p 3000 2>&1 >/dev/null)
is "$?" 1 "echo-client to an unknown host exits 1"
check "and says so" sh -c 'echo "$1" | grep -q "^echo-client: no-such-host.invalid port 3000: "' _ "$err"

# A server that closes early: a poll server at its one-client limit.
srv_start shed "$NT_BIN/echo-server-poll" -b 127.0.0.1 -p 0 -m 1 -q || notok "poll server starts"
timeout 20 "$P" idle 127.0.0.1 "$SPORT" 5 >/dev/null &
ipid=$!
sleep 0.3
err=$(printf 'x\n' | timeout 10 "$C" -s 127.0.0.1 -p "$SPORT" 2>&1 >/dev/null)
is "$?" 1 "echo-client whose server closes early exits 1"
check "and says the server closed the connection" \
	sh -c 'echo "$1" | grep -Eq "^echo-client: 127.0.0.1 port [0-9]*: (server closed the connection|.*reset by peer)$"' _ "$err"
srv_stop 10
wait $ipid

# IPv6, where the machine has ::1.
if srv_start v6 "$S" -b ::1 -p 0 -q 2>/dev/null; then
	out=$(printf 'over six\n' | timeout 10 "$C" -s ::1 -p "$SPORT")
	is "$out" "over six" "echo over IPv6 (::1)"
	srv_stop 10
else
	echo "ok - IPv6 echo # SKIP no ::1 on this machine"
fi

# Usage.
for args in "-p 70000" "-p x" "extra"; do
	timeout 5 "$S" $args >/dev/null 2>&1
	is "$?" 2 "echo-server $args exits 2"
done
err=$(timeout 5 "$S" -p 70000 2>&1)
check "echo-server names the bad port" sh -c 'echo "$1" | head -n 1 | grep -q "^echo-server: 70000: invalid port"' _ "$err"
for args in "-p 0" "-p abc" "-s ''"; do
	eval "timeout 5 \"$C\" $args" </dev/null >/dev/null 2>&1
	is "$?" 2 "echo-client $args exits 2"
done
timeout 5 "$S" --help | grep -q '^usage: echo-server' && ok "echo-server --help" || notok "echo-server --help"
timeout 5 "$C" --help | grep -q '^usage: echo-client' && ok "echo-client --help" || notok "echo-client --help"
timeout 5 "$S" --version | grep -q '^echo-server (netthreads) ' && ok "echo-server --version" || notok "echo-server --version"
timeout 5 "$C" --version | grep -q '^echo-client (netthreads) ' && ok "echo-client --version" || notok "echo-client --version"
done_testing

# SPDX-License-Identifier: ISC
# accel-resume.sh -- download-accelerator stopped by SIGINT, SIGTERM and
# SIGKILL, then resumed with -c; refused resumes; a file that changes on the
# server in mid-download is never stitched from two versions.
# timeout: 200
. "$(dirname "$0")/lib.sh"
DA=$NT_BIN/download-accelerator
W=$T_TMP/www
mkdir -p "$W" "$T_TMP/dl"
SIZE=$((16 << 20))
head -c $SIZE /dev/urandom >"$W/f8"
cat >"$T_TMP/snippet" <<EOS
# Capped, until the test creates .fast: a resume then runs uncapped from
# the same URL (a state file belongs to its URL).
location /slow/ {
	alias $W/;
	limit_rate 1m;
	if (-f $W/.fast) { set \$limit_rate 0; }
}
location /mixed/ {
	alias $W/;
	limit_rate 1m;
	# The probe (bytes=0-) runs fast, so its connection soon steals work
	# and sends a new request while the others still run.
	if (\$http_range = "bytes=0-") { set \$limit_rate 16m; }
}
EOS
nginx_start "$W" "$T_TMP/snippet" || { notok "nginx starts"; done_testing; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP/dl" || exit 1

# stopped SIG SECONDS: starts a capped download (about 2 s), sends SIG
# after SECONDS; sets rc and errs.
stopped() {
	rm -f f8 f8.part f8.part.state "$W/.fast"
	rm -f "$T_TMP/pid"
	# The signal goes to the program itself, not to timeout (which would
	# pass INT and TERM on but not KILL).
	timeout 60 sh -c 'echo $$ >"$1"; shift; exec "$@"' _ "$T_TMP/pid" \
		"$DA" -q -n 2 "$U/slow/f8" >"$T_TMP/out" 2>"$T_TMP/err" &
	local pid=$!
	sleep "$2"
	kill -"$1" "$(cat "$T_TMP/pid")"
	wait $pid 2>/dev/null
	rc=$?
	errs=$(cat "$T_TMP/err")
}

# resumed DESC: resumes from the fast location and checks the result.
resumed() {
	local out
	touch "$W/.fast"
	out=$(timeout 60 $NT_VALGRIND "$DA" -c -n 4 "$U/slow/f8" 2>"$T_TMP/err")
	rc=$?
	errs=$(cat "$T_TMP/err")
	is "$rc" 0 "$1: -c exits 0"
	check "$1: same bytes after resume" cmp -s f8 "$W/f8"
	kept=$(echo "$errs" | sed -n 's/.*resumed with \([0-9]*\) of '$SIZE' bytes.*/\1/p')
	# Two connections at 1 MiB/s for $2 seconds: at least a second's
	# worth must have been kept.
	check "$1: resume kept bytes already here (${kept:-none})" \
		[ "${kept:-0}" -ge $((1 << 20)) -a "${kept:-0}" -lt $SIZE ]
	check "$1: state and .part gone" sh -c '! ls f8.part* 2>/dev/null | grep -q .'
	echo "$out" | grep -Eq "^$U/slow/f8 4 $SIZE [0-9.]+$" && ok "$1: one stdout line" ||
		notok "$1: stdout line ($out)"
}

stopped INT 1
is "$rc" 1 "SIGINT: exits 1"
is "$errs" "download-accelerator: $U/slow/f8: interrupted; f8.part kept, resume with -c" \
	"SIGINT: says the .part is kept"
check "SIGINT: no file under the final name" [ ! -e f8 ]
is "$(stat -c %s f8.part 2>/dev/null)" $SIZE "SIGINT: f8.part kept at full size"
check "SIGINT: state file kept, whole" sh -c 'head -n 1 f8.part.state | grep -q "^netthreads-accel-state 2$" && tail -n 1 f8.part.state | grep -q "^sha256 [0-9a-f]\{64\}$"'
check "SIGINT: nothing on stdout" [ ! -s "$T_TMP/out" ]
resumed SIGINT

stopped TERM 1
is "$rc" 1 "SIGTERM: exits 1"
check "SIGTERM: .part and state kept" [ -s f8.part -a -s f8.part.state ]
resumed SIGTERM

# SIGKILL gives no chance to save: the state written each second must do.
stopped KILL 1.5
check "SIGKILL: .part and a state file were left" [ -s f8.part -a -s f8.part.state ]
check "SIGKILL: the state file is whole (atomic)" sh -c 'tail -n 1 f8.part.state | grep -q "^sha256 [0-9a-f]\{64\}$"'
resumed SIGKILL

# -c without a state file starts over, and says so.
rm -f f8
out=$(timeout 60 "$DA" -c "$U/f8" 2>"$T_TMP/err")
is "$?" 0 "-c with nothing to resume exits 0"
check "and says it starts from the beginning" grep -q "no saved state; starting from the beginning" "$T_TMP/err"
check "and the file is right" cmp -s f8 "$W/f8"

# A state file that does not match the server's file is refused.
stopped INT 0.7
cp -p "$W/f8" "$T_TMP/f8.orig"
head -c $SIZE /dev/urandom >"$W/f8"
touch -d '2021-02-03 04:05:06' "$W/f8"
touch "$W/.fast"
out=$(timeout 60 "$DA" -c "$U/slow/f8" 2>"$T_TMP/err")
is "$?" 1 "resume against a changed file exits 1"
check "and says the state does not match" grep -q "f8.part.state does not match the file on the server now" "$T_TMP/err"
check "and keeps the .part (nothing lost)" [ -s f8.part -a -s f8.part.state ]
check "and creates no file" [ ! -e f8 ]
out=$(timeout 60 "$DA" "$U/f8" 2>"$T_TMP/err")
is "$?" 0 "without -c the new file downloads"
check "and it is the new file" cmp -s f8 "$W/f8"

# A state file without its .part is refused, and no empty .part appears.
stopped INT 0.7
rm -f f8.part
out=$(timeout 60 "$DA" -c "$U/slow/f8" 2>"$T_TMP/err")
is "$?" 1 "a state file without its .part is refused"
check "naming the missing .part" grep -q "f8.part: No such file or directory" "$T_TMP/err"
check "and no .part is created" [ ! -e f8.part ]

# A malformed state file is refused.
stopped INT 0.7
head -n 3 f8.part.state >f8.state.cut && mv f8.state.cut f8.part.state
out=$(timeout 60 "$DA" -c "$U/slow/f8" 2>"$T_TMP/err")
is "$?" 1 "a cut state file is refused"
check "with a clear message" grep -q "f8.part.state: not a valid state file" "$T_TMP/err"
check "and no file appears" [ ! -e f8 ]

# A state file made for another URL is refused, and nothing is lost.
stopped INT 0.7
out=$(timeout 60 "$DA" -c "$U/f8" 2>"$T_TMP/err")
is "$?" 1 "a state file of another URL is refused"
check "naming the URL it was made for" grep -q "f8.part.state: made for $U/slow/f8, not this URL" "$T_TMP/err"
check "and keeps the .part and state" [ -s f8.part -a -s f8.part.state ]

# The file changes on the server while the download runs: never stitched.
rm -f f8 f8.part f8.part.state
cp -p "$T_TMP/f8.orig" "$W/f8"
timeout 60 "$DA" -q -n 4 "$U/mixed/f8" >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
i=0
while [ ! -e f8.part ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
head -c $SIZE /dev/urandom >"$T_TMP/new" && touch -d '2022-01-01' "$T_TMP/new"
mv "$T_TMP/new" "$W/f8"
wait $pid
rc=$?
is "$rc" 1 "file changed mid-download: exits 1"
check "and says the file changed" grep -q "file changed on the server during the download" "$T_TMP/err"
check "and leaves no file, no .part" sh -c '! ls f8* 2>/dev/null | grep -q .'
done_testing

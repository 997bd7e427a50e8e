# SPDX-License-Identifier: ISC
# accel-hostile.sh -- download-accelerator against what an attacker or bad
# luck brings: a second run on the same output, planted symlinks, terminal
# escapes and huge headers from the server, credentials in the URL, long
# ETags, a full disk, a doctored state file, and a trickling connection.
# timeout: 240
. "$(dirname "$0")/lib.sh"
DA=$NT_BIN/download-accelerator
FH=$NT_HELPERS/fault-httpd
RH=$NT_HELPERS/raw-httpd
W=$T_TMP/www
mkdir -p "$W" "$T_TMP/dl"
SIZE=$((2 << 20))
head -c $SIZE /dev/urandom >"$W/f2"
head -c 200000 /dev/urandom >"$W/small"

# rh_start NAME REPLY...: starts raw-httpd, sets RPORT; stopped at exit.
rh_start() {
	local name=$1
	shift
	"$RH" --portfile "$T_TMP/$name.port" --log "$T_TMP/$name.log" "$@" &
	at_exit "kill $! 2>/dev/null"
	wait_file "$T_TMP/$name.port" && RPORT=$(cat "$T_TMP/$name.port")
}
fh_start main || { notok "fault-httpd starts"; done_testing; exit 1; }
U=http://127.0.0.1:$PORT
cd "$T_TMP/dl" || exit 1
ESC=$(printf '\033')
BEL=$(printf '\007')
# no_controls FILE: FILE holds no escape, BEL or carriage return.
no_controls() { ! grep -q "[$ESC$BEL$(printf '\r')]" "$1"; }

# 1. Two runs into one name: the loser changes nothing.
rm -f out out.part out.part.state
timeout 60 "$DA" -q -n 2 -o out "$U/fault/rate=400k/f2" >"$T_TMP/a.out" \
	2>"$T_TMP/a.err" &
first=$!
wait_file out.part.state
timeout 60 "$DA" -q -n 2 -o out "$U/f2" >"$T_TMP/b.out" 2>"$T_TMP/b.err"
is "$?" 1 "a second run into the same name exits 1"
check "and says another download is writing it" \
	grep -q "out.part: another download is writing it" "$T_TMP/b.err"
wait $first
is "$?" 0 "the first run still completes"
check "with the right bytes (the second did not empty its file)" \
	cmp -s out "$W/f2"
rm -f out

# 2. Planted symlinks are never followed.
printf 'precious\n' >"$T_TMP/victim"
ln -s "$T_TMP/victim" out.part
out=$(timeout 60 "$DA" -q -n 2 -o out "$U/f2" 2>"$T_TMP/err")
is "$?" 1 "a symlink at NAME.part: refused"
check "saying so" grep -q "out.part: is a symbolic link; not followed" \
	"$T_TMP/err"
is "$(cat "$T_TMP/victim")" precious "and its target is untouched"
check "the link is left as it was" [ -L out.part ]
rm -f out.part
ln -s "$T_TMP/victim" out.part.state.tmp
out=$(timeout 60 "$DA" -q -n 2 -o out "$U/f2" 2>"$T_TMP/err")
is "$?" 0 "a symlink at the state's temporary name: the download runs"
is "$(cat "$T_TMP/victim")" precious "and the link's target is untouched"
check "and the file is right" cmp -s out "$W/f2"
rm -f out out.part*
timeout 60 "$DA" -q -n 2 -o out "$U/fault/rate=400k/f2" >/dev/null \
	2>"$T_TMP/err" &
pid=$!
wait_file out.part.state
is "$(stat -c %a out.part.state)" 600 "the state file is mode 0600"
kill "$pid"
wait "$pid"
rm -f out out.part*

# 3. What a server says reaches the terminal printable.
printf 'HTTP/1.1 404 \033]0;pwned\007\033[2J\033[31mGone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >"$T_TMP/r404"
rh_start r404 "$T_TMP/r404"
out=$(timeout 30 "$DA" -q "http://127.0.0.1:$RPORT/x" 2>"$T_TMP/err")
is "$?" 1 "a 404 with escapes in its reason: exits 1"
check "the reason is shown" grep -q "HTTP 404 ?]0;pwned??\[2J?\[31mGone" \
	"$T_TMP/err"
check "with no escape, BEL or CR in it" no_controls "$T_TMP/err"
# ETags with C1 controls (CSI, as UTF-8 and as a raw byte: allowed in an
# ETag, obeyed by some terminals), shown when a range disagrees.
{
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-199999/200000\r\n'
	printf 'ETag: "\302\233]0;one"\r\nContent-Length: 200000\r\n\r\n'
	head -c 200000 "$W/small"
} >"$T_TMP/r206a"
{
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100000-199999/200000\r\n'
	printf 'ETag: "\2332Jtwo"\r\nContent-Length: 100000\r\n\r\n'
	head -c 100000 "$W/small"
} >"$T_TMP/r206b"
rh_start retag "$T_TMP/r206a" "$T_TMP/r206b"
out=$(timeout 30 "$DA" -q -n 2 "http://127.0.0.1:$RPORT/small" 2>"$T_TMP/err")
is "$?" 1 "ETags that differ: exits 1"
check "the ETags are shown" grep -q 'ETag "?2Jtwo"; expected 200000, ETag "??\]0;one"' "$T_TMP/err"
check "with no CSI byte" sh -c '! grep -q "$(printf "\233")" "$1"' _ "$T_TMP/err"
check "and no file is left" sh -c '! ls small* 2>/dev/null | grep -q .'

# 4. Passwords are never printed or stored; printed URLs keep the user
# name (UU), the state file none of the credentials.
SU=http://user:s3cret@127.0.0.1:$PORT
UU=http://user@127.0.0.1:$PORT
out=$(timeout 60 "$DA" -n 2 "$SU/f2" "$SU/missing" 2>"$T_TMP/err")
is "$?" 0 "a URL with credentials downloads"
is "$out" "$UU/f2 2 $SIZE ${out##* }" \
	"the result line shows it with the user, without the password"
check "a dropped mirror's warning names it without the password" \
	grep -q "^download-accelerator: $UU/missing: HTTP 404 Not Found; mirror dropped" "$T_TMP/err"
check "nothing on stdout or stderr holds the password" \
	sh -c '! grep -q s3cret "$1" && ! echo "$2" | grep -q s3cret' _ \
	"$T_TMP/err" "$out"
rm -f f2
out=$(timeout 60 "$DA" -n 2 "$SU/nothere" 2>"$T_TMP/err")
is "$?" 1 "a failing URL with credentials exits 1"
is "$(cat "$T_TMP/err")" \
	"download-accelerator: $UU/nothere: HTTP 404 Not Found" \
	"its error names it without the password"
timeout 60 "$DA" -q -n 2 "$SU/fault/rate=400k/f2" >/dev/null 2>&1 &
pid=$!
wait_file f2.part.state
kill -INT "$pid"
wait "$pid"
check "the state file holds the URL without credentials" \
	grep -q "^url $U/fault/rate=400k/f2$" f2.part.state
check "and nowhere the password" sh -c '! grep -q s3cret f2.part.state'
out=$(timeout 60 "$DA" -q -c -n 2 "$SU/fault/rate=400k/f2" 2>"$T_TMP/err")
is "$?" 0 "the resume, with the credentials again, matches the state"
check "and completes the file" cmp -s f2 "$W/f2"
rm -f f2
printf '%s\n%s\n' "$SU/f2" "$SU/gone" >"$T_TMP/list"
for prog in download threaded-download; do
	timeout 60 "$NT_BIN/$prog" -i "$T_TMP/list" -d "$T_TMP/b-$prog" \
		>"$T_TMP/bout" 2>"$T_TMP/berr"
	check "$prog: Downloading and saved lines without the password" \
		sh -c 'grep -q "^saved $1/f2 -> " "$2" && ! grep -q s3cret "$2"' \
		_ "$UU" "$T_TMP/bout"
	check "$prog: the failed line without the password" \
		sh -c 'grep -q "failed $1/gone: HTTP 404" "$2" && ! grep -q s3cret "$2"' \
		_ "$UU" "$T_TMP/berr"
done

# 5. Long ETags are sent back whole in If-Range.
out=$(timeout 60 "$DA" -q -n 4 "$U/fault/etaglen=300/f2" 2>"$T_TMP/err")
is "$?" 0 "an ETag of 300 characters: the ranges match it"
check "the file is right" cmp -s f2 "$W/f2"
check "If-Range carried it whole" sh -c \
	'grep -c "bytes=" "$1" | grep -qv "^0$"' _ "$T_TMP/main.log"
rm -f f2
out=$(timeout 60 "$DA" -q -n 4 "$U/fault/etaglen=1000/f2" 2>"$T_TMP/err")
is "$?" 0 "an ETag of 1000 characters too"
rm -f f2
{
	printf 'HTTP/1.1 200 OK\r\nETag: "'
	head -c 9000 /dev/zero | tr '\0' a
	printf '"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
} >"$T_TMP/rbigtag"
rh_start bigtag "$T_TMP/rbigtag"
out=$(timeout 30 "$DA" -q "http://127.0.0.1:$RPORT/x" 2>"$T_TMP/err")
is "$?" 1 "an ETag of 9000 bytes: refused"
check "with the reason" grep -q "the server's ETag is longer than 8192 bytes" \
	"$T_TMP/err"
check "and no file or .part" sh -c '! ls x* 2>/dev/null | grep -q .'

# 6. A failure leaves a file -c can resume, or none.
(ulimit -f 1000; trap '' XFSZ; exec timeout 60 "$DA" -q -n 2 "$U/f2") \
	>/dev/null 2>"$T_TMP/err"
is "$?" 1 "a file over the size limit: exits 1"
check "saying why" grep -q "f2.part: File too large" "$T_TMP/err"
check "and no f2 or f2.part remains" sh -c '! ls f2* 2>/dev/null | grep -q .'
printf 'HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775000\r\n\r\nxx' >"$T_TMP/rhuge"
rh_start huge "$T_TMP/rhuge"
out=$(timeout 30 "$DA" -q "http://127.0.0.1:$RPORT/huge" 2>"$T_TMP/err")
is "$?" 1 "a size near 2^63: exits 1"
check "saying why" grep -q "huge.part: File too large" "$T_TMP/err"
check "and no huge.part remains" sh -c '! ls huge* 2>/dev/null | grep -q .'
# A full disk (a 1 MiB tmpfs in a private mount namespace): the .part
# stays with a state, and -c completes it once there is room.
if unshare -m true 2>/dev/null; then
	mkdir -p "$T_TMP/small-fs"
	unshare -m sh -c '
		mount -t tmpfs -o size=1m tmpfs "$1" || exit 9
		cd "$1" || exit 9
		timeout 60 "$2" -q -n 2 "$3/f2" 2>"$4/full.err"
		echo "rc=$?" >"$4/full.rc"
		ls -a >"$4/full.ls"
		cp "$4/full.err" "$4/full.err.keep" 2>/dev/null; mount -o remount,size=8m "$1" || exit 9
		timeout 60 "$2" -q -c -n 2 "$3/f2" >/dev/null 2>"$4/resume.err"
		echo "rc=$?" >"$4/resume.rc"
		cmp -s f2 "$5/f2" && echo same >"$4/resume.cmp"
		ls -a >"$4/resume.ls"
	' _ "$T_TMP/small-fs" "$DA" "$U" "$T_TMP" "$W"
	is "$(cat "$T_TMP/full.rc" 2>/dev/null)" rc=1 "a full disk: exits 1"
	check "saying so, and that the .part is kept for -c" grep -q \
		"f2.part: write: No space left on device (f2.part kept: resume with -c)" \
		"$T_TMP/full.err"
	check "f2.part and its state stay; no f2" sh -c \
		'grep -qx f2.part "$1" && grep -qx f2.part.state "$1" && ! grep -qx f2 "$1"' \
		_ "$T_TMP/full.ls"
	is "$(cat "$T_TMP/resume.rc" 2>/dev/null)" rc=0 "-c once there is room: exits 0"
	check "and the file is right" [ -f "$T_TMP/resume.cmp" ]
else
	ok "full disk # SKIP no private mount namespace here (unshare -m)"
fi

# 7. A state file must prove itself.
rm -f f2*
timeout 60 "$DA" -q -n 2 "$U/fault/rate=400k/f2" >/dev/null 2>&1 &
pid=$!
wait_file f2.part.state
kill -INT "$pid"
wait "$pid"
cp f2.part.state "$T_TMP/state.orig"
grep -v '^range ' "$T_TMP/state.orig" >f2.part.state
out=$(timeout 60 "$DA" -q -c -n 2 "$U/fault/rate=400k/f2" 2>"$T_TMP/err")
is "$?" 1 "a state file with its ranges removed: refused"
check "as not valid" grep -q "f2.part.state: not a valid state file" "$T_TMP/err"
check "and no f2 appears" [ ! -e f2 ]
sed 's/^range \([0-9]*\) [0-9]* /range \1 \1 /' "$T_TMP/state.orig" >f2.part.state
out=$(timeout 60 "$DA" -q -c -n 2 "$U/fault/rate=400k/f2" 2>"$T_TMP/err")
is "$?" 1 "a state file edited by hand: refused"
check "as not valid" grep -q "f2.part.state: not a valid state file" "$T_TMP/err"
rm -f f2*

# 8. Messages that say what happened; a trickle is not waited for.
{
	printf 'HTTP/1.1 200 OK\r\nX-Big: '
	head -c $((1 << 20)) /dev/zero | tr '\0' a
	printf '\r\nContent-Length: 5\r\n\r\nhello'
} >"$T_TMP/rbighead"
rh_start bighead "$T_TMP/rbighead"
out=$(timeout 30 "$DA" -q "http://127.0.0.1:$RPORT/x" 2>"$T_TMP/err")
is "$?" 1 "a 1 MiB header line: exits 1"
check "saying the reply header is too large" \
	grep -q "reply header too large" "$T_TMP/err"
is "$(wc -l <"$T_TMP/bighead.log")" 1 "and asks only once"
# The first two requests trickle at 100 bytes/s.
out=$(timeout 60 "$DA" -q -n 2 --timeout 1 --min-speed 50k \
	"$U/fault/rate=100,times=2,id=trickle/f2" 2>"$T_TMP/err")
is "$?" 0 "--min-speed: trickling connections are replaced"
check "and the file is right" cmp -s f2 "$W/f2"
rm -f f2
out=$(timeout 60 "$DA" -q --min-speed fast "$U/f2" 2>"$T_TMP/err")
is "$?" 2 "--min-speed with a bad rate: exit 2"
check "naming it" grep -q "fast" "$T_TMP/err"

done_testing

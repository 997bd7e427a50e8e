# SPDX-License-Identifier: ISC
# batch.sh -- download and threaded-download against a private nginx:
# byte-for-byte copies, keep-alive, reserved names, hostile names, bad
# lines, the thread cap over 10,000 URLs, SIGINT and SIGKILL then -c, and
# bad usage.
# timeout: 240
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
V=${NT_VARIANT:-plain}

W=$T_TMP/www
mkdir -p "$W/f" "$W/any" "$W/big" "$W/many"
cat >"$T_TMP/snippet" <<NGX
location /any/ { try_files \$uri /payload; }
location /conn/ { default_type text/plain; return 200 "\$connection\n"; }
location /slow/ { limit_rate 200k; }
location /redir/ { return 302 /f/f1; }
location /loop/ { return 302 /loop/x; }
location /busy/ { add_header Retry-After 1 always; return 503; }
location /rate/ { add_header Retry-After 1 always; return 429; }
NGX
# 200 files of varied sizes, some empty, some over the 128 KiB buffer.
for i in $(seq 1 200); do
	head -c $(( (i * 7919) % 300000 * (i % 3) )) /dev/urandom >"$W/f/f$i"
done
echo payload >"$W/payload"
nginx_start "$W" "$T_TMP/snippet" || { notok "nginx starts"; done_testing; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP" || exit 1

# same_tree DIR: every file of www/f has an identical copy in DIR.
same_tree() {
	local i
	for i in $(seq 1 200); do
		cmp -s "$W/f/f$i" "$1/f$i" || { diag "f$i differs"; return 1; }
	done
	[ "$(ls -A "$1" | wc -l)" -eq 200 ] || { diag "$(ls -A "$1" | wc -l) files in $1"; return 1; }
}

for i in $(seq 1 200); do echo "$U/f/f$i"; done >urls200
timeout 120 "$D" -i urls200 -d d200 >out.d 2>err.d
is "$?" 0 "download: 200 files exit 0"
check "download: 200 files byte for byte, nothing else in DIR" same_tree d200
is "$(grep -c '^Downloading http' out.d)" 200 "download: a Downloading line per URL"
is "$(grep -Ec '^saved http://[^ ]+ -> d200/f[0-9]+ \([0-9]+ bytes, [0-9.]+ s\)$' out.d)" 200 \
	"download: a saved line per URL"
check "download: summary line" grep -Eq '^200 saved, 0 failed of 200 URLs; [0-9]+ bytes in [0-9.]+ s$' out.d
# Again into the same folder: every file replaced in place, nothing added.
timeout 120 "$D" -i urls200 -d d200 -q
is "$?" 0 "download again into the same folder exits 0"
check "the files replaced, none added" same_tree d200
# Every file split over up to 4 connections.
timeout 120 "$TD" -i urls200 -d n200 -j 8 -s 4 -q
is "$?" 0 "-s 4: exit 0"
check "-s 4: byte for byte, no .part left" same_tree n200
timeout 120 "$TD" -i urls200 -d t200 -j 8 >out.t 2>err.t
is "$?" 0 "threaded-download -j 8: 200 files exit 0"
check "threaded-download: 200 files byte for byte" same_tree t200
is "$(grep -c '^saved ' out.t)" 200 "threaded-download: a saved line per URL (not a tty: no progress line)"
timeout 120 "$TD" -i - -d tdef -q <urls200 >out.q 2>&1
is "$?" 0 "threaded-download default -j from stdin, -q"
check "threaded-download default -j: byte for byte" same_tree tdef
is "$(wc -c <out.q)" 0 "-q prints nothing when all is well"

# Keep-alive: /conn/ answers with nginx's connection serial number.
for i in $(seq 1 60); do echo "$U/conn/c$i"; done >uconn
timeout 60 $NT_VALGRIND "$D" -i uconn -d dconn -q -s 1
is "$?" 0 "download of 60 URLs (under valgrind in plain)"
is "$(cat dconn/c* | sort -u | wc -l)" 1 "download: 60 URLs over one connection"
timeout 60 "$TD" -i uconn -d tconn -j 4 -s 1 -q
n=$(cat tconn/c* | sort -u | wc -l)
check "threaded-download -j 4: 60 URLs over at most 4 connections ($n)" [ "$n" -le 4 ]

# Name collisions: input order decides the numbers, not finish order. The
# first x is big and slow, so the later ones finish first.
mkdir -p "$W/slow"
head -c 200000 /dev/urandom >"$W/slow/x"
mkdir -p "$W/a" "$W/b" "$W/c"
echo b >"$W/a/x"; echo c >"$W/b/x"; echo d >"$W/c/x"
printf '%s\n' "$U/slow/x" "$U/a/x" "$U/b/x?q=1" "$U/c/x#frag" >ucoll
for p in D TD; do
	prog=${!p}
	timeout 60 "$prog" -i ucoll -d "coll$p" -q
	is "$?" 0 "$p: colliding names exit 0"
	check "$p: first URL gets x" cmp -s "$W/slow/x" "coll$p/x"
	is "$(cat "coll$p/x.1") $(cat "coll$p/x.2") $(cat "coll$p/x.3")" "b c d" \
		"$p: later ones get x.1 x.2 x.3 in input order"
done

# Hostile names. /any/ serves "payload" for any path under it.
mkdir -p outside
echo victim >outside/victim
mkdir -p hostile
ln -s "$T_TMP/outside/victim" hostile/planted
ln -s "$T_TMP/outside" hostile/dirlink
long=$(printf 'L%.0s' $(seq 1 300))
cat >uhost <<EOF2
$U/any/a/b/c/%2e%2e%2f%2e%2e%2fescape
$U/any/a/b/%2e%2e
$U/any/a/..
$U/any/a/$long
$U/any/a/%0a%1b%5b31mred%07
$U/any/a/planted
$U/any/a/b/c/..%2f..%2foutside%2fvictim
$U/any/a/%2fetc%2fpasswd
$U/any/a/dirlink%2fvictim
EOF2
touch out.h err.h
before=$(ls -A "$T_TMP" | sort | tr '\n' ' ')
timeout 60 $NT_VALGRIND "$TD" -i uhost -d hostile -j 3 >out.h 2>err.h
is "$?" 0 "hostile names: all saved (valgrind in plain)"
is "$(cat outside/victim)" victim "a symlink planted in DIR is not followed"
check "the planted symlink was replaced by a regular file" test -f hostile/planted -a ! -L hostile/planted
is "$(cat hostile/planted)" payload "and holds the download"
is "$(ls -A "$T_TMP" | sort | tr '\n' ' ')" "$before" "nothing created beside DIR"
is "$(ls -A outside)" victim "nothing written through a symlinked folder"
check "%2e%2e%2f decodes to a name inside DIR" test -f hostile/_.._escape
check "'..' and '%2e%2e' become index.html, index.html.1" test -f hostile/index.html -a -f hostile/index.html.1
n=$(ls hostile | awk '{ if (length($0) > m) m = length($0) } END { print m }')
check "very long name capped (longest $n bytes)" [ "$n" -le 200 ]
check "control characters replaced" test -f hostile/__\[31mred_
is "$(ls -A hostile | grep -c '^\.')" 0 "no hidden or temporary files left"
is "$(find hostile -type f | wc -l)" 9 "9 files, all in DIR itself"
is "$(grep -c 'DIR\|/\.\./' out.h)" 0 "no saved name contains a path"

# Malformed lines, a 404, a redirect, a redirect loop.
cat >umixed <<EOF2
# a comment

   $U/f/f1   
ftp://example.org/x
not a url
$U/f/missing
$U/redir/r
$U/loop/l
	$U/f/f2	
http://
EOF2
timeout 60 "$D" -i umixed -d mixed >out.m 2>err.m
is "$?" 1 "download: bad lines and failures exit 1"
check "ftp line reported as umixed:4" grep -q '^download: umixed:4: ftp://example.org/x: not an http or https URL$' err.m
check "plain text reported as umixed:5" grep -q '^download: umixed:5: not a url: not an http or https URL$' err.m
check "empty host reported as umixed:10" grep -q '^download: umixed:10: http://: not an http or https URL$' err.m
check "404 reported" grep -q "^download: failed $U/f/missing: HTTP 404" err.m
check "redirect loop reported" grep -qi "^download: failed $U/loop/l: .*redirect" err.m
check "redirect followed, saved under the URL's name" cmp -s "$W/f/f1" mixed/r
check "blanks trimmed" cmp -s "$W/f/f2" mixed/f2
is "$(ls -A mixed | tr '\n' ' ')" "f1 f2 r " "failed downloads leave nothing behind"
check "summary counts" grep -q '^3 saved, 2 failed, 3 bad lines of 5 URLs' out.m

# 503 and 429 are retried, and Retry-After (1 s here) outweighs the
# 0.05 s backoff asked for; without retries they fail at once.
for kind in busy rate; do
	echo "$U/$kind/x" >ubusy
	t0=$EPOCHREALTIME
	timeout 30 "$D" -i ubusy -d busy --retries 1 --retry-wait 0.05 -q 2>err.b
	rc=$? t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	is "$rc" 1 "$kind: still failing after a retry exits 1"
	check "$kind: Retry-After honoured ($t s >= 1)" awk -v t="$t" 'BEGIN { exit !(t >= 0.95) }'
	check "$kind: reported with the status" grep -Eq "^download: failed $U/$kind/x: HTTP (503|429)" err.b
	t0=$EPOCHREALTIME
	timeout 30 "$D" -i ubusy -d busy --retries 0 -q 2>/dev/null
	t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	check "$kind: --retries 0 does not wait ($t s)" awk -v t="$t" 'BEGIN { exit !(t < 0.9) }'
done
is "$(ls -A busy | wc -l)" 0 "error pages are never saved"

# 10,000 URLs through -j 32 (every variant): 32 downloads at once over one worker thread
# per processor (at most 32), so the thread count never exceeds 1 + that. The TSan
# runtime adds one background thread of its own.
many=10000 workers=$(nproc)
[ "$workers" -gt 32 ] && workers=32
cap=$((1 + workers))
case "$V" in tsan) cap=$((cap + 1)) ;; esac
for i in $(seq 1 500); do echo "m$i" >"$W/many/m$i"; done
awk -v u="$U" -v n=$many 'BEGIN { for (i = 0; i < n; i++) printf "%s/many/m%d\n", u, i % 500 + 1 }' >umany
"$TD" -i umany -d dmany -j 32 -q >out.many 2>&1 &
pid=$!
max=0 samples=0
for i in $(seq 1 12000); do
	t=$(awk '/^Threads:/ { print $2 }' /proc/$pid/status 2>/dev/null) || break
	[ -z "$t" ] && break
	samples=$((samples + 1))
	[ "$t" -gt "$max" ] && max=$t
	sleep 0.01
done
kill $pid 2>/dev/null
wait $pid
rc=$?
is "$rc" 0 "$many URLs with -j 32 exit 0"
is "$(ls dmany | wc -l)" $many "$many files, one per URL"
check "thread count peaked at $max (<= $cap) over $samples samples" [ "$max" -le $cap -a "$max" -ge 2 -a "$samples" -ge 5 ]
is "$(cat dmany/m7.3)" m7 "a numbered copy holds the right body"

# -t: the worker threads. Eight slow URLs (500 KB each at nginx's 200 KB/s
# after a first second's worth: about 1.5 s over one connection, -s 1) at
# -j 8: with -t 8 a thread per download (8 workers and the main thread), by
# default one per processor; never more than -j.
head -c 500000 /dev/urandom >"$W/slow/m"
for i in 1 2 3 4 5 6 7 8; do echo "$U/slow/m?$i"; done >uthreads
for c in "8 9" "- $(( $(nproc) < 8 ? $(nproc) + 1 : 9 ))" "64 9"; do
	set -- $c
	t=${1#-} targ=${1:+-t $1} d=thr$1
	[ "$1" = - ] && targ=
	"$TD" -i uthreads -d "$d" -j 8 -s 1 $targ -q >/dev/null 2>&1 &
	pid=$!
	max=0
	for i in $(seq 1 400); do
		n=$(awk '/^Threads:/ { print $2 }' /proc/$pid/status 2>/dev/null) || break
		[ -z "$n" ] && break
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.01
	done
	wait $pid
	rc=$?
	want=$2
	case "$V" in tsan) want=$((want + 1)) ;; esac
	is "$rc/$(ls "$d" | wc -l)" "0/8" "-j 8 ${targ:-(default -t)}: all 8 saved"
	is "$max" "$want" "-j 8 ${targ:-(default -t)}: $want threads at the peak"
done

# SIGINT (and SIGTERM): stop, keep each partial file as NAME.part with its
# state, summary, exit 128+sig; then -c completes every file. One
# connection a file (-s 1), or two: nginx's limit_rate lets a second's
# worth through at once on each request, so more ranges would finish the
# files before the signal.
for i in 1 2 3 4; do head -c 2000000 /dev/urandom >"$W/slow/s$i"; done
printf '%s\n' "$U/f/f5" "$U/slow/s1" "$U/slow/s2" "$U/slow/s3" "$U/slow/s4" >uslow
# whole_or_part DIR: every file under a final name is a whole copy, and the
# rest are NAME.part files with their state.
whole_or_part() {
	local f
	for f in $(ls -A "$1"); do
		case $f in
		f5) cmp -s "$W/f/f5" "$1/f5" || return 1 ;;
		s[1-4]) cmp -s "$W/slow/$f" "$1/$f" || { diag "$f differs"; return 1; } ;;
		s[1-4].part | s[1-4].part.state) ;;
		*) diag "unexpected $f"; return 1 ;;
		esac
	done
}
# resumed DIR: the same list with -c completes it, fetching only the rest.
resumed() {
	timeout 60 "$TD" -i uslow -d "$1" -c -q || return 1
	for i in 1 2 3 4; do cmp -s "$W/slow/s$i" "$1/s$i" || return 1; done
	[ "$(ls -A "$1" | tr '\n' ' ')" = "f5 s1 s2 s3 s4 " ]
}
for c in "D INT 130" "TD INT 130" "TD TERM 143" "TD INT 130 split"; do
	set -- $c
	p=$1 sig=$2 want=$3 prog=${!1} jobs= d=int$1$2${4:-} split="-s 1"
	[ -n "${4:-}" ] && split="-s 2"
	[ "$p" = TD ] && jobs="-j 2"
	[ -n "${4:-}" ] && p="$p -s 2" jobs="-j 4"
	"$prog" -i uslow -d "$d" $jobs $split >out.i 2>err.i &
	pid=$!
	# f5 comes first and fast; then the slow ones are under way.
	for i in $(seq 1 100); do [ -f "$d/f5" ] && break; sleep 0.05; done
	sleep 0.3
	kill -$sig $pid
	for i in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	kill -KILL $pid 2>/dev/null
	wait $pid
	is "$?" $want "$p: SIG$sig exits $want"
	is "$(ls -A "$d" | grep -c '^\.')" 0 "$p: SIG$sig: no hidden or temporary files"
	check "$p: SIG$sig: what was saved is complete, the rest NAME.part" whole_or_part "$d"
	check "$p: SIG$sig: partial files kept" [ "$(ls "$d" | grep -c '\.part$')" -ge 1 ]
	check "$p: SIG$sig: summary says interrupted" grep -q 'interrupted)$' out.i
	check "$p: SIG$sig: says how to resume" grep -q '\.part kept: resume with -c)$' err.i
	check "$p: SIG$sig: -c completes every file" resumed "$d"
done 2>/dev/null
# SIGKILL leaves no partial file under a final name, and -c resumes.
"$TD" -i uslow -d kill9 -j 4 -s 1 -q >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 100); do [ -f kill9/f5 ] && break; sleep 0.05; done
sleep 0.3
kill -KILL $pid
wait $pid 2>/dev/null
check "SIGKILL mid-download: only whole files under final names" whole_or_part kill9
timeout 60 "$TD" -i uslow -d kill9 -q 2>err.k
is "$?" 1 "without -c, a .part of an earlier run fails its file"
check "and says to resume with -c" grep -q 'resume it with -c' err.k
check "SIGKILL, then -c: every file complete" resumed kill9
# A partial file with its state that comes after the run looked at the
# folder (an earlier run's, left there meanwhile): found as its NAME.part
# is opened, and left alone all the same. late1 is slow, so f7, after it
# with -j 1, starts after the two files are planted.
head -c 600000 /dev/urandom >"$W/slow/late1"
printf '%s\n' "$U/slow/late1" "$U/f/f7" >ulate
mkdir late
timeout 60 "$TD" -i ulate -d late -j 1 -s 1 -q 2>err.l &
pid=$!
for i in $(seq 1 100); do [ -f late/late1.part ] && break; sleep 0.05; done
echo partial >late/f7.part
echo state >late/f7.part.state
wait $pid
is "$?" 1 "a .part with a state that came since the start fails its file"
check "and says to resume with -c" grep -q "late/f7.part: an earlier download's .part is there; resume it with -c" err.l
check "the earlier run's files are left as they were" \
	[ "$(cat late/f7.part late/f7.part.state)" = "partial
state" ]
check "the file before it is saved" cmp -s "$W/slow/late1" late/late1
# A folder far larger than the list is asked name by name, not listed:
# an earlier run's state there is found all the same.
mkdir crowd
(cd crowd && seq 1 5000 | sed 's/^/junk/' | xargs touch)
echo partial >crowd/f7.part
echo state >crowd/f7.part.state
printf '%s\n' "$U/f/f6" "$U/f/f7" >ucrowd
timeout 60 "$TD" -i ucrowd -d crowd -q 2>err.c
is "$?" 1 "in a crowded folder, an earlier run's .part fails its file"
check "and says to resume with -c" grep -q "resume it with -c" err.c
check "and is left as it was" [ "$(cat crowd/f7.part crowd/f7.part.state)" = "partial
state" ]
check "the other file is saved" cmp -s "$W/f/f6" crowd/f6

# A write that fails (file size limit: writes past 100 KiB fail with EFBIG,
# SIGXFSZ ignored): that file fails and leaves nothing (its NAME.part cannot
# take its size), the others are saved.
head -c 200000 /dev/urandom >"$W/f/wbig"
head -c 110000 /dev/urandom >"$W/f/wmid"
head -c 50000 /dev/urandom >"$W/f/wsmall"
printf '%s\n' "$U/f/wbig" "$U/f/wsmall" "$U/f/wmid" >uwrite
for p in D TD; do
	prog=${!p} d=wfail$p
	(ulimit -f 100; trap '' XFSZ; exec timeout 60 "$prog" -i uwrite -d "$d") >out.w 2>err.w
	is "$?" 1 "$p: a failing write exits 1"
	for n in wbig wmid; do
		check "$p: $n: writing fails with the reason" \
			grep -q "^${prog##*/}: failed $U/f/$n: $d/$n.part: write: File too large\$" err.w
	done
	check "$p: the small file is saved whole" cmp -s "$W/f/wsmall" "$d/wsmall"
	is "$(ls -A "$d" | tr '\n' ' ')" "wsmall " "$p: nothing else in the folder"
done

# Progress line on a terminal: one redrawn line, no per-URL lines.
script -qec "timeout 60 '$TD' -i urls200 -d tty -j 4" /dev/null </dev/null >out.tty 2>&1
check "on a tty: a progress line" grep -aq 'files .* MiB/s' out.tty
is "$(grep -ac '^Downloading' out.tty)" 0 "on a tty: no scrolling per-URL lines"
script -qec "timeout 60 '$TD' -i urls200 -d tty2 -j 4 -v" /dev/null </dev/null >out.tty 2>&1
is "$(grep -ac '^saved' out.tty)" 200 "-v on a tty: per-URL lines"

# Errors before any download, and bad usage.
timeout 10 "$D" -i nonexistent -d x 2>err.u
is "$?" 1 "missing input exits 1"
check "and names it" grep -q '^download: nonexistent: No such file or directory$' err.u
timeout 10 "$D" -i "$W" -d x 2>err.u
is "$?" 1 "a folder as input exits 1"
check "and says why" grep -q "^download: $W: Is a directory\$" err.u
echo file >afile
timeout 10 "$TD" -i urls200 -d afile/sub 2>err.u
is "$?" 1 "folder that cannot be created exits 1"
check "and names it" grep -q '^threaded-download: afile/sub: cannot create folder: Not a directory$' err.u
check "nothing downloaded" test ! -e afile/sub
for args in "-j 0" "-j 257" "-j x" "-s 0" "-s 65" "-s x" "--max-per-host 0" "-t 0" "-t 65" "--threads x" "--retries 99" "extra"; do
	timeout 10 "$TD" -i urls200 -d never $args 2>err.u
	is "$?" 2 "threaded-download $args exits 2"
done
timeout 10 "$D" -j 4 2>/dev/null
is "$?" 2 "download has no -j"
timeout 10 "$D" -t 4 2>/dev/null
is "$?" 2 "download has no -t"
check "no folder created on bad usage" test ! -e never
timeout 10 "$D" --help | grep -q '^usage: download' && ok "--help" || notok "--help"
timeout 10 "$TD" --version | grep -q '^threaded-download (netthreads) ' && ok "--version" || notok "--version"
done_testing

# SPDX-License-Identifier: ISC
# accel.sh -- download-accelerator against a private nginx: sizes, connection
# counts, names, errors, checksums, mirrors, redirects, no-Range, HTTPS.
# timeout: 240
. "$(dirname "$0")/lib.sh"
DA=$NT_BIN/download-accelerator
W=$T_TMP/www
mkdir -p "$W/dir" "$W/other" "$T_TMP/dl"

# Smaller files under the sanitizers, every behaviour still tested.
big=100
[ "${NT_VARIANT:-plain}" = plain ] || big=8
head -c $((1 << 20)) /dev/urandom >"$W/f1"
head -c $((10 << 20)) /dev/urandom >"$W/f10"
head -c $((big << 20)) /dev/urandom >"$W/fbig"
head -c 777 /dev/urandom >"$W/tiny"
: >"$W/empty"
cp "$W/f1" "$W/my file.bin"
cp "$W/f1" "$W/dir/index.html"
head -c $((1 << 20)) /dev/urandom >"$W/other/f1"	# same size, other bytes
head -c 1000 /dev/urandom >"$W/other/f10"		# other size
touch -d '2020-01-01' "$W/other/f1"
cat >"$T_TMP/snippet" <<EOS
location = /redir1 { return 302 /redir2; }
location = /redir2 { return 301 /f1; }
location /norange/ { alias $W/; max_ranges 0; }
location /slow/ { alias $W/; limit_rate 1m; }
EOS
nginx_start "$W" "$T_TMP/snippet" || { notok "nginx starts"; done_testing; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
cd "$T_TMP/dl" || exit 1

# get NAME URL [ARGS...]: runs the program in the download folder, keeps
# stdout in $out, stderr in $errs and the status in $rc.
get() {
	local -a args=("$@")
	out=$(timeout 120 "$DA" -q "${args[@]}" 2>"$T_TMP/err")
	rc=$?
	errs=$(cat "$T_TMP/err")
}

line_ok() { # URL N BYTES
	echo "$out" | grep -Eq "^$(printf '%s' "$1" | sed 's/[.[*^$]/\\&/g') $2 $3 [0-9]+\.[0-9]+$"
}

for f in f1 f10 fbig; do
	for n in 1 2 4 8 16; do
		[ $f = fbig ] && [ $n != 4 ] && [ $n != 16 ] && continue
		rm -f "$f"
		get -n $n "$U/$f"
		size=$(stat -c %s "$W/$f")
		if [ $rc -eq 0 ] && cmp -s "$f" "$W/$f" && line_ok "$U/$f" $n $size &&
			[ "$(echo "$out" | wc -l)" -eq 1 ]; then
			ok "$f with -n $n: same bytes, one stdout line"
		else
			notok "$f with -n $n (rc $rc: $out $errs)"
		fi
	done
done
check "no .part or state left after success" sh -c '! ls *.part* 2>/dev/null | grep -q .'

# Under valgrind (plain build): no leak, no invalid access.
rm -f f10
out=$(timeout 120 $NT_VALGRIND "$DA" -q -n 8 "$U/f10" 2>"$T_TMP/err")
is "$?" 0 "-n 8 under valgrind (when plain) exits 0"
check "and the file is right" cmp -s f10 "$W/f10"

# The progress bar: on a terminal only.
rm -f f1
out=$(timeout 60 "$DA" "$U/f1" 2>"$T_TMP/err")
is "$(wc -c <"$T_TMP/err")" 0 "stderr not a terminal: no progress bar"
if command -v script >/dev/null 2>&1; then
	rm -f f1
	timeout 60 script -qec "'$DA' -n 4 '$U/slow/f1'" /dev/null >"$T_TMP/tty" 2>&1
	check "on a terminal: a progress bar reaching 100%" \
		grep -q "100% \[####################\] 1.0 MiB / 1.0 MiB" "$T_TMP/tty"
	check "with the live connection count" grep -Eq "[0-9]+ conns?" "$T_TMP/tty"
	check "and the file is right" cmp -s f1 "$W/f1"
	rm -f f1
	timeout 60 script -qec "'$DA' -q '$U/f1'" /dev/null >"$T_TMP/tty" 2>&1
	check "-q on a terminal: no bar" sh -c '! grep -q "%" "$1"' _ "$T_TMP/tty"
else
	echo "ok - progress bar on a terminal # SKIP script(1) not installed"
fi

get -n 8 "$U/tiny"
check "a 777-byte file with -n 8" cmp -s tiny "$W/tiny"
get "$U/empty"
is "$rc/$(stat -c %s empty 2>/dev/null)" "0/0" "an empty file"
# The default count is auto: one connection was all it took.
check "and its line says 0 bytes" line_ok "$U/empty" 1 0
get "$U/my%20file.bin"
check "name is the percent-decoded last segment" cmp -s "my file.bin" "$W/f1"
get "$U/dir/"
check "a URL ending in / lands in index.html" cmp -s index.html "$W/dir/index.html"
get -o chosen.bin "$U/f1"
check "-o names the file" cmp -s chosen.bin "$W/f1"
get -o renamed "$U/redir1"
check "a redirect chain is followed" cmp -s renamed "$W/f1"

# No Range support: one streamed connection still gets the file right.
rm -f f10
get -n 8 "$U/norange/f10"
check "a server that ignores Range: streamed, same bytes" cmp -s f10 "$W/f10"

# Errors.
get "$U/missing.iso"
is "$rc" 1 "404 exits 1"
is "$errs" "download-accelerator: $U/missing.iso: HTTP 404 Not Found" "404 message"
check "404 leaves no file" sh -c '! ls missing.iso* 2>/dev/null | grep -q .'
get "http://127.0.0.1:1/x"
is "$rc" 1 "connection refused exits 1"
check "and says why" sh -c 'echo "$1" | grep -q "^download-accelerator: http://127.0.0.1:1/x: .*onnect"' _ "$errs"

sum=$(sha256sum "$W/f1" | cut -d' ' -f1)
rm -f f1
get --checksum "sha256=$sum" "$U/f1"
is "$rc" 0 "right sha256 accepted"
check "and the file is there" cmp -s f1 "$W/f1"
rm -f f1
get --checksum "sha256=$(echo "$sum" | tr 0-9a-f 1-9a-f0)" "$U/f1"
is "$rc" 1 "wrong sha256 exits 1"
check "and names the mismatch" sh -c 'echo "$1" | grep -q "sha256 mismatch: got '"$sum"'"' _ "$errs"
check "and leaves no file, no .part" sh -c '! ls f1 f1.part f1.part.state 2>/dev/null | grep -q .'

for args in "-n 0" "-n 65" "-n x" "--timeout 0" "--timeout x" "--retries 0" \
	"--max-speed 5q" "--checksum md5=00" "--checksum sha256=12"; do
	get $args "$U/f1"
	is "$rc" 2 "bad usage '$args' exits 2"
	check "and '$args' explains in one line" sh -c '[ "$(echo "$1" | grep -c "^download-accelerator: ")" -ge 1 ]' _ "$errs"
done
get
is "$rc" 2 "no URL exits 2"
get "ftp://127.0.0.1/x"
is "$rc" 2 "a non-HTTP URL exits 2"
is "$errs" "download-accelerator: ftp://127.0.0.1/x: not an http:// or https:// URL" "and says so"
"$DA" --help | grep -q '^usage: download-accelerator' && ok "--help" || notok "--help"
"$DA" --version | grep -q '^download-accelerator (netthreads) ' && ok "--version" || notok "--version"

# Mirrors: a second server with the same files shares the work.
W2=$T_TMP/www2
mkdir -p "$W2"
cp -p "$W/f10" "$W/f1" "$W2/"
P1=$NGINX_PORT
nginx_start "$W2" || notok "second nginx starts"
M=http://127.0.0.1:$NGINX_PORT
rm -f f10
get -n 8 "$U/f10" "$M/f10"
check "two mirrors: same bytes" cmp -s f10 "$W/f10"
is "$errs" "" "and no warning"
# A mirror whose file differs is dropped, the download still right.
rm -f f10
out=$(timeout 60 "$DA" -n 8 "$U/f10" "$U/other/f10" 2>"$T_TMP/err")
rc=$?; errs=$(cat "$T_TMP/err")
is "$rc" 0 "a mirror with another size: still exits 0"
check "same bytes" cmp -s f10 "$W/f10"
check "and the mirror is dropped with a warning" sh -c 'echo "$1" | grep -q "other/f10: .*mirror dropped"' _ "$errs"
rm -f f1
out=$(timeout 60 "$DA" -n 8 "$U/f1" "$U/other/f1" "$M/nothere" 2>"$T_TMP/err")
rc=$?; errs=$(cat "$T_TMP/err")
is "$rc" 0 "a mirror with other bytes (ETag) and one with 404: exits 0"
check "same bytes" cmp -s f1 "$W/f1"
check "both mirrors dropped" sh -c '[ "$(echo "$1" | grep -c "mirror dropped")" -eq 2 ]' _ "$errs"

# --max-speed caps the total: 2 MiB at 1 MiB/s takes about 2 s.
rm -f f1
t0=$EPOCHREALTIME
get -n 4 --max-speed 512k "$U/f1"
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
check "--max-speed 512k: 1 MiB in about 2 s (took $secs)" awk -v s="$secs" 'BEGIN{exit !(s >= 1.6 && s < 6)}'
check "and the file is right" cmp -s f1 "$W/f1"

# HTTPS with a self-signed certificate.
if command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T_TMP/k.pem" \
		-out "$T_TMP/c.pem" -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
	printf 'ssl on;\nssl_certificate %s;\nssl_certificate_key %s;\n' \
		"$T_TMP/c.pem" "$T_TMP/k.pem" >"$T_TMP/tls"
	nginx_start "$W" "$T_TMP/tls" || notok "TLS nginx starts"
	S=https://127.0.0.1:$NGINX_PORT
	rm -f f10
	get -n 8 --cacert "$T_TMP/c.pem" "$S/f10"
	check "HTTPS with -n 8: same bytes" cmp -s f10 "$W/f10"
	get "$S/f1" -o untrusted
	is "$rc" 1 "an untrusted certificate exits 1"
	check "and leaves no file" sh -c '! ls untrusted* 2>/dev/null | grep -q .'
else
	echo "ok - HTTPS # SKIP openssl not installed"
fi
done_testing

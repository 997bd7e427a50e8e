# SPDX-License-Identifier: ISC
# auth.sh -- the request options of the three downloaders against an nginx
# that wants Basic auth, a cookie and a header: every request of a
# download (each range, each mirror) carries them, .netrc works, bad values
# are refused, a redirect to another host gets no credentials, printed
# URLs keep the user name, and the password shows in no output and no
# file.
# timeout: 180
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator
PW=Zq8xPw31secret

# Bad values: one line naming the value, exit 2, for all three programs.
for p in "$D" "$TD" "$DA"; do
	n=$(basename "$p")
	# The accelerator takes the URL as an operand, the others a list.
	url=
	[ "$n" = download-accelerator ] && url=http://127.0.0.1:1/x
	for bad in "--header|X-No-Colon" "--header|X-A: 1"$'\r\n'"X-B: 2" \
		"--proxy|ftp://127.0.0.1:1" "--cookie|" "--user-agent|a"$'\n'"b" \
		"--cacert|"; do
		opt=${bad%%|*} val=${bad#*|}
		"$p" "$opt" "$val" $url >"$T_TMP/o" 2>"$T_TMP/e"
		rc=$?
		if [ $rc -eq 2 ] && grep -q "^$n: $opt " "$T_TMP/e" &&
			[ ! -s "$T_TMP/o" ]; then
			ok "$n $opt with a bad value: exit 2, one line"
		else
			notok "$n $opt with a bad value: exit 2, one line"
			diag "rc=$rc: $(head -n 2 "$T_TMP/e")"
		fi
	done
	# -u without a password and no terminal to ask on.
	setsid -w "$p" -u alice $url </dev/null \
		>"$T_TMP/o" 2>"$T_TMP/e"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "no terminal" "$T_TMP/e"; then
		ok "$n -u USER without a terminal: exit 2, says so"
	else
		notok "$n -u USER without a terminal: exit 2, says so"
		diag "rc=$rc: $(cat "$T_TMP/e")"
	fi
done

W=$T_TMP/www
mkdir -p "$W/p" "$W/m" "$W/open"
head -c 4194304 /dev/urandom >"$W/p/big"
cp "$W/p/big" "$W/m/big"
for i in 1 2 3; do head -c $((i * 50000)) /dev/urandom >"$W/p/s$i"; done
cp "$W/p/s1" "$W/open/s1"
echo "alice:$(openssl passwd -apr1 "$PW")" >"$T_TMP/htpasswd"
# The if's run before auth_basic: a request without the cookie or the
# header is refused whatever its credentials.
cat >"$T_TMP/snippet" <<NGX
access_log $T_TMP/access.log combined;
location /r/ { return 302 http://localhost:\$server_port/open/s1; }
location ~ ^/[pm]/ {
	auth_basic "netthreads"; auth_basic_user_file $T_TMP/htpasswd;
	if (\$http_x_token != "t1") { return 403; }
	if (\$http_cookie !~ "sid=abc") { return 403; }
}
NGX
nginx_start "$W" "$T_TMP/snippet" || {
	notok "nginx starts"
	done_testing
	exit 1
}
U=http://127.0.0.1:$NGINX_PORT
L=$T_TMP/access.log
cd "$T_TMP" || exit 1
mkdir -p out
REQ=(-H "X-Token: t1" -b "sid=abc; lang=en" -A "nt-test-agent" -e
	"http://ref.example/")

# requests FROM: the log lines after line FROM, as "USER STATUS UA".
requests() {
	tail -n +$(($1 + 1)) "$L" |
		awk -F'"' '{ split($1, a, " "); split($3, s, " ");
			print a[3], s[1], $6 }'
}
# all_carried FROM MIN: at least MIN requests since FROM, each by alice
# with the agent, each answered 200 or 206.
all_carried() {
	local got bad
	got=$(requests "$1" | wc -l)
	bad=$(requests "$1" | grep -cv '^alice 20[06] nt-test-agent$')
	[ "$got" -ge "$2" ] && [ "$bad" -eq 0 ] || {
		diag "requests: $got, without the credentials: $bad"
		requests "$1" | head -n 5 | sed 's/^/# /'
		return 1
	}
}
lines() { wc -l <"$L"; }

# The accelerator: 8 ranges and a mirror, all authenticated.
n0=$(lines)
timeout 120 $NT_VALGRIND "$DA" -q -n 8 "${REQ[@]}" -u "alice:$PW" -o big \
	"$U/p/big" "http://localhost:$NGINX_PORT/m/big" >out/da.out 2>out/da.err
is "$?" 0 "download-accelerator -u -H -b -A: the file downloads"
check "download-accelerator: the file is whole" cmp -s big "$W/p/big"
check "download-accelerator: every range and mirror request carried them" \
	all_carried "$n0" 8
check "download-accelerator: the mirror was used" \
	grep -q "GET /m/big" "$L"
check "download-accelerator: the Referer went with them" \
	grep -q '"http://ref.example/"' "$L"
n0=$(lines)
timeout 60 "$DA" -q -n 4 -u "alice:wrong" -o bad "$U/p/big" \
	>out/da-bad.out 2>out/da-bad.err
is "$?" 1 "download-accelerator: a wrong password fails with exit 1"

# download and threaded-download, through the same options.
printf '%s\n' "$U/p/s1" "$U/p/s2" "$U/p/s3" >list
for p in "$D" "$TD"; do
	n=$(basename "$p")
	n0=$(lines)
	timeout 60 "$p" -i list -d "$n" "${REQ[@]}" -u "alice:$PW" \
		>"out/$n.out" 2>"out/$n.err"
	is "$?" 0 "$n -u -H -b -A: every file downloads"
	check "$n: the files are whole" cmp -s "$n/s3" "$W/p/s3"
	check "$n: every request carried them" all_carried "$n0" 3
done

# .netrc: --netrc-file FILE, and --netrc reading ~/.netrc.
printf 'machine 127.0.0.1 login alice password %s\n' "$PW" >netrc
chmod 600 netrc
n0=$(lines)
timeout 60 "$DA" -q -n 4 "${REQ[@]}" --netrc-file netrc -o big2 \
	"$U/p/big" >out/netrc.out 2>out/netrc.err
is "$?" 0 "download-accelerator --netrc-file: the file downloads"
check "--netrc-file: every range carried the credentials" all_carried "$n0" 4
mkdir -p home
cp netrc home/.netrc
n0=$(lines)
HOME=$T_TMP/home timeout 60 "$TD" -i list -d nr "${REQ[@]}" --netrc \
	>out/netrc2.out 2>out/netrc2.err
is "$?" 0 "threaded-download --netrc: every file downloads"
check "--netrc: every request carried the credentials" all_carried "$n0" 3
rm -f home/.netrc

# The password in the URL: shown nowhere.
timeout 60 "$D" -i - -d url "${REQ[@]}" >out/url.out 2>out/url.err <<EOF
http://alice:$PW@127.0.0.1:$NGINX_PORT/p/s1
http://alice:$PW@127.0.0.1:$NGINX_PORT/p/nothere
EOF
is "$?" 1 "download with user:password in a URL: one saved, one failed"
timeout 60 "$DA" -n 2 "${REQ[@]}" -o u \
	"http://alice:$PW@127.0.0.1:$NGINX_PORT/p/s2" \
	>out/urlda.out 2>out/urlda.err
is "$?" 0 "download-accelerator with user:password in the URL"
check "its result line shows the user, not the password" \
	grep -q "^http://alice@127.0.0.1:$NGINX_PORT/p/s2 2 " out/urlda.out

# A redirect to another host: the credentials stay behind.
for p in "$DA" "$TD"; do
	n=$(basename "$p")
	n0=$(lines)
	if [ "$n" = download-accelerator ]; then
		timeout 60 "$p" -q -n 2 -u "alice:$PW" -o r1 "$U/r/x" \
			>"out/r-$n.out" 2>"out/r-$n.err"
	else
		echo "$U/r/x" | timeout 60 "$p" -i - -d "r-$n" -u "alice:$PW" \
			>"out/r-$n.out" 2>"out/r-$n.err"
	fi
	is "$?" 0 "$n: a redirect to another host downloads"
	opened=$(tail -n +$((n0 + 1)) "$L" | grep -c 'GET /open/s1')
	anon=$(tail -n +$((n0 + 1)) "$L" | grep 'GET /open/s1' |
		grep -c '^[^ ]* - - ')
	if [ "$opened" -ge 1 ] && [ "$anon" -eq "$opened" ]; then
		ok "$n: no credentials sent to the host redirected to"
	else
		notok "$n: no credentials sent to the host redirected to"
		diag "requests there: $opened, without credentials: $anon"
	fi
	check "$n: they went to the first host" \
		grep -q "alice .*GET /r/x" "$L"
done

# No password anywhere: outputs, downloaded folders, logs, state.
rm -f netrc
leaks=$(grep -rlF -- "$PW" "$T_TMP" 2>/dev/null)
is "$leaks" "" "the password is in no output and no file"
done_testing

# SPDX-License-Identifier: ISC
# tls.sh -- the three downloaders against nginx over TLS with a CA, a
# server certificate and a client CA made here by openssl: an untrusted
# certificate fails clearly, -k, --cacert and --capath pass, a server that
# wants a client certificate gets one from -E/--key and refuses a client
# without; one threaded-download run mixes that host and one behind Basic
# auth.
# timeout: 180
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator
PW=Tl5sPw90secret

if ! command -v openssl >/dev/null 2>&1; then
	echo "ok 1 - TLS # SKIP openssl not installed (scripts/deps installs it)"
	done_testing
	exit
fi
cd "$T_TMP" || exit 1
mkdir -p pki capath out

# mkcert NAME CN [EXT]: NAME.key and NAME.pem signed by the CA (P-256 keys:
# quick to make).
ssl() { openssl "$@" >>pki/openssl.log 2>&1; }
mkcert() {
	ssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "pki/$1.key" -out "pki/$1.csr" -subj "/CN=$2"
	printf '%s\n' "${3:-basicConstraints=CA:FALSE}" >"pki/$1.ext"
	ssl x509 -req -in "pki/$1.csr" -CA pki/ca.pem -CAkey pki/ca.key \
		-CAcreateserial -days 2 -out "pki/$1.pem" -extfile "pki/$1.ext"
}
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout pki/ca.key -out pki/ca.pem -days 2 -subj "/CN=netthreads test CA"
mkcert server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost"
mkcert client "test client" "extendedKeyUsage=clientAuth"
cp pki/ca.pem capath/
ssl rehash capath || ssl c_rehash capath
check "openssl made the CA and the certificates" \
	test -s pki/server.pem -a -s pki/client.pem

W=$T_TMP/www
mkdir -p "$W/f" "$W/p"
head -c 3000000 /dev/urandom >"$W/f/big"
for i in 1 2; do head -c $((i * 40000)) /dev/urandom >"$W/f/s$i"; done
cp "$W/f/s2" "$W/p/a2"
cat >tls <<NGX
ssl on;
ssl_certificate $T_TMP/pki/server.pem;
ssl_certificate_key $T_TMP/pki/server.key;
NGX
cp tls mtls
cat >>mtls <<NGX
ssl_client_certificate $T_TMP/pki/ca.pem;
ssl_verify_client on;
NGX
echo "alice:$(openssl passwd -apr1 "$PW")" >htpasswd
echo "location /p/ { auth_basic a; auth_basic_user_file $T_TMP/htpasswd; }" \
	>auth
# A name the server gives (Content-Disposition), for the mixed list.
cat >>auth <<NGX
location /cd/ {
	alias $W/f/;
	add_header Content-Disposition 'attachment; filename="named by server.bin"';
}
NGX
nginx_start "$W" tls || { notok "TLS nginx starts"; done_testing; exit 1; }
S=https://127.0.0.1:$NGINX_PORT
nginx_start "$W" mtls || { notok "mTLS nginx starts"; done_testing; exit 1; }
M=https://127.0.0.1:$NGINX_PORT
nginx_start "$W" auth || { notok "auth nginx starts"; done_testing; exit 1; }
A=http://127.0.0.1:$NGINX_PORT

# run NAME URL OPTION...: runs program NAME on URL (the accelerator with
# 4 connections into out/NAME-K, the list tools into out/NAME-K/); sets rc
# and F, the file it should have written.
k=0
run() {
	local n=$1 url=$2
	shift 2
	k=$((k + 1))
	if [ "$n" = download-accelerator ]; then
		F=out/$n-$k
		timeout 60 "$NT_BIN/$n" -q -n 4 -o "$F" "$@" "$url" \
			>"out/$k.out" 2>"out/$k.err"
	else
		F=out/$n-$k/${url##*/}
		echo "$url" | timeout 60 "$NT_BIN/$n" -q -i - -d "out/$n-$k" \
			"$@" >"out/$k.out" 2>"out/$k.err"
	fi
	rc=$?
}

for n in download threaded-download download-accelerator; do
	run $n "$S/f/big"
	is "$rc" 1 "$n: an untrusted certificate exits 1"
	check "$n: and says why" grep -q "certificate" "out/$k.err"
	check "$n: and leaves no file" test ! -e "$F"
	run $n "$S/f/big" -k
	is "$rc" 0 "$n -k: passes"
	check "$n -k: the file is whole" cmp -s "$F" "$W/f/big"
	run $n "$S/f/big" --cacert pki/ca.pem
	is "$rc" 0 "$n --cacert: passes"
	check "$n --cacert: the file is whole" cmp -s "$F" "$W/f/big"
	run $n "$S/f/s1" --capath capath
	is "$rc" 0 "$n --capath: passes"
	run $n "$M/f/big" --cacert pki/ca.pem
	is "$rc" 1 "$n: without a client certificate the server refuses"
	check "$n: and leaves no file" test ! -e "$F"
	run $n "$M/f/big" --cacert pki/ca.pem -E pki/client.pem \
		--key pki/client.key
	is "$rc" 0 "$n -E/--key: the client certificate passes"
	check "$n -E/--key: the file is whole" cmp -s "$F" "$W/f/big"
done

# One run, a host that wants a client certificate and one behind Basic
# auth.
printf '%s\n' "$M/f/s1" "$M/f/s2" "$A/p/a2" "$A/cd/s2" >list
timeout 120 $NT_VALGRIND "$TD" -i list -d mixed --cacert pki/ca.pem \
	-E pki/client.pem --key pki/client.key -u "alice:$PW" \
	>out/mixed.out 2>out/mixed.err
is "$?" 0 "threaded-download: client certificate, Basic auth and a name from Content-Disposition, one run"
check "and each file is whole under its name" sh -c 'cmp -s mixed/s1 "$1/f/s1" &&
	cmp -s mixed/s2 "$1/f/s2" && cmp -s mixed/a2 "$1/p/a2" &&
	cmp -s "mixed/named by server.bin" "$1/f/s2"' _ "$W"
leaks=$(grep -rlF -- "$PW" "$T_TMP" 2>/dev/null)
is "$leaks" "" "the password is in no output and no file"
done_testing

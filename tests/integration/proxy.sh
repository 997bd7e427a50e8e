# SPDX-License-Identifier: ISC
# proxy.sh -- the downloaders through real proxies on loopback: tinyproxy
# (HTTP, and CONNECT for HTTPS) and microsocks (SOCKS5). Each proxy's
# outgoing connections are bound to an address of their own (127.0.0.3,
# 127.0.0.2), so nginx's log shows which way every request of a segmented
# download came; tinyproxy's own log shows each request it carried.
# --noproxy and http_proxy are checked too, and the proxy's password shows
# nowhere.
# timeout: 180
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator
PPW=Px7qPw44secret

for p in tinyproxy microsocks; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "ok 1 - proxies # SKIP $p not installed (scripts/deps installs it)"
		done_testing
		exit
	fi
done
cd "$T_TMP" || exit 1
mkdir -p out

# free_port: a loopback port free a moment ago (the kernel's choice, bound
# by listen-exec and released); the caller retries on a clash.
free_port() {
	rm -f fp
	"$NT_HELPERS/listen-exec" 127.0.0.1 fp true >/dev/null 2>&1
	cat fp
}
# wait_port PID PORT: whether PID runs and accepts on PORT (bounded).
wait_port() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# tinyproxy, with Basic auth, its outgoing connections from 127.0.0.3.
for try in 1 2 3 4 5; do
	TP=$(free_port)
	cat >tp.conf <<EOF
Port $TP
Listen 127.0.0.1
Bind 127.0.0.3
Timeout 30
MaxClients 100
LogFile "$T_TMP/tinyproxy.log"
LogLevel Connect
PidFile "$T_TMP/tinyproxy.pid"
Allow 127.0.0.1
BasicAuth puser $PPW
EOF
	tinyproxy -d -c tp.conf >tp.out 2>&1 &
	tp_pid=$!
	wait_port $tp_pid "$TP" && break
	kill $tp_pid 2>/dev/null
	wait $tp_pid 2>/dev/null
done
at_exit "kill $tp_pid 2>/dev/null"
check "tinyproxy runs" kill -0 $tp_pid
for try in 1 2 3 4 5; do
	MS=$(free_port)
	microsocks -i 127.0.0.1 -p "$MS" -b 127.0.0.2 >ms.out 2>&1 &
	ms_pid=$!
	wait_port $ms_pid "$MS" && break
	kill $ms_pid 2>/dev/null
	wait $ms_pid 2>/dev/null
done
at_exit "kill $ms_pid 2>/dev/null"
check "microsocks runs" kill -0 $ms_pid

W=$T_TMP/www
mkdir -p "$W/f"
head -c 3000000 /dev/urandom >"$W/f/big"
for i in 1 2 3; do head -c $((i * 30000)) /dev/urandom >"$W/f/s$i"; done
echo "access_log $T_TMP/access.log combined;" >plain
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
cat plain - >tls <<NGX
ssl on;
ssl_certificate $T_TMP/cert.pem;
ssl_certificate_key $T_TMP/key.pem;
NGX
nginx_start "$W" plain || { notok "nginx starts"; done_testing; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
nginx_start "$W" tls || { notok "TLS nginx starts"; done_testing; exit 1; }
S=https://127.0.0.1:$NGINX_PORT
L=$T_TMP/access.log
HP=http://puser:$PPW@127.0.0.1:$TP

# from N ADDR: whether the log lines after line N are at least MIN_REQ
# requests, all from ADDR.
from() {
	local got all
	all=$(tail -n +$(($1 + 1)) "$L" | wc -l)
	got=$(tail -n +$(($1 + 1)) "$L" | grep -c "^$2 ")
	[ "$all" -ge "$MIN_REQ" ] && [ "$got" -eq "$all" ] || {
		diag "requests: $all, from $2: $got"
		return 1
	}
}
lines() { wc -l <"$L"; }
tplines() { wc -l <tinyproxy.log; }

# get LABEL PROGRAM OPTION...: the accelerator on URL_ (4 connections) or a
# list tool on the list file; sets rc.
get() {
	local label=$1 p=$2
	shift 2
	if [ "$p" = "$DA" ]; then
		timeout 60 "$p" -q -n 4 -o "out/$label" "$@" "$URL_" \
			>"out/$label.out" 2>"out/$label.err"
	else
		timeout 60 "$p" -q -i list -d "out/$label" "$@" \
			>"out/$label.out" 2>"out/$label.err"
	fi
	rc=$?
}
printf '%s\n' "$U/f/s1" "$U/f/s2" "$U/f/s3" >list

# HTTP through tinyproxy: every connection of a segmented download.
URL_=$U/f/big MIN_REQ=5
n0=$(lines) t0=$(tplines)
get http "$DA" -x "$HP"
is "$rc" 0 "download-accelerator -x http://: downloads"
check "the file is whole" cmp -s out/http "$W/f/big"
check "nginx saw every request come from tinyproxy" from "$n0" 127.0.0.3
tp=$(tail -n +$((t0 + 1)) tinyproxy.log | grep -c "Request.*GET $U/f/big")
check "tinyproxy's log has every request ($tp)" [ "$tp" -ge 5 ]

# HTTPS through CONNECT.
URL_=$S/f/big
n0=$(lines) t0=$(tplines)
get connect "$DA" -k -x "$HP"
is "$rc" 0 "download-accelerator https:// through CONNECT: downloads"
check "the file is whole" cmp -s out/connect "$W/f/big"
check "nginx saw every request come through the tunnel" from "$n0" 127.0.0.3
tp=$(tail -n +$((t0 + 1)) tinyproxy.log |
	grep -c "Request.*CONNECT 127.0.0.1:${S##*:}")
check "tinyproxy's log has a CONNECT a connection ($tp)" [ "$tp" -ge 4 ]

# SOCKS5 through microsocks, names resolved by the proxy.
URL_=$U/f/big
n0=$(lines)
get socks "$DA" -x "socks5h://127.0.0.1:$MS"
is "$rc" 0 "download-accelerator -x socks5h://: downloads"
check "the file is whole" cmp -s out/socks "$W/f/big"
check "nginx saw every request come from microsocks" from "$n0" 127.0.0.2

# --noproxy: straight to the server.
n0=$(lines) t0=$(tplines)
get noproxy "$DA" -x "$HP" --noproxy 127.0.0.1
is "$rc" 0 "--noproxy 127.0.0.1: downloads"
check "nginx saw every request come straight" from "$n0" 127.0.0.1
is "$(tplines)" "$t0" "and tinyproxy saw none"

# The environment: http_proxy, and no_proxy.
n0=$(lines)
http_proxy=$HP get env "$DA"
is "$rc" 0 "http_proxy=URL: downloads"
check "through tinyproxy" from "$n0" 127.0.0.3
n0=$(lines)
http_proxy=$HP no_proxy=127.0.0.1 get noenv "$DA"
is "$rc" 0 "no_proxy=127.0.0.1: downloads"
check "straight" from "$n0" 127.0.0.1

# The list tools, through each proxy.
MIN_REQ=3
for p in "$D" "$TD"; do
	n=$(basename "$p")
	n0=$(lines)
	get "$n-http" "$p" -x "$HP"
	is "$rc" 0 "$n -x http://: downloads"
	check "$n: every request through tinyproxy" from "$n0" 127.0.0.3
	n0=$(lines)
	get "$n-socks" "$p" -x "socks5h://127.0.0.1:$MS"
	is "$rc" 0 "$n -x socks5h://: downloads"
	check "$n: every request through microsocks" from "$n0" 127.0.0.2
	check "$n: the files are whole" cmp -s "out/$n-socks/s3" "$W/f/s3"
done

# A wrong proxy password fails, and the right one is never shown.
URL_=$U/f/s1
get badpw "$DA" -x "http://puser:wrong@127.0.0.1:$TP"
is "$rc" 1 "a proxy refusing the credentials: exit 1"
rm -f tp.conf
leaks=$(grep -rlF -- "$PPW" "$T_TMP" 2>/dev/null)
is "$leaks" "" "the proxy password is in no output and no file"
done_testing

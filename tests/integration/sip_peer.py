#!/usr/bin/env python3
"""A raw SIP peer for the integration tests: sends one request over TCP or
TLS (with a client certificate) and prints the first line of every response
until a final one arrives, or 'closed' when the gateway closes the connection.

usage: sip_peer.py HOST:PORT [--tls CERT KEY CA | --tls-anon CA] [--raw] [--repeat N]
                   [--idle SECONDS] REQUEST_FILE
The request file is sent as is (with --raw) or with CRLF line ends and a
Content-Length added. With --repeat N it is sent N times ("{n}" in it is
replaced by the number) and the final responses are counted by code. With
--idle S it first stays silent for S seconds and reports the keep-alive bytes
(CRLF pings) the gateway sent meanwhile."""
import socket, ssl, sys, time

def main():
    args = sys.argv[1:]
    host, port = args.pop(0).rsplit(":", 1)
    tls = None
    raw = False
    repeat = 0
    idle = 0.0
    while args[0].startswith("--"):
        flag = args.pop(0)
        if flag == "--tls":
            tls = (args.pop(0), args.pop(0), args.pop(0))
        elif flag == "--raw":
            raw = True
        elif flag == "--repeat":
            repeat = int(args.pop(0))
        elif flag == "--tls-anon":
            tls = (None, None, args.pop(0))
        elif flag == "--idle":
            idle = float(args.pop(0))
    text = open(args[0], "rb").read()
    if not raw:
        head, _, body = text.decode().partition("\n\n")
        lines = [l for l in head.split("\n") if l]
        lines.append("Content-Length: %d" % len(body.encode()))
        text = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    sock = socket.create_connection((host, int(port)), timeout=10)
    if tls:
        ctx = ssl.create_default_context(cafile=tls[2])
        ctx.check_hostname = False
        if tls[0]:
            ctx.load_cert_chain(tls[0], tls[1])
        sock = ctx.wrap_socket(sock)
    if idle:
        sock.settimeout(0.2)
        got = b""
        end = time.time() + idle
        while time.time() < end:
            try:
                got += sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                pass
        print("keepalive pings: %d" % got.count(b"\r\n\r\n"))
        sock.settimeout(10)
    if repeat:
        for i in range(repeat):
            sock.sendall(text.replace(b"{n}", str(i).encode()))
        counts = {}
        buf = b""
        finals = 0
        deadline = time.time() + 20
        while finals < repeat and time.time() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                head, _, buf = buf.partition(b"\r\n\r\n")
                first = head.split(b"\r\n")[0].decode(errors="replace")
                if first.startswith("SIP/2.0 ") and int(first.split(" ")[1]) >= 200:
                    code = first.split(" ")[1]
                    counts[code] = counts.get(code, 0) + 1
                    finals += 1
        print("finals: " + " ".join("%s=%d" % kv for kv in sorted(counts.items())))
        return
    sock.sendall(text)
    buf = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError, socket.timeout):
            data = b""
        if not data:
            print("closed")
            return
        buf += data
        while b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            buf = rest
            first = head.split(b"\r\n")[0].decode(errors="replace")
            if not first:
                continue
            print(first, flush=True)
            code = int(first.split(" ")[1]) if first.startswith("SIP/2.0 ") else 0
            if code >= 200:
                return
    print("timeout")

main()

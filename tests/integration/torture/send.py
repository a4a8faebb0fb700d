#!/usr/bin/env python3
"""Sends one file's bytes unchanged over TCP and prints the first final
response's status line, or SILENT when none comes within the wait (the
connection being closed counts as silent too). Bounded: one connect, reads
until a final response, close or the deadline.
usage: send.py HOST:PORT FILE [WAIT_SECONDS]"""
import socket, sys, time

host, port = sys.argv[1].rsplit(":", 1)
data = open(sys.argv[2], "rb").read()
wait = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
sock = socket.create_connection((host, int(port)), timeout=wait)
sock.sendall(data)
buf = b""
end = time.time() + wait
result = "SILENT"
while time.time() < end:
    sock.settimeout(max(0.05, end - time.time()))
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        break
    except ConnectionResetError:
        break
    if not chunk:
        break
    buf += chunk
    for line in buf.split(b"\r\n"):
        if line.startswith(b"SIP/2.0 ") and len(line) >= 11 and line[8:11].isdigit() and line[8:9] != b"1":
            result = line.decode("utf-8", "replace")
            break
    if result != "SILENT":
        break
sock.close()
print(result)

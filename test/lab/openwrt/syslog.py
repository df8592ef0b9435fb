#!/usr/bin/env python3
"""The lab router's syslog (OpenWrt's logd, a stand-in): receives what the
router's programs send to /dev/log (hostapd -s, netifd, procd's capture of
trustjoin's output) and writes every line to syslog.log and, by program, to
<program>.log in the results folder, each line flushed as it comes.

    syslog.py SOCKET OUTDIR
"""
import os
import re
import socket
import sys
import time

sock_path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o666)
files = {}


def log(name):
    f = files.get(name)
    if f is None:
        f = files[name] = open(os.path.join(out, name + ".log"), "a", buffering=1)
    return f


# <PRI>Mon DD HH:MM:SS ident[pid]: message  (glibc), or without the date.
line_re = re.compile(rb"^<(\d+)>(?:\w{3} [ \d]\d \d\d:\d\d:\d\d )?([^:\[ ]+)(?:\[\d+\])?: ?(.*)$", re.S)
# Ready for readers (the lab waits for this file).
open(os.path.join(out, "syslog.ready"), "w").close()
while True:
    data = s.recv(65536)
    m = line_re.match(data)
    if m:
        ident = m.group(2).decode(errors="replace")
        msg = m.group(3).decode(errors="replace").rstrip("\n")
    else:
        ident, msg = "unknown", data.decode(errors="replace").rstrip("\n")
    ts = "%.6f" % time.time()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", ident) or "unknown"
    # hostapd logs as "wpa_supplicant" (upstream's openlog): the router runs
    # no supplicant of its own, the lab's devices log to files.
    name = {"wpa_supplicant": "hostapd"}.get(name, name)
    for line in msg.split("\n"):
        log("syslog").write("%s %s: %s\n" % (ts, ident, line))
        log(name).write("%s: %s\n" % (ts, line))

#!/usr/bin/python3
"""A registrar's GRASP announcement made without trustjoin's code.

Sends the RFC 8995 §4.3 M_FLOOD of objective AN_join_registrar, encoded
with Debian's python3-cbor2, from a link-local address to
ALL_GRASP_NEIGHBORS (ff02::13) port 7017, once a second until killed.

usage: grasp_registrar.py IFNAME SOURCE-LL LOCATOR-ADDR PORT
"""
import ipaddress
import os
import socket
import sys
import time

import cbor2

M_FLOOD, O_IPV6_LOCATOR, IPPROTO_TCP, F_SYNCH = 9, 103, 6, 4


def main():
    ifname, src, locator, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, 0, 0, ifindex))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    loc = ipaddress.IPv6Address(locator).packed
    print("ready", flush=True)
    while True:
        flood = [M_FLOOD, int.from_bytes(os.urandom(4), "big"), ipaddress.IPv6Address(src).packed, 180000,
                 [["AN_join_registrar", F_SYNCH, 255, "EST-TLS"], [O_IPV6_LOCATOR, loc, IPPROTO_TCP, port]]]
        s.sendto(cbor2.dumps(flood), ("ff02::13", 7017, 0, ifindex))
        time.sleep(1)


main()

#!/usr/bin/python3
"""A registrar's DNS-SD answers made without trustjoin's code.

Answers mDNS queries for _brski-registrar._tcp.local (RFC 8995 Appendix B)
on one interface with PTR, SRV and AAAA records built by Debian's
python3-dnspython. A query from a port other than 5353 is answered by
unicast, with its id and question (RFC 6762 §6.7). Prints "ready" once
listening and "answered" for each answer.

usage: mdns_registrar.py IFNAME ADDR PORT
"""
import socket
import struct
import sys

import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SERVICE = "_brski-registrar._tcp.local."
INSTANCE = "python-registrar." + SERVICE
HOST = "python-registrar.local."


def main():
    ifname, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 5353))
    group = socket.inet_pton(socket.AF_INET6, "ff02::fb") + struct.pack("@I", ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(9000)
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        if q.flags & dns.flags.QR or not any(
                r.name.to_text().lower() == SERVICE.lower() and r.rdtype == dns.rdatatype.PTR for r in q.question):
            continue
        a = dns.message.make_response(q)
        a.flags |= dns.flags.AA
        a.answer.append(dns.rrset.from_text(SERVICE, 120, "IN", "PTR", INSTANCE))
        a.additional.append(dns.rrset.from_text(INSTANCE, 120, "IN", "SRV", "0 0 %d %s" % (port, HOST)))
        a.additional.append(dns.rrset.from_text(HOST, 120, "IN", "AAAA", addr))
        s.sendto(a.to_wire(), peer)
        print("answered", flush=True)


main()

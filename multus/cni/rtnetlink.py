"""Just enough rtnetlink to move a pod's default route: list, delete and add routes.

pyroute2 would cost ~300 ms to import for three messages; this is a raw NETLINK_ROUTE socket
opened inside the pod's namespace (cni.netns.run_inside) with hand-packed messages.
"""

from __future__ import annotations

import os
import socket
import struct

RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
EEXIST, ESRCH = 17, 3
_HEADER = struct.Struct("=LHHLL")
_RTMSG = struct.Struct("=BBBBBBBBI")


class Route:
    __slots__ = ("family", "dst_len", "table", "protocol", "scope", "kind", "oif", "gateway", "priority", "dst")

    def __init__(self, family: int, dst_len: int, table: int, protocol: int, scope: int, kind: int) -> None:
        self.family, self.dst_len, self.table = family, dst_len, table
        self.protocol, self.scope, self.kind = protocol, scope, kind
        self.oif = 0
        self.gateway = ""
        self.priority: int | None = None
        self.dst = ""


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((4 - length % 4) % 4)


def _attrs(data: bytes) -> dict[int, bytes]:
    out, offset = {}, 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4: offset + length]
        offset += (length + 3) & ~3
    return out


class Netlink:
    """A NETLINK_ROUTE socket; create it inside the namespace it is to act on."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _send(self, kind: int, flags: int, payload: bytes) -> int:
        self.seq += 1
        self.sock.send(_HEADER.pack(_HEADER.size + len(payload), kind, flags, self.seq, 0) + payload)
        return self.seq

    def _replies(self, seq: int):
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, got_seq, _pid = _HEADER.unpack_from(data, offset)
                body = data[offset + _HEADER.size: offset + length]
                offset += (length + 3) & ~3
                if got_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return
                yield kind, body

    def routes(self, family: int) -> list[Route]:
        seq = self._send(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0))
        found = []
        for kind, body in self._replies(seq):
            if kind != RTM_NEWROUTE:
                continue
            fam, dst_len, _src, _tos, table, protocol, scope, rtype, _f = _RTMSG.unpack_from(body)
            route = Route(fam, dst_len, table, protocol, scope, rtype)
            attrs = _attrs(body[_RTMSG.size:])
            if RTA_TABLE in attrs:
                route.table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            if RTA_OIF in attrs:
                route.oif = struct.unpack("=i", attrs[RTA_OIF][:4])[0]
            if RTA_GATEWAY in attrs:
                route.gateway = socket.inet_ntop(fam, attrs[RTA_GATEWAY])
            if RTA_DST in attrs:
                route.dst = socket.inet_ntop(fam, attrs[RTA_DST])
            if RTA_PRIORITY in attrs:
                route.priority = struct.unpack("=I", attrs[RTA_PRIORITY][:4])[0]
            found.append(route)
        return found

    def delete(self, route: Route) -> None:
        payload = _RTMSG.pack(route.family, route.dst_len, 0, 0, route.table if route.table < 256 else 0,
                              route.protocol, route.scope, route.kind, 0)
        payload += _attr(RTA_TABLE, struct.pack("=I", route.table)) + _attr(RTA_OIF, struct.pack("=i", route.oif))
        if route.gateway:
            payload += _attr(RTA_GATEWAY, socket.inet_pton(route.family, route.gateway))
        if route.dst:
            payload += _attr(RTA_DST, socket.inet_pton(route.family, route.dst))
        if route.priority is not None:
            payload += _attr(RTA_PRIORITY, struct.pack("=I", route.priority))
        try:
            list(self._replies(self._send(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, payload)))
        except OSError as exc:
            if exc.errno != ESRCH:  # already gone
                raise

    def add_default(self, family: int, gateway: str, oif: int) -> None:
        payload = _RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        payload += _attr(RTA_GATEWAY, socket.inet_pton(family, gateway)) + _attr(RTA_OIF, struct.pack("=i", oif))
        try:
            list(self._replies(self._send(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                                          payload)))
        except OSError as exc:
            if exc.errno != EEXIST:
                raise


def move_default(ifname: str, remove_families: list[int], gateways: list[str]) -> None:
    """In the current thread's namespace: drop `ifname`'s default routes of the given families,
    then add `default via g dev ifname` for each gateway. Run it through netns.run_inside."""
    index = socket.if_nametoindex(ifname)
    nl = Netlink()
    try:
        for family in remove_families:
            for route in nl.routes(family):
                if route.dst_len == 0 and route.oif == index and route.table == RT_TABLE_MAIN:
                    nl.delete(route)
        for gateway in gateways:
            nl.add_default(socket.AF_INET6 if ":" in gateway else socket.AF_INET, gateway, index)
    finally:
        nl.close()

/**
 * The sock_diag client (src/fds/sock-diag/): the reply parsers on replies
 * laid out byte by byte as the kernel's structs are, and the client itself
 * against sockets crtool's own process creates (no root needed: every user
 * may ask sock_diag about the sockets of its namespace).
 */
import { afterAll, describe, expect, it } from "vitest";
import { fstatSync } from "node:fs";
import { close } from "../../src/kernel/index.js";
import { parseAttrs, DiagSocket, SockDiagError } from "../../src/fds/sock-diag/netlink.js";
import { parseUnixDiag, unixDiagByIno } from "../../src/fds/sock-diag/unix-diag.js";
import { addressWords, inetDiagDump, parseInetDiag } from "../../src/fds/sock-diag/inet-diag.js";
import { parseNetlinkDiag } from "../../src/fds/sock-diag/netlink-diag.js";
import { parsePacketDiag } from "../../src/fds/sock-diag/packet-diag.js";
import { bind, getsockoptInt, sockName, socket } from "../../src/kernel/index.js";
import { AF_INET, AF_UNIX, IPPROTO_UDP, SOCK_CLOEXEC, SOCK_DGRAM, SOL_SOCKET, SO_DOMAIN, TCP_CLOSE } from "../../src/fds/sock-diag/constants.js";

/** One netlink attribute: u16 len, u16 type, data, padded to 4. */
function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}

describe("sock_diag reply parsers", () => {
  it("attributes: 4-byte alignment, the nested/byte-order flag bits dropped, the first of a type kept", () => {
    const buf = Buffer.concat([Buffer.alloc(8), attr(1, Buffer.from("abcde")), attr(0x8002, u32s(7)), attr(1, Buffer.from("x"))]);
    const attrs = parseAttrs(buf, 8);
    expect(attrs.get(1)!.toString()).toBe("abcde");
    expect(attrs.get(2)!.readUInt32LE(0)).toBe(7);
  });

  it("unix_diag_msg and its attributes", () => {
    // struct unix_diag_msg {family, type, state, pad, ino, cookie[2]}
    const msg = Buffer.alloc(16);
    msg.writeUInt8(AF_UNIX, 0);
    msg.writeUInt8(1, 1);
    msg.writeUInt8(10, 2);
    msg.writeUInt32LE(4242, 4);
    const payload = Buffer.concat([
      msg,
      attr(0, Buffer.from("\0abstract", "latin1")),
      attr(2, u32s(77)),
      attr(3, u32s(5, 6)),
      attr(4, u32s(2, 128)),
      attr(6, Buffer.from([3])),
    ]);
    expect(parseUnixDiag(payload)).toEqual({
      ino: 4242, type: 1, state: 10, name: Buffer.from("\0abstract", "latin1"), vfs: undefined, peer: 77, icons: [5, 6], rqlen: 2, wqlen: 128, shutdown: 3,
    });
    // No name attribute: not bound; no peer attribute: peer 0.
    expect(parseUnixDiag(msg)).toMatchObject({ name: undefined, peer: 0, icons: [], rqlen: 0, wqlen: 0, shutdown: 0 });
  });

  it("inet_diag_msg: ports big-endian, addresses as CRIU's words, queues and inode at their offsets", () => {
    const msg = Buffer.alloc(72);
    msg.writeUInt8(AF_INET, 0);
    msg.writeUInt8(10, 1);
    msg.writeUInt16BE(47011, 4);
    msg.writeUInt16BE(80, 6);
    Buffer.from([127, 0, 0, 1]).copy(msg, 8);
    Buffer.from([10, 1, 2, 3]).copy(msg, 24);
    msg.writeUInt32LE(3, 56); // idiag_rqueue
    msg.writeUInt32LE(5, 60); // idiag_wqueue
    msg.writeUInt32LE(60615, 68);
    const d = parseInetDiag(Buffer.concat([msg, attr(8, Buffer.from([1]))]));
    expect(d).toEqual({
      family: AF_INET, state: 10, srcPort: 47011, dstPort: 80, srcAddr: [0x0100007f, 0, 0, 0], dstAddr: [0x0302010a, 0, 0, 0],
      rqlen: 3, wqlen: 5, ino: 60615, shutdown: 1,
    });
    expect(addressWords(Buffer.from([0xfe, 0x80, 0, 0]), 0, 1)).toEqual([0x80fe]);
  });

  it("netlink_diag_msg: groups as 32-bit words, absent when the socket has no group bitmap", () => {
    const msg = Buffer.alloc(28);
    msg.writeUInt8(16, 0);
    msg.writeUInt8(3, 1);
    msg.writeUInt8(0, 2);
    msg.writeUInt8(7, 3);
    msg.writeUInt32LE(1234, 4);
    msg.writeUInt32LE(9, 8);
    msg.writeUInt32LE(2, 12);
    msg.writeUInt32LE(555, 16);
    expect(parseNetlinkDiag(Buffer.concat([msg, attr(1, u32s(17, 0))]))).toEqual({
      protocol: 0, state: 7, portid: 1234, dstPortid: 9, dstGroup: 2, ino: 555, groups: [17, 0],
    });
    expect(parseNetlinkDiag(msg).groups).toBeUndefined();
  });

  it("packet_diag_msg: info, memberships, fanout and rings", () => {
    const msg = Buffer.alloc(16);
    msg.writeUInt8(17, 0);
    msg.writeUInt8(3, 1);
    msg.writeUInt16LE(0x0003, 2);
    msg.writeUInt32LE(999, 4);
    const mc = Buffer.alloc(44);
    mc.writeUInt32LE(2, 0);
    mc.writeUInt32LE(1, 4);
    mc.writeUInt16LE(0, 8);
    mc.writeUInt16LE(6, 10);
    Buffer.from([1, 0, 0x5e, 0, 0, 1]).copy(mc, 12);
    const payload = Buffer.concat([msg, attr(0, u32s(2, 1, 16, 0, 0, 0x2)), attr(1, mc), attr(2, u32s(4096, 4, 2048, 8, 0, 0, 0)), attr(4, u32s(0x10007))]);
    expect(parsePacketDiag(payload)).toEqual({
      ino: 999, type: 3, num: 3,
      info: { index: 2, version: 1, reserve: 16, copyThresh: 0, tstamp: 0, flags: 2 },
      mclist: [{ index: 2, count: 1, type: 0, addr: Buffer.from([1, 0, 0x5e, 0, 0, 1]) }],
      fanout: 0x10007,
      rxRing: { blockSize: 4096, blockNr: 4, frameSize: 2048, frameNr: 8, retireTmo: 0, sizeofPriv: 0, features: 0 },
      txRing: undefined,
    });
  });
});

describe("the sock_diag client on crtool's own sockets", () => {
  const fds: number[] = [];
  afterAll(() => {
    for (const fd of fds.splice(0)) close(fd);
  });

  function own(domain: number, type: number, protocol = 0): number {
    const fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    fds.push(fd);
    return fd;
  }

  it("finds a unix socket by inode, and knows no inode that is not a socket", () => {
    const fd = own(AF_UNIX, SOCK_DGRAM);
    const name = Buffer.from(`\0crtool-diag-test-${process.pid}`, "latin1");
    const addr = Buffer.alloc(2 + name.length);
    addr.writeUInt16LE(AF_UNIX, 0);
    name.copy(addr, 2);
    bind(fd, addr);
    const diag = DiagSocket.open();
    try {
      const ino = Number(fstatSync(fd).ino);
      expect(unixDiagByIno(diag, ino)).toMatchObject({ ino, type: SOCK_DGRAM, state: TCP_CLOSE, name, peer: 0 });
      expect(unixDiagByIno(diag, 1)).toBeUndefined();
    } finally {
      diag.close();
    }
  });

  it("lists a bound UDP socket with its port, and answers errors as SockDiagError", () => {
    const fd = own(AF_INET, SOCK_DGRAM);
    const addr = Buffer.alloc(16);
    addr.writeUInt16LE(AF_INET, 0);
    Buffer.from([127, 0, 0, 1]).copy(addr, 4);
    bind(fd, addr);
    expect(getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN)).toBe(AF_INET);
    const port = sockName(fd, false)!.readUInt16BE(2);
    const diag = DiagSocket.open();
    try {
      const d = inetDiagDump(diag, AF_INET, IPPROTO_UDP).get(Number(fstatSync(fd).ino));
      expect(d).toMatchObject({ family: AF_INET, state: TCP_CLOSE, srcPort: port, srcAddr: [0x0100007f, 0, 0, 0], dstPort: 0 });
      // No diag handler for protocol 253: the kernel refuses the dump.
      expect(() => inetDiagDump(diag, AF_INET, 253)).toThrow(SockDiagError);
    } finally {
      diag.close();
    }
  });
});

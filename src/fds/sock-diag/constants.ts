/**
 * Socket constants from the kernel's uapi headers. x86_64 and aarch64 both
 * use asm-generic/socket.h, so one table serves both.
 */

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_UDPLITE = 136;

/** TCP states (also what sock_diag reports for UNIX and UDP sockets). */
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_SYN_RECV = 3;
export const TCP_FIN_WAIT1 = 4;
export const TCP_FIN_WAIT2 = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LAST_ACK = 9;
export const TCP_LISTEN = 10;
export const TCP_CLOSING = 11;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_NO_CHECK = 11;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_RCVLOWAT = 18;
/** The _OLD variants answer a struct timeval, as CRIU reads them. */
export const SO_RCVTIMEO_OLD = 20;
export const SO_SNDTIMEO_OLD = 21;
export const SO_BINDTODEVICE = 25;
/** SO_GET_FILTER is SO_ATTACH_FILTER read back. */
export const SO_GET_FILTER = 26;
export const SO_PASSSEC = 34;
export const SO_MARK = 36;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_PEEK_OFF = 42;
export const SO_BUF_LOCK = 72;

export const SOL_IP = 0;
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_FREEBIND = 15;

export const SOL_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_FREEBIND = 78;

export const SOL_TCP = 6;
export const TCP_NODELAY = 1;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;

export const SOL_UDP = 17;
export const UDP_CORK = 1;

export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export const SCM_RIGHTS = 1;

export const POLLIN = 0x1;
export const POLLHUP = 0x10;
export const POLLRDHUP = 0x2000;

/** ioctls on sockets (linux/sockios.h). */
export const SIOCGSKNS = 0x894c;
/** SIOCPROTOPRIVATE for AF_UNIX: an O_PATH fd of the file a socket is bound to. */
export const SIOCUNIXFILE = 0x89e0;

export const CLONE_NEWNET = 0x40000000;

export const NETLINK_SOCK_DIAG = 4;

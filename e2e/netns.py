"""Sockets inside the real node's network namespace, made from the driver (standard library + libc's setns).

`listen_in(pid, host, port)` returns a listening TCP socket in the network namespace of process `pid`: a
short-lived thread enters that namespace (setns affects only the calling thread) and makes the socket, which stays
in that namespace. `Forwarder` relays every connection accepted on such a socket to an address of the driver's
own namespace (the node reaches the API server on the host's loopback this way).
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def listen_in(pid: int, host: str, port: int = 0) -> socket.socket:
    got: dict = {}

    def make() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(128)
            got["sock"] = s
        except OSError as e:
            got["error"] = e

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in got:
        raise got["error"]
    return got["sock"]


class Forwarder:
    """Relays connections from `sock` (any namespace) to `target` (host, port) in the driver's namespace."""

    def __init__(self, sock: socket.socket, target: tuple[str, int]):
        self.sock, self.target = sock, target
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=10)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()

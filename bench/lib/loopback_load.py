"""Load for bench/soak, bench/idle-flood and bench/churn: a backend, short connections, idle connections.

Everything here connects to 127.0.0.0/8 only, except bench/churn's, which connect to addresses inside the
network namespaces that script makes (with no route out).
"""
import argparse
import selectors
import socket
import sys
import threading
import time


def backend(port, host="127.0.0.1"):
    """Echo server on host:port, one thread and a selector, so tens of thousands of silent connections
    cost it nothing but their sockets. It closes a connection when the client's end of input comes."""
    sel = selectors.DefaultSelector()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(4096)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                try:
                    c, _ = srv.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            try:
                b = c.recv(65536)
            except OSError:
                b = b""
            if b:
                try:
                    c.sendall(b)  # small echoes on loopback: the socket takes them at once
                    continue
                except OSError:
                    pass
            sel.unregister(c)
            c.close()


def exchange(host, port, timeout):
    """One short connection closed by the client first: sends, shuts down its output, reads the echo to the
    end. Returns what came back."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(64)
            if not b:
                return got
            got += b


def short(port, total, concurrency):
    """total connections of one request and its echo each, concurrency at a time; prints errors and rate."""
    lock = threading.Lock()
    left = [total]
    errors = []

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                got = exchange("127.0.0.1", port, 30)
                if got != b"ping":
                    errors.append("short answer %r" % got)
            except OSError as e:
                errors.append(repr(e))

    start = time.time()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - start
    print("%d connections in %.1f s (%.0f/s), %d error(s)%s" % (
        total, took, total / took, len(errors), (": " + errors[0]) if errors else ""))
    return 1 if errors else 0


def churn(host, port, seconds, concurrency, interval):
    """Short connections (exchange) for seconds, concurrency at a time; prints one line per interval: its number, connections that
    got their echo, connections that failed (reset, refused, timed out, short answer), and the first error."""
    start = time.time()
    slots = int(seconds // interval) + 1
    counts = []  # per thread: [ok per interval, failed per interval], summed at the end
    first_error = []

    def worker():
        ok, failed = [0] * slots, [0] * slots
        counts.append((ok, failed))
        while True:
            now = time.time()
            if now - start >= seconds:
                return
            i = int((now - start) // interval)
            try:
                got = exchange(host, port, 10)
                if got == b"ping":
                    ok[i] += 1
                    continue
                error = "short answer %r" % got
            except OSError as e:
                error = repr(e)
            failed[i] += 1
            if not first_error:
                first_error.append(error)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(int(seconds // interval)):
        print("%d %d %d" % (i, sum(c[0][i] for c in counts), sum(c[1][i] for c in counts)))
    print("first error: %s" % (first_error[0] if first_error else None), flush=True)


def idle(port, count, source):
    """Opens count connections from source and keeps them silent until stdin closes."""
    kept = []
    for i in range(count):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        kept.append(s)
    print("%d idle connections open from %s" % (count, source), flush=True)
    sys.stdin.read()


def probe(port, source):
    """One request from source: prints how long the echo took, or what went wrong."""
    start = time.time()
    try:
        s = socket.socket()
        s.settimeout(10)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"ping")
        got = s.recv(64)
        s.close()
        print("probe from %s: %r in %.3f s" % (source, got, time.time() - start))
        return 0 if got == b"ping" else 1
    except OSError as e:
        print("probe from %s: failed after %.3f s: %r" % (source, time.time() - start, e))
        return 1


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["backend", "short", "idle", "probe", "churn"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--seconds", type=float, default=75)
    p.add_argument("--interval", type=float, default=5)
    a = p.parse_args()
    if a.mode == "backend":
        backend(a.port, a.host)
    elif a.mode == "churn":
        churn(a.host, a.port, a.seconds, a.concurrency, a.interval)
    elif a.mode == "short":
        sys.exit(short(a.port, a.count, a.concurrency))
    elif a.mode == "idle":
        idle(a.port, a.count, a.source)
    else:
        sys.exit(probe(a.port, a.source))

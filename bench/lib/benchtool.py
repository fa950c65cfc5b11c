#!/usr/bin/env python3
"""Helpers for bench/run (stdlib only).

  waitport HOST PORT SECONDS [PID]    wait until HOST:PORT accepts; print the ms it took; exit 1 on timeout
  startup HOST PORT SECONDS CMD...    exec CMD, print the ms from exec to the first connect to HOST:PORT that
                                      succeeds, then stop CMD (SIGTERM); exit 1 if it never accepted
  idle HOST PORT N SECONDS            open N idle connections, print "open K", hold them until stdin closes
                                      or SECONDS pass, then close them
  rss PID...                          the summed VmRSS (KiB) of each PID and its children
  wrk FILE                            parse a wrk output file: print "rps mbps p50_ms p99_ms"
  redis FILE                          parse redis-benchmark -q output: print "get_rps set_rps"
  iperf FILE                          parse iperf3 -J output: print "Mbit/s retransmits"
  udpecho HOST:PORT...                answer every UDP datagram with itself, on each address (until killed)
  udpload HOST PORT SECONDS kept N    N UDP flows kept, one datagram in flight each: print datagrams/s answered
  udpload HOST PORT SECONDS new N SRC N flows in flight, each a new source port on SRC (1024 up, never twice):
                                      one datagram and its answer, then the next flow; print new flows/s
  report RESULTS_DIR                  medians, ratios to HAProxy, REPORT table (markdown) and chart data
"""
import asyncio
import csv
import os
import re
import socket
import statistics
import subprocess
import sys
import time


def _alive(pid):
    try:
        return "\tZ" not in [l for l in open("/proc/%s/status" % pid) if l.startswith("State:")][0]
    except OSError:
        return False


def _accepts(host, port):
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect((host, int(port)))
            return True
        except OSError:
            return False


def _poll(host, port, seconds, t0, alive):
    """Connect every 5 ms until HOST:PORT accepts; print the ms since t0. Gives up at the deadline or once
    alive() says the process that should listen has gone."""
    deadline = t0 + float(seconds)
    while time.monotonic() < deadline and alive():
        if _accepts(host, port):
            print("%.1f" % ((time.monotonic() - t0) * 1000), flush=True)
            return 0
        time.sleep(0.005)
    return 1


def waitport(host, port, seconds, pid=None):
    """Poll until the port accepts; give up at the deadline, or at once when process PID has exited."""
    return _poll(host, port, seconds, time.monotonic(), lambda: pid is None or _alive(pid))


def startup(host, port, seconds, cmd):
    """Start-up time as a user sees it: from exec of the command to the first connection its listener takes."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return _poll(host, port, seconds, t0, lambda: proc.poll() is None)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _idle(host, port, n, seconds):
    conns = []
    sem = asyncio.Semaphore(200)

    async def one():
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
                conns.append(w)
            except (OSError, asyncio.TimeoutError):
                pass

    await asyncio.gather(*(one() for _ in range(int(n))))
    print("open %d" % len(conns), flush=True)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), float(seconds))
    except asyncio.TimeoutError:
        pass
    for w in conns:
        w.close()


def rss(pids):
    total = 0
    seen = set()
    todo = [int(p) for p in pids]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
            todo += [int(k) for k in kids]
        except OSError:
            pass
    print(total)


def _ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(path):
    text = open(path).read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    mbps = ""
    if tr:
        mult = {"B": 1 / 1e6, "KB": 1024 / 1e6, "MB": 1024 ** 2 / 1e6, "GB": 1024 ** 3 / 1e6}[tr.group(2)]
        mbps = "%.1f" % (float(tr.group(1)) * mult)
    p = {}
    for q in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+([\d.]+)(us|ms|s)\b" % q, text, re.M)
        p[q] = "%.3f" % _ms(*m.groups()) if m else ""
    errs = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    # "-" for a figure this run did not give, so the shell's `read` keeps the columns apart.
    print(rps.group(1) if rps else "-", mbps or "-", p["50"] or "-", p["99"] or "-",
          "errors" if (errs or non2xx) else "ok")


def redis(path):
    # -q prints progress lines ending in CR, then "GET: 91743.12 requests per second, p50=..." per test.
    text = open(path).read().replace("\r", "\n")
    rates = {}
    for name, rate in re.findall(r"^(GET|SET): ([\d.]+) requests per second", text, re.M):
        rates[name] = rate
    print(rates.get("GET", "-"), rates.get("SET", "-"))


def iperf(path):
    import json
    try:
        end = json.load(open(path))["end"]
        print("%.1f" % (end["sum_received"]["bits_per_second"] / 1e6), end["sum_sent"].get("retransmits", "-"))
    except (ValueError, KeyError):
        print("- -")


def udpecho(addresses):
    """A UDP echo on each HOST:PORT, one thread each; a backend for the UDP figures, the same for every contender."""
    import threading

    def serve(host, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((host, int(port)))
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)

    threads = [threading.Thread(target=serve, args=a.rsplit(":", 1), daemon=True) for a in addresses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# The source ports a `udpload new` run uses: below Linux's ephemeral range, so no other socket holds one.
FIRST_FLOW_PORT, LAST_FLOW_PORT = 1024, 32767


def udpload(host, port, seconds, mode, n, src=None):
    """kept: N connected sockets, each sending a 64-byte datagram again as soon as its answer arrives;
    new: N in flight, each a new socket on SRC and the next unused source port, closed after its answer, so every
    datagram is a new flow (a new conntrack entry, a new decision). A datagram unanswered for 1 s is lost and its
    flow replaced. Prints the answers per second."""
    import selectors
    target = (host, int(port))
    n = int(n)
    sel = selectors.DefaultSelector()
    payload = b"x" * 64
    next_port = [FIRST_FLOW_PORT]

    def open_flow():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if mode == "new":
            if next_port[0] > LAST_FLOW_PORT:
                s.close()
                return None
            s.bind((src, next_port[0]))
            next_port[0] += 1
        s.connect(target)
        s.setblocking(False)
        s.send(payload)
        sel.register(s, selectors.EVENT_READ, time.monotonic())
        return s

    for _ in range(n):
        open_flow()
    answered = 0
    t0 = time.monotonic()
    deadline = t0 + float(seconds)
    while time.monotonic() < deadline and sel.get_map():
        now = time.monotonic()
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                s.recv(2048)
            except OSError:
                pass  # refused: counted as lost
            else:
                answered += 1
            if mode == "new":
                sel.unregister(s)
                s.close()
                open_flow()
            else:
                s.send(payload)
                sel.modify(s, selectors.EVENT_READ, now)
        for key in list(sel.get_map().values()):
            if now - key.data > 1.0:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                open_flow()
    elapsed = time.monotonic() - t0
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print("%.0f" % (answered / elapsed))


# Metrics: name, unit, True when higher is better.
METRICS = [
    ("conn_per_s", "new connections/s (Connection: close, 50 conc.)", True),
    ("keepalive_rps", "requests/s, kept-alive (50 conc.)", True),
    ("bulk_MBps", "bulk MB/s (50 MB file, 4 parallel)", True),
    ("p50_ms", "latency p50 ms (kept-alive, 50 conc.)", False),
    ("p99_ms", "latency p99 ms (kept-alive, 50 conc.)", False),
    ("conn_per_s_t1", "new connections/s, one wrk thread (50 conc.)", True),
    ("keepalive_rps_t1", "requests/s, kept-alive, one wrk thread (50 conc.)", True),
    ("redis_get_rps", "redis-benchmark GET/s (-c 50, kept-alive)", True),
    ("redis_set_rps", "redis-benchmark SET/s (-c 50, kept-alive)", True),
    ("redis_get_rps_k0", "redis-benchmark GET/s (-c 50 -k 0: a connection per request)", True),
    ("redis_set_rps_k0", "redis-benchmark SET/s (-c 50 -k 0: a connection per request)", True),
    ("iperf_up_Mbps", "iperf3 client to server, Mbit/s", True),
    ("iperf_up_retrans", "iperf3 client to server, TCP retransmits (sender)", False),
    ("iperf_down_Mbps", "iperf3 server to client (-R), Mbit/s", True),
    ("iperf_down_retrans", "iperf3 server to client (-R), TCP retransmits (sender)", False),
    ("iperf_up_host_retrans", "iperf3 client to server: segments the host retransmitted (every socket)", False),
    ("iperf_up_host_dsack", "... of them reported back as duplicates (D-SACK: not lost, only overtaken)", False),
    ("iperf_down_host_retrans", "iperf3 -R: segments the host retransmitted (every socket)", False),
    ("iperf_down_host_dsack", "... of them reported back as duplicates (D-SACK: not lost, only overtaken)", False),
    ("rss_with_idle_MiB", "RSS MiB, total, with 10,000 idle connections", False),
    ("rss_before_idle_MiB", "RSS MiB, total, before them (after the load rounds)", False),
    ("idle_KiB_per_conn", "memory per idle connection, KiB (RSS growth / connections)", False),
    ("heap_KiB_per_conn", "live Java heap per idle connection, KiB (after a full GC; nthlb only)", False),
    ("startup_ms", "start-up: exec to first accepted connection, ms (median of 5)", False),
    ("udp_datagrams_per_s", "UDP datagrams/s answered (64 flows kept, 64 B; HAProxy has no UDP)", True),
    ("udp_new_flows_per_s", "UDP new flows/s (a datagram and its answer each, 64 in flight)", True),
]
# "direct": the same client straight to the backend, for the real-client figures only. nthlb+pp1 and
# nthlb+pp2: nthlb with --send-proxy v1 or v2, in a run with BENCH_SEND_PROXY only.
CONTENDERS = ["haproxy", "nthlb", "nthlb+pp1", "nthlb+pp2", "nginx-stream", "kernel-dnat", "direct"]
# How much worse than plain nthlb the nthlb with --send-proxy may be on any figure (issue 12: within 5%).
SEND_PROXY_TOLERANCE = 0.05


def report(d, idle="10000"):
    rows = list(csv.DictReader(open(os.path.join(d, "raw.csv"))))
    vals = {}
    for r in rows:
        if r["value"] not in ("", None):
            vals.setdefault((r["contender"], r["metric"]), []).append(float(r["value"]))
    med = {k: statistics.median(v) for k, v in vals.items()}
    present = [c for c in CONTENDERS if any(k[0] == c for k in med)]
    with open(os.path.join(d, "medians.csv"), "w") as f:
        f.write("contender,metric,median,n,ratio_to_haproxy\n")
        for (c, m), v in sorted(med.items()):
            base = med.get(("haproxy", m))
            ratio = "%.3f" % (v / base) if base else ""
            f.write("%s,%s,%.3f,%d,%s\n" % (c, m, v, len(vals[(c, m)]), ratio))
    # Chart data: one line per metric, one column per contender: ratio to HAProxy.
    with open(os.path.join(d, "ratios.dat"), "w") as f:
        f.write("metric " + " ".join(present) + "\n")
        for m, _, _ in METRICS:
            base = med.get(("haproxy", m))
            if not base:
                continue
            cells = []
            for c in present:
                v = med.get((c, m))
                cells.append("%.3f" % (v / base) if v is not None else "NaN")
            f.write("%s %s\n" % (m, " ".join(cells)))
    out = ["| metric | " + " | ".join(present) + " |", "|---" * (len(present) + 1) + "|"]
    for m, label, higher in METRICS:
        base = med.get(("haproxy", m))
        cells = []
        for c in present:
            v = med.get((c, m))
            if v is None:
                cells.append("n/a")
            elif base:
                cells.append("%s (%.2fx)" % (_fmt(v), v / base))
            else:
                cells.append(_fmt(v))
        label = label.replace("10,000", "{:,}".format(int(idle)))
        out.append("| %s %s | %s |" % (label, "↑" if higher else "↓", " | ".join(cells)))
    # The spread behind each median: nthlb's ratio to HAProxy in every round that measured both.
    by_round = {}
    for r in rows:
        if r["value"] not in ("", None):
            by_round[(r["round"], r["contender"], r["metric"])] = float(r["value"])
    rounds = sorted({r["round"] for r in rows}, key=int)
    spread = []
    for m, label, higher in METRICS:
        ratios = _paired(by_round, rounds, "nthlb", "haproxy", m)
        if len(ratios) > 1:
            better = sum(1 for x in ratios if (x >= 1 if higher else x <= 1))
            spread.append("| %s | %s | %.2f | %d of %d |" % (label, " ".join("%.2f" % x for x in ratios),
                                                           statistics.median(ratios), better, len(ratios)))
    if spread:
        out += ["", "nthlb / HAProxy round by round (the same round's runs are seconds apart, so the median of these",
                "ratios is the paired estimate: it is not moved by the machine getting faster or slower between rounds):", "",
                "| metric | ratio in each round | median ratio | rounds at least HAProxy's equal |", "|---|---|---|---|"] + spread
    for pp in ("nthlb+pp1", "nthlb+pp2"):
        if pp in present:
            out += [""] + _send_proxy_cost(pp, med, by_round, rounds)
    print("\n".join(out))


def _paired(by_round, rounds, c, base, m):
    """Contender c's figure m over base's, in every round that measured both."""
    return [by_round[(n, c, m)] / by_round[(n, base, m)] for n in rounds
            if by_round.get((n, base, m)) and (n, c, m) in by_round]


def _send_proxy_cost(pp, med, by_round, rounds):
    """BENCH_SEND_PROXY's table: nthlb with the PROXY header (contender pp) against plain nthlb, round by round."""
    out = ["## --send-proxy's cost: %s / nthlb" % pp, "",
           "Both run in every round, next to each other in the order, so each ratio compares runs taken seconds apart;",
           "the median of the rounds' ratios is the paired estimate. Within %d%%: at most %d%% worse (a ratio of at least"
           % (SEND_PROXY_TOLERANCE * 100, SEND_PROXY_TOLERANCE * 100),
           "%.2f where higher is better, at most %.2f where lower is)." % (1 - SEND_PROXY_TOLERANCE, 1 + SEND_PROXY_TOLERANCE), "",
           "| figure | nthlb | %s | ratio in each round | median ratio | within %d%% |" % (pp, SEND_PROXY_TOLERANCE * 100),
           "|---|---|---|---|---|---|"]
    for m, label, higher in METRICS:
        ratios = _paired(by_round, rounds, pp, "nthlb", m)
        if not ratios:
            continue
        r = statistics.median(ratios)
        within = r >= 1 - SEND_PROXY_TOLERANCE if higher else r <= 1 + SEND_PROXY_TOLERANCE
        out.append("| %s %s | %s | %s | %s | %.3f | %s |" % (
            label, "↑" if higher else "↓", _fmt(med[("nthlb", m)]), _fmt(med[(pp, m)]),
            " ".join("%.3f" % x for x in ratios), r, "yes" if within else "**no**"))
    return out


def _fmt(v):
    return "%.0f" % v if v >= 100 else "%.2f" % v


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "waitport":
        sys.exit(waitport(*args))
    elif cmd == "startup":
        sys.exit(startup(args[0], args[1], args[2], args[3:]))
    elif cmd == "idle":
        asyncio.run(_idle(*args))
    elif cmd == "rss":
        rss(args)
    elif cmd == "wrk":
        wrk(args[0])
    elif cmd == "redis":
        redis(args[0])
    elif cmd == "iperf":
        iperf(args[0])
    elif cmd == "udpecho":
        udpecho(args)
    elif cmd == "udpload":
        udpload(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit("unknown command " + cmd)

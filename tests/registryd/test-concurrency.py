#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd under concurrent registrations and deregistrations (the
# seed's registry deadlocks here: protocol.md, bug 6).
import http.client
import json
import threading
import time

from grades_test import Suite, registration, registrations, sanitizer_slowdown

suite = Suite("registryd: concurrency")
S = sanitizer_slowdown()
THREADS, PER_THREAD = 8, 50
st = {}


def svc(t, i):
    return "conc-%d-%d" % (t, i), "http://conc-%d-%d.test:7000" % (t, i)


def worker(reg, peer, tid, errors, done):
    """Registers services 0..49 of this thread, each requiring the previous
    one, and deregisters each odd one once its successor is registered; so
    every even one after 0 gets an initial patch naming its odd predecessor,
    then a Removed patch for it. Expected in the end: the even ones. Each
    thread uses its own keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=20 * S)

    def call(method, body, ctype):
        conn.request(method, "/services", body=body, headers={"Content-Type": ctype})
        r = conn.getresponse()
        data = r.read()
        return r.status, data
    def deregister(url):
        status, data = call("DELETE", url, "text/plain")
        if status != 200:
            errors.append("DELETE %s: %d %r" % (url, status, data[:200]))
    try:
        for i in range(PER_THREAD):
            name, url = svc(tid, i)
            required = [svc(tid, i - 1)[0]] if i else []
            body = registration(name, url, required, update_url="%s/%d/%d" % (peer.url, tid, i))
            status, data = call("POST", json.dumps(body), "application/json")
            if status != 200:
                errors.append("POST %s: %d %r" % (name, status, data[:200]))
            if i >= 1 and (i - 1) % 2 == 1:
                deregister(svc(tid, i - 1)[1])
        if (PER_THREAD - 1) % 2 == 1:
            deregister(svc(tid, PER_THREAD - 1)[1])
        done[tid] = True
    except Exception as e:  # a hung or crashed registry
        errors.append("thread %d: %r" % (tid, e))
    finally:
        conn.close()


@suite.test("8 threads x 50 registrations+deregistrations in parallel all succeed, without deadlock")
def _(t):
    reg = suite.daemon("registryd")
    peer = suite.peer()
    st.update(reg=reg, peer=peer)
    errors, done = [], {}
    threads = [threading.Thread(target=worker, args=(reg, peer, i, errors, done), daemon=True)
               for i in range(THREADS)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, started + 40 * S - time.monotonic()))
    elapsed = time.monotonic() - started
    t.diag("%d requests in %.2f s" % (THREADS * PER_THREAD * 3 // 2, elapsed))
    t.true(not any(th.is_alive() for th in threads), "all threads finished (no deadlock) within %.0f s" % (40 * S))
    for e in errors[:10]:
        t.diag(e)
    t.eq(len(errors), 0, "failed requests")
    t.eq(len(done), THREADS, "threads that completed")
    t.true(reg.alive(), "the registry is running")


@suite.test("the registry still answers, and ends with exactly the expected set")
def _(t):
    reg = st["reg"]
    listing = registrations(reg.get_json("/services", timeout=5))
    got = sorted(s["ServiceURL"] for s in listing)
    want = sorted(svc(tid, i)[1] for tid in range(THREADS) for i in range(0, PER_THREAD, 2))
    t.eq(len(got), len(want), "number of services")
    t.eq(got, want, "services")
    t.eq(len(set(got)), len(got), "no duplicates")
    for tid in (0, THREADS - 1):
        t.eq([s["ServiceURL"] for s in reg.get_json("/services/conc-%d-2" % tid)], [svc(tid, 2)[1]], "lookup")
        t.eq(reg.get_json("/services/conc-%d-3" % tid), [], "lookup of a deregistered name")


@suite.test("every registrant got its initial patch; successors of the odd ones got Removed")
def _(t):
    peer = st["peer"]
    # Version 2 patches (Removed) are asynchronous: wait for all of them.
    n_expected = THREADS * PER_THREAD + THREADS * (PER_THREAD // 2 - 1)
    peer.wait_for(lambda reqs: len([r for r in reqs if r.method == "POST"]) >= n_expected, 10 * S)
    bad = []
    for tid in range(THREADS):
        for i in range(PER_THREAD):
            got = [p.json() for p in peer.patches("/%d/%d" % (tid, i))]
            first = {"Added": [{"Name": svc(tid, i - 1)[0], "URL": svc(tid, i - 1)[1]}] if i else [],
                     "Removed": [], "Version": 1}
            want = [first]
            if i and (i - 1) % 2 == 1:
                want.append({"Added": [], "Removed": first["Added"], "Version": 2})
            if got != want:
                bad.append("%d/%d: got %r, want %r" % (tid, i, got, want))
    for b in bad[:5]:
        t.diag(b)
    t.eq(len(bad), 0, "dependents with unexpected patches")


@suite.test("GET /services stays responsive during a burst of parallel registrations")
def _(t):
    reg = st["reg"]
    stop = threading.Event()
    errors = []

    def hammer(k):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10 * S)
            i = 0
            while not stop.is_set():
                name, url = "burst-%d-%d" % (k, i % 25), "http://burst-%d-%d.test:8000" % (k, i % 25)
                conn.request("POST", "/services", body=json.dumps(registration(name, url)),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
                i += 1
            conn.close()
        except Exception as e:
            errors.append(repr(e))
    threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in range(8)]
    for th in threads:
        th.start()
    worst = 0
    try:
        for _ in range(20):
            t0 = time.monotonic()
            reg.get_json("/services", timeout=5)
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.02)
    finally:
        stop.set()
        for th in threads:
            th.join(10)
    t.diag("slowest GET /services: %.3f s" % worst)
    t.eq(errors, [], "errors")
    t.le(worst, 1.0 * S, "slowest GET /services (s)")
    listing = registrations(reg.get_json("/services"))
    t.eq(len(listing), THREADS * PER_THREAD // 2 + 8 * 25, "services (replacements made no duplicates)")


@suite.test("SIGTERM: exit status 0, no sanitizer report")
def _(t):
    t.clean_exit(st["reg"])


suite.run()

# SPDX-License-Identifier: MIT
"""Helpers for the grades-portald tests (Python 3 standard library only),
on top of grades_test.

  System        the whole system on free ports: registry (fast heartbeats),
                log, grading (data from $GRADES_SRCDIR/data) and portal;
                start() waits until the portal's discovery lists grading and
                log.
  Browser       a tiny cookie-keeping HTTP client that does not follow
                redirects, with submit() for the portal's forms.
  parse_html()  a Page: title, h1, links, forms, tables, labels, alerts,
                visible text, scripts; strict enough to catch unbalanced tags.
  providers() / wait_providers()   the portal's discovery (GET /providers).
  dead_url()    an http:// URL on a free port where nothing listens.
"""

import html.parser
import os
import urllib.parse

from grades_test import (REGISTRY_FAST, Failed, free_port, http, registration, srcdir,
                         sanitizer_slowdown, wait_until)

__all__ = ["System", "Browser", "Page", "parse_html", "providers", "wait_providers", "dead_url", "form_body",
           "add_student", "student", "register", "deregister", "slack", "content_type", "VOID_ELEMENTS"]


def slack(seconds):
    """seconds, stretched for sanitizer builds and loaded machines."""
    return seconds * sanitizer_slowdown()


def content_type(response):
    """The media type of a response, lower case, without parameters."""
    return (response.header("Content-Type") or "").split(";")[0].strip().lower()


def dead_url():
    """A URL nobody listens on: connecting to it is refused."""
    return "http://127.0.0.1:%d" % free_port()


def form_body(fields):
    """application/x-www-form-urlencoded, as a browser sends it (a list of
    pairs keeps order and allows repeats)."""
    items = fields.items() if isinstance(fields, dict) else fields
    return urllib.parse.urlencode(list(items))


def providers(portal):
    """The portal's discovery: {"GradingService": [...], "LogService": [...]}."""
    r = portal.get("/providers", timeout=5)
    if r.status != 200:
        raise Failed("GET /providers of the portal: HTTP %d %r" % (r.status, r.body[:200]))
    return r.json().get("Providers", {})


def wait_providers(portal, predicate, timeout=10):
    """Polls the portal's discovery until predicate(providers) is true;
    returns the providers, or None after timeout seconds."""
    def check():
        try:
            p = providers(portal)
        except (OSError, ValueError, Failed):
            return None
        return p if predicate(p) else None
    return wait_until(check, slack(timeout), interval=0.05)


def register(reg, name, url, heartbeat_url=None, required=(), update_url=None):
    """Registers url as a provider of name with the registry; returns the Response."""
    return reg.post_json("/services", registration(name, url, required=required, update_url=update_url,
                                                   heartbeat_url=heartbeat_url))


def deregister(reg, url):
    return reg.request("DELETE", "/services", body=url, headers={"Content-Type": "text/plain"})


def add_student(base_url, first, last, path="/students"):
    """Creates a student through POST path at base_url (grading's
    /students, or the portal's /api/students); returns its JSON."""
    body = {"FirstName": first, "LastName": last}
    r = http(base_url, "POST", path, body=body)
    if r.status != 201:
        raise Failed("POST %s: HTTP %d %r" % (path, r.status, r.body[:300]))
    return r.json()


def student(base_url, sid):
    r = http(base_url, "GET", "/students/%d" % sid)
    if r.status != 200:
        raise Failed("GET /students/%d: HTTP %d %r" % (sid, r.status, r.body[:300]))
    return r.json()


# ------------------------------------------------------------- System ----

class System:
    """registry + log + grading + portal, each on a free port.

    Daemons are started through suite.daemon(), so they are killed at the
    end whatever happens; stop them with Case.clean_exit() to check their
    exit status and stderr."""

    def __init__(self, suite, grading=True, log=True, portal=True, portal_args=(), grading_args=(),
                 registry_args=None, log_args=()):
        self.suite = suite
        self.with_grading = grading
        self.with_log = log
        self.with_portal = portal
        self.portal_args = list(portal_args)
        self.grading_args = list(grading_args)
        self.log_args = list(log_args)
        self.registry_args = list(REGISTRY_FAST if registry_args is None else registry_args)
        self.registry = self.log = self.grading = self.portal = None
        self.data = os.path.join(srcdir(), "data")

    def _common(self):
        return ["--registry=" + self.registry.url]

    def start(self, timeout=20):
        self.registry = self.suite.daemon("registryd", args=self.registry_args, ready_path="/services")
        if self.with_log:
            self.log = self.suite.daemon("logd", args=self._common() + self.log_args, ready_path="/log")
        if self.with_grading:
            self.grading = self.start_grading()
        if self.with_portal:
            self.portal = self.suite.daemon("portald", args=self._common() + [
                "--data-directory=" + self.data] + self.portal_args, ready_path="/providers")
            self.wait_discovery(timeout)
        return self

    def start_grading(self, state_dir=None, extra=()):
        """Another grading daemon (a fresh database unless state_dir is given)."""
        # grades-gradingd does not create its state directory (systemd does).
        state_dir = state_dir or self.suite.tmpdir("grades-grading-state-")
        return self.suite.daemon("gradingd", args=self._common() + [
            "--data-directory=" + self.data] + self.grading_args + list(extra), state_dir=state_dir,
            ready_path="/students")

    def wait_discovery(self, timeout=20):
        """Waits until the portal's discovery lists every started grading and log."""
        want = {}
        if self.grading:
            want["GradingService"] = self.grading.url
        if self.log:
            want["LogService"] = self.log.url

        def ok(p):
            return all(url in p.get(name, []) for name, url in want.items())
        got = wait_providers(self.portal, ok, timeout)
        if got is None:
            raise Failed("the portal's discovery did not list %r within %d s: %r" % (
                want, timeout, providers(self.portal)))
        return got

    @property
    def url(self):
        return self.portal.url

    def browser(self):
        return Browser(self.portal.url)

    def daemons(self):
        """Every daemon started, portal first (the order to stop them in)."""
        return [d for d in (self.portal, self.grading, self.log, self.registry) if d is not None]


# ------------------------------------------------------------ Browser ----

class Browser:
    """Keeps cookies (name -> value, from Set-Cookie), sends them back, and
    never follows redirects: tests look at each 30x."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = {}
        self.last_set_cookies = []

    def _headers(self, extra=None):
        h = dict(extra or {})
        if self.cookies and not any(k.lower() == "cookie" for k in h):
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return h

    def _remember(self, response):
        self.last_set_cookies = [v for k, v in response.headers if k.lower() == "set-cookie"]
        for v in self.last_set_cookies:
            name, _, rest = v.partition("=")
            value = rest.split(";")[0]
            self.cookies[name.strip()] = value.strip()
        return response

    def request(self, method, path, body=None, headers=None, timeout=10):
        return self._remember(http(self.base_url, method, path, body=body, headers=self._headers(headers),
                                   timeout=timeout))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_form(self, path, fields, headers=None, **kw):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, body=form_body(fields), headers=h, **kw)

    def page(self, path):
        """GET path, which must answer 200 HTML; returns (Response, Page)."""
        r = self.get(path)
        if r.status != 200:
            raise Failed("GET %s: expected HTTP 200, got %d %r" % (path, r.status, r.body[:300]))
        return r, parse_html(r.body)

    def submit(self, page, values, form_index=0, drop=(), override=None):
        """Submits a form of page as a browser would: its hidden fields and
        current values, updated with values; fields in drop are left out;
        override replaces whole fields after that (e.g. a forged token)."""
        form = page.forms[form_index]
        fields = dict(form["fields"])
        fields.update(values)
        for name in drop:
            fields.pop(name, None)
        fields.update(override or {})
        if (form["method"] or "get").lower() != "post":
            raise Failed("form %d is not method=post: %r" % (form_index, form))
        return self.post_form(form["action"], fields)


# --------------------------------------------------------------- HTML ----

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                 "track", "wbr"}
# Elements whose end tag HTML lets out (we only check the others).
OPTIONAL_END = {"p", "li", "option", "tr", "td", "th", "thead", "tbody", "html", "head", "body"}


class Page:
    def __init__(self):
        self.title = None
        self.h1 = []
        self.links = []      # (href, text)
        self.forms = []      # {"action", "method", "fields": {name: value}, "selects": {...}, "inputs": [...]}
        self.tables = []     # {"caption", "headers": [(text, scope)], "rows": [[cell text]]}
        self.labels = {}     # for -> text
        self.ids = []
        self.alerts = []     # text of role="alert" elements
        self.scripts = 0
        self.stylesheets = []
        self.meta = {}       # name -> content
        self.lang = None
        self.text_parts = []
        self.errors = []     # structural problems seen while parsing
        self.elements = []   # (tag, attrs) of every start tag

    @property
    def text(self):
        return " ".join(" ".join(self.text_parts).split())

    def table(self, caption_part=""):
        for t in self.tables:
            if caption_part in (t["caption"] or ""):
                return t
        return None

    def link_to(self, href):
        return [t for h, t in self.links if h == href]


class _Parser(html.parser.HTMLParser):
    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.stack = []
        self.capture = []   # [kind, text parts, extra]
        self.form = None
        self.table = None
        self.row = None
        self.cell = None
        self.select = None
        self.option = None
        self.skip_text = 0

    # open "capture" scopes gather the text of title, h1, a, label, caption, th/td, alerts
    def _open_capture(self, kind, extra=None):
        self.capture.append([kind, [], extra])

    def _close_capture(self, kind):
        for i in range(len(self.capture) - 1, -1, -1):
            if self.capture[i][0] == kind:
                c = self.capture.pop(i)
                return " ".join("".join(c[1]).split()), c[2]
        return None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        p = self.page
        p.elements.append((tag, a))
        if "id" in a:
            p.ids.append(a["id"])
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)
        if tag == "html":
            p.lang = a.get("lang")
        elif tag == "meta" and "name" in a:
            p.meta[a["name"]] = a.get("content")
        elif tag == "link" and a.get("rel") == "stylesheet":
            p.stylesheets.append(a.get("href"))
        elif tag == "script":
            p.scripts += 1
            self.skip_text += 1
        elif tag == "style":
            self.skip_text += 1
        elif tag in ("title", "h1", "label", "caption"):
            self._open_capture(tag, a)
        elif tag == "a":
            self._open_capture("a", a.get("href"))
        elif tag == "form":
            self.form = {"action": a.get("action"), "method": a.get("method"), "fields": {}, "selects": {},
                         "inputs": [], "attrs": a}
            p.forms.append(self.form)
        elif tag == "input":
            if self.form is not None:
                self.form["inputs"].append(a)
                if a.get("name"):
                    self.form["fields"][a["name"]] = a.get("value") or ""
        elif tag == "select":
            self.select = {"name": a.get("name"), "id": a.get("id"), "options": [], "selected": None}
            if self.form is not None:
                self.form["inputs"].append(dict(a, tag="select"))
                self.form["selects"][a.get("name")] = self.select
        elif tag == "option":
            self.option = {"selected": "selected" in a, "value": a.get("value")}
            self._open_capture("option")
        elif tag == "table":
            self.table = {"caption": None, "headers": [], "rows": []}
            p.tables.append(self.table)
        elif tag == "tr":
            self.row = []
        elif tag in ("th", "td"):
            self._open_capture(tag, a)
        if a.get("role") == "alert":
            self._open_capture("alert:" + tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        p = self.page
        if tag in VOID_ELEMENTS:
            p.errors.append("end tag of void element <%s>" % tag)
            return
        # Pop to the matching open tag; complain about unclosed ones that need a closing tag.
        if tag in self.stack:
            while self.stack:
                top = self.stack.pop()
                if top == tag:
                    break
                if top not in OPTIONAL_END:
                    p.errors.append("<%s> not closed before </%s>" % (top, tag))
        else:
            p.errors.append("</%s> without <%s>" % (tag, tag))
        if tag in ("script", "style"):
            self.skip_text = max(0, self.skip_text - 1)
        elif tag == "title":
            p.title, _ = self._close_capture("title")
        elif tag == "h1":
            t, _ = self._close_capture("h1")
            p.h1.append(t)
        elif tag == "a":
            t, href = self._close_capture("a")
            p.links.append((href, t))
        elif tag == "label":
            t, a = self._close_capture("label")
            if a and a.get("for"):
                p.labels[a["for"]] = t
        elif tag == "caption":
            t, _ = self._close_capture("caption")
            if self.table is not None:
                self.table["caption"] = t
        elif tag in ("th", "td"):
            t, a = self._close_capture(tag)
            if self.row is not None:
                self.row.append(t)
            if tag == "th" and self.table is not None and self.table["rows"] == [] and self.in_thead():
                self.table["headers"].append((t, (a or {}).get("scope")))
        elif tag == "tr":
            if self.table is not None and self.row is not None and not self.in_thead():
                self.table["rows"].append(self.row)
            self.row = None
        elif tag == "option":
            t, _ = self._close_capture("option")
            if self.select is not None and self.option is not None:
                value = self.option["value"] if self.option["value"] is not None else t
                self.select["options"].append(value)
                if self.option["selected"]:
                    self.select["selected"] = value
            self.option = None
        elif tag == "select":
            if self.form is not None and self.select is not None and self.select["name"]:
                sel = self.select["selected"]
                if sel is None and self.select["options"]:
                    sel = self.select["options"][0]
                self.form["fields"][self.select["name"]] = sel or ""
            self.select = None
        elif tag == "form":
            self.form = None
        elif tag == "table":
            self.table = None
        # role="alert" scopes close with their element
        for i in range(len(self.capture) - 1, -1, -1):
            if self.capture[i][0] == "alert:" + tag:
                t = " ".join("".join(self.capture.pop(i)[1]).split())
                p.alerts.append(t)
                break

    def in_thead(self):
        return "thead" in self.stack

    def handle_data(self, data):
        if self.skip_text:
            return
        self.page.text_parts.append(data)
        for c in self.capture:
            c[1].append(data)


def parse_html(body):
    """Parses an HTML document (bytes or str) into a Page."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    page = Page()
    parser = _Parser(page)
    parser.feed(body)
    parser.close()
    for tag in parser.stack:
        if tag not in OPTIONAL_END:
            page.errors.append("<%s> never closed" % tag)
    return page

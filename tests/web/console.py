#!/usr/bin/python3
"""The web console in a real browser: headless Chromium driven by Selenium (WebDriver).

Run by tests/web_console.rs (mode `test`) and benches/web_console.rs (mode `bench`), which
start the real daemon and pass everything in the environment:

  GSMS_BASE          http://127.0.0.1:PORT
  GSMS_ADMIN         a management token
  GSMS_SENDER        a token of `alice`, super-admin of group GSMS_GROUP
  GSMS_MEMBER        a token of a plain member (`m1`)
  GSMS_GROUP         the group (`ops`)
  GSMS_RECIPIENTS    how many members the broadcast reaches
  GSMS_OPTED_OUT     the member whose reply opts out (`m2`)
  GSMS_REPLY         the text another member replies (`收到，谢谢`)
  GSMS_SHOTS         where screenshots go (empty: none)
  GSMS_AXE           axe-core's axe.min.js (npm package axe-core): every page is audited
  GSMS_LEFT_OUT      a member of GSMS_GROUP with SMS disabled (`quiet`), and their name in
  GSMS_LEFT_OUT_NAME
  GSMS_LONG_END      the end of a message longer than 500 characters in the inbox
  GSMS_PIN           a modem's device path, to pin a group to
  GSMS_PAGES         (bench) the pages to measure, comma-separated paths

Every wait is bounded polling on a condition (WebDriverWait), never a sleep for a guess.
A failed check raises, the script exits non-zero, and the Rust side fails.
"""

import json
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT = 60  # seconds, the bound of every wait


def browser(width=1280, lang="en"):
    opts = webdriver.ChromeOptions()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="gsms-chromium-"),
        "--lang=" + lang,
    ):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    opts.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_window_size(width, 900)
    return d


# What fails the accessibility audit: axe-core's two worst impacts.
BLOCKING = ("serious", "critical")


class Console:
    def __init__(self, driver, base, shots, axe=""):
        self.d = driver
        self.base = base
        self.shots = shots
        self.axe = open(axe, encoding="utf-8").read() if axe else ""
        self.audited = []

    def audit(self, name):
        """axe-core on the page as it is (WCAG 2.x A and AA rules and best practices): a
        serious or critical violation fails the suite, naming the rule and the elements."""
        if not self.axe:
            return
        # The page's Content-Security-Policy does not apply to WebDriver's scripts.
        self.d.execute_script(self.axe)
        result = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
        )
        bad = [v for v in result if v["impact"] in BLOCKING]
        for v in result:
            if v not in bad:
                print("axe-core note on %s: %s [%s] %s: %s" % (name, v["id"], v["impact"], v["help"], "; ".join(v["nodes"][:3])))
        assert not bad, "accessibility (axe-core) on %s (%s):\n%s" % (
            name,
            self.d.current_url,
            "\n".join("%s [%s] %s\n    %s" % (v["id"], v["impact"], v["help"], "\n    ".join(v["nodes"][:5])) for v in bad),
        )
        self.audited.append(name)

    def go(self, path):
        self.d.get(self.base + path)

    def wait(self, what, cond):
        try:
            # A page being replaced (after a form) may answer with an element that is gone:
            # the condition is asked again.
            return WebDriverWait(
                self.d,
                WAIT,
                poll_frequency=0.1,
                ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
            ).until(lambda d: cond())
        except Exception as e:
            raise AssertionError(
                "waited %ds for %s; page %s:\n%s"
                % (WAIT, what, self.d.current_url, self.d.find_element(By.TAG_NAME, "body").text[:3000])
            ) from e

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def leave(self, css):
        """Clicks what leads to another page (a link, a form's button) and waits until the
        page it was on is gone: a check made after it then reads the new page, never the old
        one (whose fields may already hold what was typed). The old page is marked before the
        click; a new page has no mark."""
        self.d.execute_script("window.gsmsLeft = true;")
        self.find(css).click()
        self.wait(
            "the page after " + css,
            lambda: self.d.execute_script("return window.gsmsLeft !== true && document.readyState !== 'loading';"),
        )

    def all(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self):
        return self.find("body").text

    def sign_in(self, token, expect_ok=True):
        self.go("/console/login")
        field = self.find("#token")
        # The field is labelled (accessible name) and focused for the keyboard.
        label = self.find("label[for=token]").text
        assert label, "the token field has a label"
        field.send_keys(token)
        self.leave("form button[type=submit]")
        if expect_ok:
            self.wait("the overview after signing in", lambda: self.d.current_url.endswith("/console/"))

    def sign_out(self):
        self.leave("form[action='/console/logout'] button")
        self.wait("the sign-in page", lambda: "/console/login" in self.d.current_url)

    def shot(self, name):
        """The accessibility audit of the page, and its screenshots at desktop (1280) and
        phone (360) width, whole height."""
        self.audit(name)
        if not self.shots:
            return
        for width, tag in ((1280, "desktop"), (360, "phone")):
            self.d.set_window_size(width, 900)
            height = self.d.execute_script("return document.documentElement.scrollHeight")
            self.d.set_window_size(width, min(max(height, 640) + 120, 4000))
            # At 360 px nothing may stick out sideways (the tables scroll inside their box).
            if width == 360:
                overflow = self.d.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 1, "%s is %d px too wide at 360 px" % (name, overflow)
            self.d.save_screenshot(os.path.join(self.shots, "%s-%s.png" % (name, tag)))
        self.d.set_window_size(1280, 900)


def states_now(c):
    return [td.get_attribute("data-state") for td in c.all("#deliveries td[data-state]")]


def api_status(c, path):
    """The status the public API answers the signed-in page's session for GET `path` (a read
    needs no CSRF token): what is written, seen without leaving the page."""
    return c.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => done(r.status), e => done(String(e)));",
        path,
    )


def fill(c, css, value):
    field = c.find(css)
    field.clear()
    field.send_keys(value)


def set_checked(c, css, on):
    box = c.find(css)
    if box.is_selected() != on:
        box.click()


def run_test(env):
    base = env["GSMS_BASE"]
    group = env["GSMS_GROUP"]
    recipients = int(env["GSMS_RECIPIENTS"])
    shots = env.get("GSMS_SHOTS") or ""
    quiet, quiet_name = env["GSMS_LEFT_OUT"], env["GSMS_LEFT_OUT_NAME"]
    d = browser()
    c = Console(d, base, shots, env["GSMS_AXE"])
    try:
        # A wrong token is refused, with the API's reason, and no session cookie is set.
        c.sign_in("gsms_" + "0" * 64, expect_ok=False)
        c.wait("the refusal", lambda: c.all("#login-error"))
        assert "not known" in c.find("#login-error").text, c.text()
        assert "/console/login" in d.current_url
        assert not any(k["name"] == "gsms_console" for k in d.get_cookies())
        c.shot("login-refused")
        # Without a session every page leads to the sign-in page.
        c.go("/console/inbox")
        c.wait("the sign-in page", lambda: "/console/login" in d.current_url)

        # A plain member's token: signed in, but refused on the administrators' pages.
        c.sign_in(env["GSMS_MEMBER"])
        cookie = [k for k in d.get_cookies() if k["name"] == "gsms_console"][0]
        assert cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie
        assert env["GSMS_MEMBER"] not in cookie["value"]
        assert not c.all("nav a[href='/console/groups']"), "no groups link for a member"
        for page in ("/console/groups", "/console/groups/" + group, "/console/import"):
            c.go(page)
            c.wait("the refusal of " + page, lambda: c.all("#admins-only"))
        c.audit("admins-only")
        # The IMSI column is for administrators.
        c.go("/console/")
        assert "IMSI" not in c.find("table.modems thead").text
        c.sign_out()
        # The session is gone: its cookie no longer opens a page.
        c.go("/console/")
        c.wait("the sign-in page", lambda: "/console/login" in d.current_url)

        # The super-admin sends: live preview as they type, then preview, confirm, follow.
        c.sign_in(env["GSMS_SENDER"])
        c.shot("overview-member")
        c.go("/console/send")
        Select(c.find("#group")).select_by_value(group)
        c.find("#text").send_keys("明天上午九点开会，请准时参加")
        c.wait(
            "the live preview's recipients",
            lambda: c.find("[data-pv=recipients]").text == str(recipients),
        )
        assert c.find("[data-pv=encoding]").text == "UCS-2", c.text()
        assert c.find("[data-pv=parts]").text.startswith("1 /"), c.text()
        phone = c.find("[data-pv=phone]").text
        assert phone.startswith("【") and "明天上午九点开会" in phone, phone
        left = int(c.find("[data-pv=remaining]").text)
        c.find("#text").send_keys("！")
        c.wait("one character less", lambda: c.find("[data-pv=remaining]").text == str(left - 1))
        # Who is left out, by name, on demand: the member with SMS disabled, hidden until
        # their reason is opened.
        left_out = "ul[data-pv=names-sms_disabled] li[data-member=%s]" % quiet
        c.wait("the left-out member named (live)", lambda: c.all(left_out))
        assert c.find("[data-pv=dropped-sms_disabled]").text == "1", c.text()
        # Inside a closed <details> an element is not shown (checkVisibility: no box, or
        # content skipped).
        rendered = lambda: d.execute_script("return arguments[0].checkVisibility()", c.find(left_out))
        assert c.find("details[data-pv=left-sms_disabled]").get_attribute("open") is None
        assert not rendered(), "names only on demand"
        c.find("details[data-pv=left-sms_disabled] summary").click()
        c.wait("the names shown", rendered)
        assert quiet_name in c.find(left_out).text, c.find(left_out).text
        assert not c.all("ul[data-pv=names-opted_out] li"), "nobody opted out yet"
        c.shot("send-preview")
        c.leave("#preview-button")
        c.wait("the confirmation", lambda: c.all("#confirm-button"))
        # The server-rendered preview names them too (without the script).
        assert quiet_name in c.find(left_out).get_attribute("textContent")
        assert str(recipients) in c.find("#confirm-button").text
        c.leave("#confirm-button")
        c.wait("the broadcast page", lambda: "/console/broadcasts/" in d.current_url)
        broadcast = d.current_url.rsplit("/", 1)[1]
        print("states when the broadcast page loaded:", states_now(c))

        def states():
            return [td.get_attribute("data-state") for td in c.all("#deliveries td[data-state]")]

        c.wait(
            "every member delivered (live, over Server-Sent Events)",
            lambda: len(states()) == recipients and all(s == "delivered" for s in states()),
        )
        c.wait(
            "the delivered counter",
            lambda: c.find("[data-count=delivered]").text == str(recipients),
        )
        c.shot("broadcast")
        c.go("/console/broadcasts")
        assert c.all("a[href='/console/broadcasts/%s']" % broadcast)
        c.shot("broadcasts")

        # The replies reach the inbox, unread first, linked to the broadcast.
        def inbox_has_reply():
            c.go("/console/inbox")
            return any(
                env["GSMS_REPLY"] in li.text and li.find_elements(By.CSS_SELECTOR, "a[href='/console/broadcasts/%s']" % broadcast)
                for li in c.all("li.unread[data-handling=reply]")
            )

        c.wait("the reply in the inbox", inbox_has_reply)
        c.wait("the opt-out in the inbox", lambda: c.all("li[data-handling=opt_out]") or c.go("/console/inbox"))
        c.shot("inbox")
        c.leave("li.unread form button")
        c.wait("the inbox again", lambda: "/console/inbox" in d.current_url)
        c.sign_out()

        # The administrator: the opt-out shows in the group, the CSV import refuses a bad row.
        c.sign_in(env["GSMS_ADMIN"])
        assert "IMSI" in c.find("table.modems thead").text
        # The webhook to a closed port is among the problems that need a person.
        c.wait(
            "the failing webhook on the overview",
            lambda: c.go("/console/") is None and "ops-bus" in c.find("ul.problems").text,
        )
        c.shot("overview")
        # A message past 500 characters (from a member, answering no broadcast: for the
        # administrators): cut in the list, whole on its own page.
        c.go("/console/inbox")
        long_end = env["GSMS_LONG_END"]
        assert not any(long_end in p.text for p in c.all("li p.body")), "the list cuts it"
        c.leave("li a.more")
        c.wait("the whole message", lambda: c.all("#message-text"))
        whole = c.find("#message-text").text
        assert whole.endswith(long_end) and len(whole) > 500, (len(whole), whole[-80:])
        c.shot("inbox-message")
        c.go("/console/groups")
        c.shot("groups")
        c.go("/console/groups/" + group)
        row = c.find("tr[data-member=%s] td[data-opted-out]" % env["GSMS_OPTED_OUT"])
        assert row.get_attribute("data-opted-out") == "true", c.text()
        # An administrator changes a role and opts a member out by hand.
        c.leave("tr[data-member=m1] a.change")
        c.wait("m1's page", lambda: c.all("#role-m1"))
        c.shot("membership")
        c.find("#role-m1").find_element(By.XPATH, "./option[@value='admin']").click()
        c.leave("form.role-form button")
        c.wait("m1 an admin", lambda: c.find("tr[data-member=m1] td[data-role]").get_attribute("data-role") == "admin")
        c.leave("tr[data-member=m3] a.change")
        c.wait("m3's page", lambda: c.all("button[value=opt_out]"))
        c.leave("button[value=opt_out]")
        c.wait("m3 opted out", lambda: c.find("tr[data-member=m3] td[data-opted-out]").get_attribute("data-opted-out") == "true")
        c.shot("group")
        # A new group.
        c.go("/console/groups")
        c.find("#g-handle").send_keys("night")
        c.find("#g-name").send_keys("夜班")
        c.find("#g-daily").send_keys("5")
        c.leave("#group-create button")
        c.wait("the new group's page", lambda: d.current_url.endswith("/console/groups/night"))

        # Its settings changed: name, header, quotas, pinned to a modem, urgent allowed.
        assert c.find("#ge-daily").get_attribute("value") == "5"
        fill(c, "#ge-name", "夜班组")
        fill(c, "#ge-header", "【夜班通知】")
        fill(c, "#ge-daily", "7")
        fill(c, "#ge-monthly", "100")
        fill(c, "#ge-pinned", env["GSMS_PIN"])
        set_checked(c, "#ge-fallback", True)
        set_checked(c, "#ge-urgent", True)
        c.leave("#group-save")
        c.wait("the group changed", lambda: "夜班组" in c.find("dl.stats").text and not c.all("#group-error"))
        assert "【夜班通知】" in c.find("dl.stats").text, c.text()
        assert c.find("#ge-pinned").get_attribute("value") == env["GSMS_PIN"]
        assert c.find("#ge-urgent").is_selected() and c.find("#ge-fallback").is_selected()
        assert c.find("#ge-monthly").get_attribute("value") == "100"
        # A refused change is shown in the form, with what was typed.
        fill(c, "#ge-daily", "lots")
        c.leave("#group-save")
        c.wait("the group's refusal", lambda: c.all("#group-error"))
        assert "whole number" in c.find("#group-error").text, c.text()
        assert c.find("#ge-daily").get_attribute("value") == "lots"
        # A member added to the group; a bad phone number refused with the API's words.
        fill(c, "#am-handle", "n9")
        fill(c, "#am-name", "夜九")
        fill(c, "#am-phone", "13900000009")
        c.leave("#member-add-button")
        c.wait("n9 in the group", lambda: c.all("tr[data-member=n9]"))
        fill(c, "#am-handle", "n8")
        fill(c, "#am-name", "夜八")
        fill(c, "#am-phone", "12")
        c.leave("#member-add-button")
        c.wait("the member's refusal", lambda: c.all("#add-error"))
        assert "phone" in c.find("#add-error").text.lower(), c.find("#add-error").text
        assert c.find("#am-handle").get_attribute("value") == "n8"
        assert not c.all("tr[data-member=n8]")
        c.shot("group-refused")
        # The member changed: name, SMS off; then a bad number refused.
        c.leave("tr[data-member=n9] a.change")
        c.wait("n9's page", lambda: c.all("#member-edit"))
        fill(c, "#me-name", "夜九九")
        set_checked(c, "#me-sms", False)
        c.leave("#member-save")
        c.wait(
            "n9 changed",
            lambda: c.find("#me-name").get_attribute("value") == "夜九九" and not c.all("#member-error"),
        )
        assert not c.find("#me-sms").is_selected() and c.find("#me-valid").is_selected()
        fill(c, "#me-phone", "not-a-phone")
        c.leave("#member-save")
        c.wait("the number's refusal", lambda: c.all("#member-error"))
        assert "phone" in c.find("#member-error").text.lower(), c.find("#member-error").text
        c.shot("member-refused")

        # The CSV import: a preview first, even when every row is good; nothing written
        # until confirmed. One bad row: named by its line, the good one shown as to come.
        c.go("/console/import")
        csv = "handle,name,phone,group,role\nn1,新成员1,13912340001,%s,member\nn2,新成员2,not-a-phone,%s,member\n" % (group, group)
        c.find("#csv").send_keys(csv)
        c.leave("#import-button")
        c.wait("the bad row", lambda: c.all("#bad-rows tr[data-line='3']"))
        assert c.all("#import-refused")
        counts = c.find("#import-preview [data-counts]").get_attribute("data-counts")
        assert counts == "1,0,0,1,0,1", counts
        # What the good row would do, by line: a new member, added to the group.
        assert c.find("#import-rows tr[data-line='2']").get_attribute("data-change") == "created"
        assert not c.all("#import-rows tr[data-line='3']")
        assert api_status(c, "/v1/members/n1") == 404, "a preview writes nothing"
        c.shot("import-refused")
        # The confirmation carries the CSV previewed: changed on the way, it is refused.
        d.execute_script(
            "document.querySelector('#import-confirm input[name=csv]').value += arguments[0];",
            "n5,新成员5,13912340005,%s,member\n" % group,
        )
        c.leave("#import-confirm-button")
        c.wait("the changed file refused", lambda: c.all("#import-changed"))
        assert api_status(c, "/v1/members/n1") == 404, "a changed file writes nothing"
        assert api_status(c, "/v1/members/n5") == 404
        # Every row good: still a preview, then the confirmation writes exactly that.
        c.go("/console/import")
        good = "handle,name,phone,group,role\nn3,新成员3,13912340003,%s,member\nn4,新成员4,13912340004,%s,member\n" % (group, group)
        c.find("#csv").send_keys(good)
        c.leave("#import-button")
        c.wait("the preview", lambda: c.all("#import-preview"))
        assert not c.all("#bad-rows")
        counts = c.find("#import-preview [data-counts]").get_attribute("data-counts")
        assert counts == "2,0,0,2,0,0", counts
        assert [r.get_attribute("data-member") for r in c.all("#import-rows tbody tr")] == ["n3", "n4"]
        assert api_status(c, "/v1/members/n3") == 404, "a preview writes nothing"
        c.shot("import-preview")
        c.leave("#import-confirm-button")
        c.wait("the import done", lambda: c.all("#import-done"))
        assert api_status(c, "/v1/members/n3") == 200
        assert api_status(c, "/v1/members/n4") == 200
        c.shot("import-done")
        # Nothing of the refused file was written: n1 is not in the group.
        c.go("/console/groups/" + group)
        assert not c.all("tr[data-member=n1]"), "a refused import wrote nothing"
        assert c.all("tr[data-member=n3]")
        # Chinese, by the language link; the choice stays.
        c.leave("a.lang")
        c.wait("the page in Chinese", lambda: c.find("html").get_attribute("lang") == "zh-CN")
        assert "成员" in c.text()
        c.go("/console/")
        assert c.find("html").get_attribute("lang") == "zh-CN"
        c.shot("overview-zh")
        c.sign_out()
        c.shot("login")
    finally:
        d.quit()
    print("accessibility: axe-core found nothing serious on %d pages: %s" % (len(c.audited), ", ".join(c.audited)))
    print("web console: every flow passed")


def run_bench(env):
    """Page weight (bytes transferred, cache off) and first render of each page."""
    base = env["GSMS_BASE"]
    pages = [p for p in env["GSMS_PAGES"].split(",") if p]
    d = browser()
    c = Console(d, base, "")
    try:
        c.sign_in(env["GSMS_ADMIN"])
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        print("%-46s %9s %9s %8s %8s %8s" % ("page", "bytes", "html", "server", "fcp", "load"))
        for path in pages:
            for _ in range(2):  # the first load warms the daemon's caches; the second counts
                c.go(path)
                WebDriverWait(d, WAIT).until(
                    lambda d: d.execute_script("return document.readyState") == "complete"
                )
            # The first contentful paint is reported a moment after the load, at most.
            WebDriverWait(d, 5).until(
                lambda d: d.execute_script(
                    "return performance.getEntriesByType('paint').some("
                    "p => p.name === 'first-contentful-paint')"
                )
            )
            m = d.execute_script(
                """
                const n = performance.getEntriesByType('navigation')[0];
                const res = performance.getEntriesByType('resource')
                  .filter(r => !r.name.includes('/events'));
                const fcp = performance.getEntriesByType('paint')
                  .find(p => p.name === 'first-contentful-paint');
                return {
                  html: n.transferSize,
                  bytes: n.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
                  server: n.responseStart - n.requestStart,
                  fcp: fcp ? fcp.startTime : -1,
                  load: n.loadEventEnd,
                };
                """
            )
            print(
                "%-46s %9d %9d %6.0fms %6.0fms %6.0fms"
                % (path, m["bytes"], m["html"], m["server"], m["fcp"], m["load"])
            )
            sys.stdout.flush()
    finally:
        d.quit()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "test"
    {"test": run_test, "bench": run_bench}[mode](os.environ)

// SPDX-License-Identifier: MIT
// End-to-end test of grades-portald in a real headless browser (Debian's
// chromium, driven by playwright-core). Run by test-browser.py, which starts
// the system; it can also be run by hand against a running portal:
//
//   node e2e.js --portal=http://127.0.0.1:5005 --artifacts=DIR \
//        --student=1 --html-student=ID --html-name='<script>alert(1)</script> X'
//
// Prints one JSON object per line: {"step": NAME, "ok": BOOL, "detail": TEXT},
// then {"done": true}. Exits 0 when every step passed, 1 when one failed, 2
// when the browser could not be started at all.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function arg(name, fallback) {
  const prefix = `--${name}=`;
  const a = process.argv.find((x) => x.startsWith(prefix));
  return a === undefined ? fallback : a.slice(prefix.length);
}

const PORTAL = arg('portal', 'http://127.0.0.1:5005');
const ARTIFACTS = arg('artifacts', path.join(__dirname, '..', '..', 'artifacts'));
const STUDENT = Number(arg('student', '1'));
const HTML_STUDENT = Number(arg('html-student', '0'));
const HTML_NAME = arg('html-name', '<script>alert(1)</script> X');
const CHROMIUM = arg('chromium', '/usr/bin/chromium');
const TIMEOUT = Number(arg('timeout-ms', '20000'));

let failures = 0;
function report(step, ok, detail) {
  if (!ok) failures++;
  process.stdout.write(JSON.stringify({ step, ok: !!ok, detail: String(detail || '') }) + '\n');
}

class CheckFailed extends Error {}
function check(cond, what) {
  if (!cond) throw new CheckFailed(what);
}

// Runs one step; a failed check or an exception fails it, not the others.
async function step(name, fn) {
  try {
    const detail = await fn();
    report(name, true, detail);
    return true;
  } catch (e) {
    report(name, false, e instanceof CheckFailed ? e.message : (e && e.stack) || String(e));
    return false;
  }
}

const cellTexts = (row) => row.locator('td').allTextContents();
const squash = (s) => s.replace(/\s+/g, ' ').trim();

async function main() {
  let pw;
  try {
    pw = require('playwright-core');
  } catch (e) {
    report('setup', false, `playwright-core is not installed (npm ci in ${__dirname}): ${e.message}`);
    return 2;
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grades-chromium-'));
  let context;
  try {
    // A persistent context is how playwright takes a --user-data-dir of our own.
    context = await pw.chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 1024, height: 768 },
    });
  } catch (e) {
    report('setup', false, `cannot start ${CHROMIUM}: ${e.message}`);
    fs.rmSync(userDataDir, { recursive: true, force: true });
    return 2;
  }
  report('setup', true, `chromium ${context.browser() ? context.browser().version() : ''} in ${userDataDir}`);

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.setDefaultNavigationTimeout(TIMEOUT);
  const dialogs = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss().catch(() => {});
  });
  // Script errors, and resources that failed other than the 400 answer to
  // the deliberately invalid form (resource errors are reported below, with
  // their URLs, from the responses).
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const failedResponses = [];
  let expectFailure = null;
  page.on('response', (r) => {
    if (r.status() >= 400 && !(expectFailure && r.url() === expectFailure && r.request().method() === 'POST'))
      failedResponses.push(`${r.request().method()} ${r.url()} ${r.status()}`);
  });

  let studentName = null;
  let before = null;

  await step('students', async () => {
    const res = await page.goto(`${PORTAL}/students`);
    check(res && res.status() === 200, `GET /students: status ${res && res.status()}`);
    check((await page.title()) === 'Students · grades', `title: ${await page.title()}`);
    check(squash(await page.locator('h1').innerText()) === 'Students', 'h1 is "Students"');
    const links = page.locator(`table a[href="/students/${STUDENT}"]`);
    check((await links.count()) === 1, `one link to /students/${STUDENT}`);
    studentName = squash(await links.innerText());
    // The stylesheet applied: the header has the accent background.
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('header')).backgroundColor);
    check(bg && bg !== 'rgba(0, 0, 0, 0)', `stylesheet applied (header background ${bg})`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'students.png'), fullPage: true });
    return `${await page.locator('tbody tr').count()} students; following "${studentName}"`;
  });

  await step('student', async () => {
    check(studentName, 'the students page gave a link');
    await Promise.all([page.waitForURL(`${PORTAL}/students/${STUDENT}`), page.getByRole('link', { name: studentName, exact: true }).click()]);
    check(squash(await page.locator('h1').innerText()) === studentName, 'h1 is the student name');
    check((await page.title()) === `${studentName} · grades`, `title: ${await page.title()}`);
    check(await page.getByRole('heading', { name: 'Add a grade' }).isVisible(), '"Add a grade" heading');
    for (const label of ['Title', 'Type', 'Score'])
      check((await page.getByLabel(label, { exact: true }).count()) === 1, `a field labelled ${label}`);
    const api = await page.request.get(`${PORTAL}/api/students/${STUDENT}`);
    check(api.ok(), `GET /api/students/${STUDENT}: ${api.status()}`);
    before = await api.json();
    const rows = page.locator('table tbody tr');
    check((await rows.count()) === before.Grades.length, `${before.Grades.length} grade rows`);
    return `${before.Grades.length} grades, average ${before.Average}`;
  });

  await step('add-grade', async () => {
    check(before, 'the student page was shown');
    const title = `Browser quiz ${Date.now() % 100000}`;
    await page.getByLabel('Title', { exact: true }).fill(title);
    await page.getByLabel('Type', { exact: true }).selectOption('Test');
    await page.getByLabel('Score', { exact: true }).fill('77.5');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/students/${STUDENT}/grades`) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Add grade' }).click(),
    ]);
    check(res.status() === 303, `POST answered ${res.status()}, expected 303`);
    await page.waitForURL(`${PORTAL}/students/${STUDENT}`);
    await page.waitForLoadState('load');
    const rows = page.locator('table tbody tr');
    check((await rows.count()) === before.Grades.length + 1, `${before.Grades.length + 1} rows after adding`);
    const texts = await Promise.all((await rows.all()).map(cellTexts));
    const mine = texts.filter((t) => t[0] === title);
    check(mine.length === 1, `one row titled ${title}: ${JSON.stringify(texts)}`);
    check(mine[0][1] === 'Test' && Number(mine[0][2]) === 77.5, `row: ${JSON.stringify(mine[0])}`);
    const scores = before.Grades.map((g) => g.Score).concat([77.5]);
    const expected = (scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(1);
    const shown = squash(await page.locator('p', { hasText: 'Average:' }).locator('strong').innerText());
    check(shown === expected, `average shown ${shown}, expected ${expected}`);
    // The fields are empty again: the browser landed on a fresh GET.
    check((await page.getByLabel('Title', { exact: true }).inputValue()) === '', 'Title field empty after adding');
    await page.screenshot({ path: path.join(ARTIFACTS, 'student.png'), fullPage: true });
    return `added "${title}" (Test, 77.5); average ${shown}`;
  });

  await step('invalid-input', async () => {
    // The browser's own validation would stop a score of 500: turn it off,
    // as an old browser or a script would, and see the server's answer.
    await page.evaluate(() => document.querySelector('form').setAttribute('novalidate', ''));
    await page.getByLabel('Title', { exact: true }).fill('Too high');
    await page.getByLabel('Score', { exact: true }).fill('500');
    expectFailure = `${PORTAL}/students/${STUDENT}/grades`;
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/students/${STUDENT}/grades`) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Add grade' }).click(),
    ]);
    await page.waitForLoadState('load');
    check(res.status() === 400, `POST with score 500 answered ${res.status()}, expected 400`);
    const alert = squash(await page.getByRole('alert').innerText());
    check(/score/i.test(alert), `error message: ${alert}`);
    check((await page.getByLabel('Title', { exact: true }).inputValue()) === 'Too high', 'Title kept');
    check((await page.getByLabel('Score', { exact: true }).inputValue()) === '500', 'Score kept');
    const api = await (await page.request.get(`${PORTAL}/api/students/${STUDENT}`)).json();
    check(api.Grades.length === before.Grades.length + 1, 'nothing stored');
    return alert;
  });

  await step('html-name', async () => {
    check(HTML_STUDENT > 0, 'no --html-student given');
    const res = await page.goto(`${PORTAL}/students`);
    check(res.status() === 200, `GET /students: ${res.status()}`);
    const link = page.locator(`a[href="/students/${HTML_STUDENT}"]`);
    check(squash(await link.innerText()) === HTML_NAME, `link text: ${await link.innerText()}`);
    await Promise.all([page.waitForURL(`${PORTAL}/students/${HTML_STUDENT}`), link.click()]);
    check(squash(await page.locator('h1').innerText()) === HTML_NAME, `h1: ${await page.locator('h1').innerText()}`);
    check((await page.title()) === `${HTML_NAME} · grades`, `title: ${await page.title()}`);
    check((await page.locator('script').count()) === 0, 'no <script> element in the page');
    check(dialogs.length === 0, `dialogs opened: ${JSON.stringify(dialogs)}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'student-html-name.png'), fullPage: true });
    return `shown as text: ${HTML_NAME}`;
  });

  await step('status', async () => {
    const res = await page.goto(`${PORTAL}/status`);
    check(res.status() === 200, `GET /status: ${res.status()}`);
    check((await page.title()) === 'System status · grades', `title: ${await page.title()}`);
    const services = page.locator('table').filter({ has: page.locator('caption', { hasText: 'Registered services' }) });
    const names = await services.locator('tbody tr td:first-child').allTextContents();
    for (const n of ['LogService', 'GradingService', 'PortalService'])
      check(names.includes(n), `${n} listed: ${JSON.stringify(names)}`);
    const log = page.locator('table.log tbody tr');
    check((await log.count()) > 0, 'log lines shown');
    await page.screenshot({ path: path.join(ARTIFACTS, 'status.png'), fullPage: true });
    return `${names.length} services, ${await log.count()} log lines`;
  });

  await step('phone', async () => {
    // A phone-sized window: nothing wider than the screen, text not tiny.
    await page.setViewportSize({ width: 360, height: 740 });
    for (const p of ['/students', `/students/${STUDENT}`, '/status']) {
      await page.goto(`${PORTAL}${p}`);
      const m = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        // What sticks out, for the message: the outermost elements wider than the window.
        const wide = [...document.querySelectorAll('main > *')]
          .filter((e) => e.getBoundingClientRect().right > width + 1)
          .map((e) => `<${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''}> ${Math.round(e.getBoundingClientRect().width)}px` +
               (e.querySelector('caption') ? ` "${e.querySelector('caption').textContent}"` : ''));
        return {
          scroll: document.documentElement.scrollWidth, width, wide,
          font: parseFloat(getComputedStyle(document.body).fontSize),
        };
      });
      if (p === '/status') await page.screenshot({ path: path.join(ARTIFACTS, 'status-phone.png'), fullPage: true });
      check(m.scroll <= m.width + 1, `${p}: page ${m.scroll}px wide in a ${m.width}px window: ${m.wide.join(', ')}`);
      check(m.font >= 14, `${p}: body font ${m.font}px`);
    }
    await page.goto(`${PORTAL}/students/${STUDENT}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'student-phone.png'), fullPage: true });
    return 'fits 360 px';
  });

  await step('no-errors', async () => {
    check(dialogs.length === 0, `dialogs: ${JSON.stringify(dialogs)}`);
    check(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    check(failedResponses.length === 0, `failed requests: ${JSON.stringify(failedResponses)}`);
    return 'no dialogs, script errors or failed requests';
  });

  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    report('crash', false, (e && e.stack) || String(e));
    process.exit(1);
  },
);

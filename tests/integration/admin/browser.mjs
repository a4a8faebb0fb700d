// Headless-browser test of fedgw's admin pages: Debian's /usr/bin/chromium driven by playwright-core.
// Started by tests/integration/admin_browser_test.sh against a real fedgw; everything it needs comes in
// the environment:
//   ADMIN_URL         http://127.0.50.1:8080
//   ADMIN_PASSWORD    the admin password (its hash is in the gateway's admin_http section)
//   FEDCTL            fedctl binary; FEDCTL_SOCKET its --socket
//   ARTIFACTS         directory for the screenshots (created)
//   PROFILE_DIR       a fresh Chromium user-data directory
//   EXPECT_SUBJECT    text the certificate subject contains (gw.a.test)
//   EXPECT_DNS_IP, EXPECT_DNS_PORT   the DNS host IP / port published for the served domain
//   NEW_CA_BUNDLE     a readable copy of the CA bundle: the valid change the settings page applies
//   PARTNER           a partner domain with an established connection (b.test)
//   PARTNER_SUBJECT   text the partner's certificate subject contains (gw.b.test)
//   PROXY_URL, PROXY_SOCKET  (optional) a second gateway in SIP_PROXY mode (same password) and its fedctl socket;
//   PROXY_EXPECT      its sip_proxy settings: "ip=… port=… transport=… server=… interface=… incoming=IP:PORT"
// Exit status 0 when every check passed, 1 otherwise (each failure printed as "FAIL: ...").
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) { console.error(`browser.mjs: ${name} is not set`); process.exit(2); }
  return v;
};
const URL_BASE = env('ADMIN_URL');
const PASSWORD = env('ADMIN_PASSWORD');
const FEDCTL = env('FEDCTL');
const SOCKET = env('FEDCTL_SOCKET');
const ARTIFACTS = env('ARTIFACTS');
const PROFILE = env('PROFILE_DIR');
const EXPECT_SUBJECT = env('EXPECT_SUBJECT');
const EXPECT_DNS_IP = env('EXPECT_DNS_IP');
const EXPECT_DNS_PORT = env('EXPECT_DNS_PORT');
const NEW_CA_BUNDLE = env('NEW_CA_BUNDLE');
const PARTNER = env('PARTNER');
const PARTNER_SUBJECT = env('PARTNER_SUBJECT', '');
const PROXY_URL = env('PROXY_URL', '');
const PROXY_SOCKET = env('PROXY_SOCKET', '');
const PROXY_EXPECT = Object.fromEntries(env('PROXY_EXPECT', '').split(/\s+/).filter((x) => x).map((kv) => kv.split('=')));
const TIMEOUT = 10000;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let failures = 0;
const pass = (what) => console.log(`ok:   ${what}`);
const fail = (what, detail) => {
  failures++;
  console.log(`FAIL: ${what}${detail ? `\n      ${String(detail).split('\n').join('\n      ')}` : ''}`);
};
const check = (what, cond, detail) => (cond ? pass(what) : fail(what, detail));
// Runs one named part; an exception (a timeout waiting for an element, ...) fails it and the test goes on.
async function part(name, fn) {
  console.log(`--- ${name}`);
  try { await fn(); } catch (e) { fail(`${name}: ${e.message.split('\n')[0]}`, e.message.split('\n').slice(1, 6).join('\n')); }
}
function fedctlAt(socket, ...args) {
  try {
    return execFileSync(FEDCTL, ['--socket', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return (e.stdout || '') + (e.stderr || '');  // check exits 1 when not consistent: its output is what counts
  }
}
const fedctl = (...args) => fedctlAt(SOCKET, ...args);
// The whole page; a modal dialog only in the window (its backdrop covers the window, not the page).
const shot = async (page, name, fullPage = true) => {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  console.log(`      screenshot ${file}`);
};
const text = async (page, sel) => ((await page.locator(sel).first().textContent({ timeout: TIMEOUT })) || '').trim();

fs.mkdirSync(ARTIFACTS, { recursive: true });
const context = await chromium.launchPersistentContext(PROFILE, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  locale: 'en-US',
  timezoneId: 'UTC',
});
context.setDefaultTimeout(TIMEOUT);
// Only the gateway's own origin: anything else would be a page reaching out (there must be none).
const origins = [URL_BASE, PROXY_URL].filter((u) => u).map((u) => new URL(u).origin + '/');
const foreign = [];
await context.route('**/*', (route) => {
  const u = route.request().url();
  if (origins.some((o) => u.startsWith(o)) || u.startsWith('data:')) return route.continue();
  foreign.push(u);
  return route.abort();
});
const page = context.pages()[0] || await context.newPage();
// Console errors (a CSP violation is one) and uncaught exceptions: the pages must produce none.
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(`${page.url()}: ${m.text()}`); });
page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));

try {
  await part('login', async () => {
    const res = await page.goto(`${URL_BASE}/overview`);
    check('pages carry the Content-Security-Policy header', (await res.headerValue('content-security-policy')) === CSP,
      await res.headerValue('content-security-policy'));
    await page.waitForURL(/\/login/);
    pass('without a session the overview goes to /login');
    await page.locator('#password').fill('not the password');
    await page.locator('#login-button').click();
    await page.locator('#error').waitFor({ state: 'visible' });
    const err = await text(page, '#error');
    check('a wrong password shows the error', /login failed/i.test(err), err);
    check('still on the login page after a wrong password', /\/login/.test(page.url()), page.url());
    await shot(page, 'login');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#login-button').click();
    await page.waitForURL(/\/overview$/);
    pass('the right password logs in and goes to the overview');
  });

  await part('overview', async () => {
    await page.locator('#cert-subject').waitFor();
    const subject = await text(page, '#cert-subject');
    check(`certificate subject shown (${EXPECT_SUBJECT})`, subject.includes(EXPECT_SUBJECT), subject);
    const days = await text(page, '#cert-days');
    check('days to expiry shown', /^\d+$/.test(days), days);
    await page.locator('#readiness-lines li').first().waitFor();
    const lines = (await page.locator('#readiness-lines li').allTextContents()).map((l) => l.trim());
    // The query lines say where each answer came from (DNS, cache, coalesced): they may differ from run to run.
    const report = fedctl('check').split('\n').map((l) => l.trim()).filter((l) => l);
    const missing = report.filter((l) => !l.startsWith('query:') && !lines.includes(l));
    check('every line of `fedctl check` is on the page (but its DNS query details)', report.length > 0 && missing.length === 0,
      `missing: ${JSON.stringify(missing)}\npage: ${JSON.stringify(lines)}`);
    check(`readiness shows DNS host IP ${EXPECT_DNS_IP}`, lines.some((l) => l.includes(`DNS host IP: ${EXPECT_DNS_IP}`)), lines.join('\n'));
    const badge = await text(page, '#readiness-badge');
    const consistent = report.some((l) => /consistent/.test(l) && !/NOT consistent/.test(l));
    check(`readiness badge says ${consistent ? 'consistent' : 'NOT consistent'} like fedctl check`,
      badge === (consistent ? 'consistent' : 'NOT consistent'), badge);
    const names = await page.locator('#readiness-names tbody').textContent();
    check('names table has the DNS host IP and port', names.includes(EXPECT_DNS_IP) && names.includes(EXPECT_DNS_PORT), names);
    const listeners = await page.locator('#listeners tbody').textContent();
    check('listeners table shows the federation listener', listeners.includes(`${EXPECT_DNS_IP}:${EXPECT_DNS_PORT}`), listeners);
    const uc = await page.locator('#uc-servers li').allTextContents();
    const ucLine = (/UC server connections: (.*)/.exec(fedctl('status')) || [])[1] || '';
    check(`UC server connections as fedctl status shows them (${ucLine})`,
      uc.length > 0 && ucLine !== 'none' && uc.join(', ') === ucLine, uc.join(', '));
    const counters = await page.locator('#counters').textContent();
    check('counters shown', /Control requests\s*\d+/.test(counters), counters);
    const checkedBefore = await text(page, '#checked');
    await page.waitForTimeout(1100);  // the time stamp has whole seconds
    await page.locator('#recheck').click();
    await page.waitForFunction((t) => { const c = document.querySelector('#checked').textContent; return c !== t && /^Checked/.test(c); },
      checkedBefore);
    pass('"Check again" runs the readiness check again');
    await shot(page, 'overview');
  });

  await part('federation settings', async () => {
    await page.locator('nav a[href="/settings"]').click();
    await page.waitForURL(/\/settings$/);
    await page.locator('#cert-file').waitFor();
    await page.waitForFunction(() => document.querySelector('#cert-file').value !== '');
    const original = {
      cert: await page.locator('#cert-file').inputValue(),
      ca: await page.locator('#ca-bundle').inputValue(),
      bindIp: await page.locator('#bind-ip').inputValue(),
      port: await page.locator('#bind-port').inputValue(),
    };
    const shown = fedctl('config', 'show');
    check('form shows the running certificate file', original.cert !== '' && shown.includes(original.cert), `${original.cert}\n${shown}`);
    check('form shows the listener bind IP and port', original.bindIp === EXPECT_DNS_IP && original.port === EXPECT_DNS_PORT,
      JSON.stringify(original));
    check('mode Direct is selected', await page.locator('#mode-direct').isChecked());
    await page.locator('#dns-host-ip').waitFor();
    await page.waitForFunction(() => document.querySelector('#dns-host-ip').textContent !== '', null, { timeout: TIMEOUT });
    check(`DNS host IP for the certificate's subject name: ${EXPECT_DNS_IP}`, (await text(page, '#dns-host-ip')) === EXPECT_DNS_IP,
      await text(page, '#dns-host-ip'));
    check(`DNS port: ${EXPECT_DNS_PORT}`, (await text(page, '#dns-port')) === EXPECT_DNS_PORT, await text(page, '#dns-port'));
    const bindOptions = await page.locator('#bind-ip option').evaluateAll((os) => os.map((o) => o.value));
    check('bind IP choices: 0.0.0.0, :: and the machine\'s addresses', ['0.0.0.0', '::', '127.0.0.1'].every((v) => bindOptions.includes(v)),
      JSON.stringify(bindOptions));

    // OK with a valid change: applied, fedctl config show has it.
    await page.locator('#ca-bundle').fill(NEW_CA_BUNDLE);
    await page.locator('#ok').click();
    await page.locator('#result .banner').waitFor();
    const applied = await text(page, '#result');
    check('OK with a valid change reports success', (await page.locator('#result .banner.ok').count()) === 1, applied);
    const afterApply = fedctl('config', 'show');
    check('fedctl config show has the applied CA bundle', afterApply.includes(NEW_CA_BUNDLE), afterApply);
    await page.waitForFunction((v) => document.querySelector('#ca-bundle').value === v, NEW_CA_BUNDLE);
    pass('the form shows the applied value after reloading');

    // OK with invalid values: every field: problem line is shown, nothing changes.
    await page.locator('#cert-file').fill('/nonexistent/gateway.pem');
    await page.locator('#bind-port').fill('70000');
    await page.locator('#ok').click();
    await page.locator('#result .banner.error').waitFor();
    const problems = (await page.locator('#result-lines li').allTextContents()).map((l) => l.trim());
    check('missing cert file named with field: problem',
      problems.includes('certificate.cert_file: "/nonexistent/gateway.pem" cannot be read'), problems.join('\n'));
    check('invalid port named with field: problem',
      problems.includes('federation_listener.port: 70000 is not a valid port'), problems.join('\n'));
    check('fedctl config show unchanged after the refused apply', fedctl('config', 'show') === afterApply);
    await shot(page, 'settings');

    // Cancel discards the edits: nothing sent, the form shows the running values again.
    await page.locator('#cancel').click();
    await page.waitForFunction((v) => document.querySelector('#cert-file').value === v, original.cert);
    check('Cancel shows the old certificate file again', (await page.locator('#cert-file').inputValue()) === original.cert);
    check('Cancel shows the old port again', (await page.locator('#bind-port').inputValue()) === original.port);
    check('fedctl config show unchanged after Cancel', fedctl('config', 'show') === afterApply);

    // A listener change needs a restart: refused while running, with the gateway's reason.
    await page.locator('#bind-port').fill(String(Number(original.port) + 10));
    await page.locator('#ok').click();
    await page.locator('#result .banner.error').waitFor();
    const restart = (await page.locator('#result-lines li').allTextContents()).join('\n');
    check('a listener port change is refused as needing a restart', /federation_listener.*needs a restart/.test(restart), restart);
    check('fedctl config show unchanged after the refused port change', fedctl('config', 'show') === afterApply);
    await page.locator('#cancel').click();
    await page.waitForFunction((v) => document.querySelector('#bind-port').value === v, original.port);

    // The Configure... dialog of the SIP proxy.
    await page.locator('#configure-proxy').click();
    await page.locator('#proxy-dialog').waitFor({ state: 'visible' });
    for (const id of ['proxy-username', 'proxy-password', 'proxy-interface', 'proxy-ip', 'proxy-port', 'proxy-transport',
      'proxy-server-name', 'proxy-incoming-ip', 'proxy-incoming-port']) {
      const label = await page.locator(`label[for="${id}"]`).textContent().catch(() => '');
      check(`proxy dialog has ${id} with a label (${label})`, (await page.locator(`#${id}`).isVisible()) && label !== '');
    }
    check('password shows the "unchanged" placeholder', (await page.locator('#proxy-password').getAttribute('placeholder')) === 'unchanged');
    const transports = await page.locator('#proxy-transport option').evaluateAll((os) => os.map((o) => o.value));
    check('transport offers TCP, TLS, MTLS', ['TCP', 'TLS', 'MTLS'].every((t) => transports.includes(t)), JSON.stringify(transports));
    const ifaces = await page.locator('#proxy-interface option').evaluateAll((os) => os.map((o) => o.value));
    check('network interface offers the machine\'s addresses', ifaces.includes('127.0.0.1'), JSON.stringify(ifaces));
    await page.locator('#proxy-username').fill('someone');
    if (!PROXY_URL) await shot(page, 'settings-proxy-dialog', false);
    await page.locator('#proxy-cancel').click();
    await page.locator('#proxy-dialog').waitFor({ state: 'hidden' });
    check('dialog Cancel restores the user name', (await page.locator('#proxy-username').inputValue()) !== 'someone');
    check('fedctl config show unchanged after the dialog', fedctl('config', 'show') === afterApply);
  });

  await part('message window', async () => {
    await page.locator('nav a[href="/log"]').click();
    await page.waitForURL(/\/log$/);
    await page.locator('#messages li').first().waitFor();
    const lines = await page.locator('#messages li').allTextContents();
    check('at most 30 entries', lines.length > 0 && lines.length <= 30, String(lines.length));
    check('every line starts with its time stamp', lines.every((l) => /^\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) /.test(l)), lines.join('\n'));
    check('the apply from the settings page is in the window', lines.some((l) => /config: applied/.test(l)), lines.join('\n'));
    const expected = fedctl('log').trim().split('\n');
    check('the page shows what `fedctl log` shows', expected.every((l) => lines.includes(l)),
      `fedctl log:\n${expected.join('\n')}\npage:\n${lines.join('\n')}`);
    // A new entry appears without reloading the page.
    const before = fedctl('log').trim().split('\n');
    fedctl('cert', 'reload');
    const after = fedctl('log').trim().split('\n');
    const fresh = after.filter((l) => !before.includes(l));
    check('fedctl cert reload logged a new entry', fresh.length > 0, after.join('\n'));
    if (fresh.length) {
      const last = fresh[fresh.length - 1];
      await page.waitForFunction((l) => Array.from(document.querySelectorAll('#messages li')).some((li) => li.textContent === l), last,
        { timeout: 5000 });
      pass(`the new entry appeared within 5 s: ${last}`);
      const bottom = await page.locator('#messages li').last().textContent();
      check('the newest entry is at the bottom', bottom === after[after.length - 1], bottom);
    }
    const sev = await page.locator('#messages li.sev-warning, #messages li.sev-error').count();
    const want = after.filter((l) => /^\(.{19}\) (WARN|ERROR)/.test(l)).length;
    check(`warnings and errors carry their class (${want})`, sev === want, `${sev} marked`);
    await shot(page, 'log');
  });

  await part('partners', async () => {
    await page.locator('nav a[href="/partners"]').click();
    await page.waitForURL(/\/partners$/);
    const row = page.locator(`#peers tbody tr.peer[data-domain="${PARTNER}"]`).first();
    await row.waitFor();
    const cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    const peers = fedctl('peers');
    check(`${PARTNER} row shows its address from fedctl peers`, cells[1] !== '' && peers.includes(cells[1]), `${cells.join(' | ')}\n${peers}`);
    check(`${PARTNER} row shows its state from fedctl peers`, cells[4] !== '' && peers.includes(cells[4]), `${cells.join(' | ')}\n${peers}`);
    const detail = page.locator(`#peers tbody tr.peer-detail[data-domain="${PARTNER}"]`).first();
    const subject = (await detail.locator('[data-field="subject"]').textContent().catch(() => '')) || '';
    if (PARTNER_SUBJECT) check(`${PARTNER} certificate subject shown (${PARTNER_SUBJECT})`, subject.includes(PARTNER_SUBJECT), await detail.textContent());
    const fingerprint = (await detail.locator('[data-field="fingerprint"]').textContent().catch(() => '')) || '';
    check(`${PARTNER} certificate fingerprint shown`, /^[0-9A-Fa-f:]{20,}$/.test(fingerprint), fingerprint);
    await detail.locator('button[data-action="test"]').click();
    const result = page.locator(`#peers tbody tr[data-domain="${PARTNER}"] [role="status"]`);
    await page.waitForFunction((d) => /Send test: \d+/.test(document.querySelector(`#peers tr[data-domain="${d}"] [role="status"]`)?.textContent || ''),
      PARTNER);
    const res = await result.first().textContent();
    check('Send test shows status, reason and time', /^Send test: 200 \S.* in [\d.]+ ms$/.test(res), res);
    await shot(page, 'partners');
    await page.locator(`#peers tbody tr[data-domain="${PARTNER}"] button[data-action="reset"]`).first().click();
    await page.waitForFunction((d) => !/asking|Send test/.test(document.querySelector(`#peers tr[data-domain="${d}"] [role="status"]`)?.textContent || 'asking'),
      PARTNER);
    const reset = await result.first().textContent();
    check('Reset back-off shows the gateway\'s notice', /ok-text/.test(await result.first().getAttribute('class')), reset);
    let asked = '';
    page.once('dialog', (d) => { asked = d.message(); d.accept(); });
    await page.locator(`#peers tbody tr[data-domain="${PARTNER}"] button[data-action="close"]`).first().click();
    await page.waitForFunction((prev) => {
      const t = document.querySelector('#peers [role="status"]')?.textContent || '';
      return t !== prev && !/asking/.test(t);
    }, reset);
    check('Close connection asks first', asked.includes(PARTNER), asked);
    const closed = await page.locator('#peers [role="status"]').first().textContent();
    check('Close connection shows the gateway\'s notice', closed !== '' && !/^Error/.test(closed), closed);
  });

  await part('log out', async () => {
    await page.locator('#logout').click();
    await page.waitForURL(/\/login/);
    await page.goto(`${URL_BASE}/settings`);
    await page.waitForURL(/\/login/);
    pass('after logging out the pages go to /login');
  });

  if (PROXY_URL) await part('SIP proxy mode', async () => {
    const ctl = (...args) => fedctlAt(PROXY_SOCKET, ...args);
    const res = await page.goto(`${PROXY_URL}/overview`);
    check('the SIP_PROXY gateway\'s pages carry the CSP header too', (await res.headerValue('content-security-policy')) === CSP);
    await page.waitForURL(/\/login/);
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#login-button').click();
    await page.waitForURL(/\/overview$/);
    // The session keeps retrying a proxy that refuses (connecting <-> disconnected), so the state the page
    // fetched must be one fedctl showed just before or just after that fetch (the page loaded anew between
    // them; up to 3 tries, in case the state changed twice meanwhile).
    const proxyState = (status) => (/sip proxy: (\w+)/.exec(status) || [])[1] || '?';
    let session = '', status = '', states = [];
    for (let attempt = 0; attempt < 3; ++attempt) {
      const before = ctl('status');
      await page.reload();
      await page.locator('#proxy-panel').waitFor({ state: 'visible' });
      await page.locator('#proxy-session dd').first().waitFor();
      session = await page.locator('#proxy-session').textContent();
      status = ctl('status');
      states = [...new Set([proxyState(before), proxyState(status)])];
      if (states.some((s) => session.includes(`State${s}`))) break;
    }
    check(`the proxy session block shows the proxy and the state fedctl status shows (${states.join(' or ')})`,
      session.includes(`${PROXY_EXPECT.ip}:${PROXY_EXPECT.port}`) && states.some((s) => session.includes(`State${s}`)),
      `${session}\n${status}`);
    check('the header says SIP proxy', /SIP proxy/.test(await text(page, '#gw-ident')));

    await page.locator('nav a[href="/settings"]').click();
    await page.waitForURL(/\/settings$/);
    await page.waitForFunction(() => document.querySelector('#proxy-ip').value !== '');
    check('mode SIP Proxy is selected', await page.locator('#mode-proxy').isChecked());
    await page.locator('#configure-proxy').click();
    await page.locator('#proxy-dialog').waitFor({ state: 'visible' });
    const v = async (id) => page.locator(`#${id}`).inputValue();
    const shown = { user: await v('proxy-username'), password: await v('proxy-password'), ip: await v('proxy-ip'), port: await v('proxy-port'),
      transport: await v('proxy-transport'), server: await v('proxy-server-name'), interface: await v('proxy-interface'),
      incoming: `${await v('proxy-incoming-ip')}:${await v('proxy-incoming-port')}` };
    check('the dialog shows the running proxy settings, the password empty',
      shown.user === 'gw' && shown.password === '' && ['ip', 'port', 'transport', 'server', 'interface', 'incoming'].every((k) => shown[k] === PROXY_EXPECT[k]),
      JSON.stringify(shown));
    await page.locator('#proxy-relogin').click();
    await page.waitForFunction(() => !/asking|^$/.test(document.querySelector('#proxy-relogin-result').textContent));
    const relogin = await text(page, '#proxy-relogin-result');
    check('"Log in at the proxy again" shows the gateway\'s notice', relogin !== '' && !/^Error/.test(relogin), relogin);
    await page.locator('#proxy-username').fill('gw-renamed');
    await shot(page, 'settings-proxy-dialog', false);
    await page.locator('#proxy-ok').click();
    await page.locator('#proxy-dialog').waitFor({ state: 'hidden' });
    check('the page marks the proxy settings as edited', await page.locator('#proxy-changed').isVisible());
    await page.locator('#ok').click();
    await page.locator('#result .banner').waitFor();
    check('OK applies the dialog\'s change', (await page.locator('#result .banner.ok').count()) === 1, await text(page, '#result'));
    const config = ctl('config', 'show');
    check('fedctl config show has the new user name and the password kept (***)',
      config.includes('username: "gw-renamed"') && config.includes('password: "***"'), config);
    await page.locator('#logout').click();
    await page.waitForURL(/\/login/);
  });


  check('no console errors or CSP violations on any page', consoleErrors.length === 0, consoleErrors.join('\n'));
  check('no request left the gateway\'s origin', foreign.length === 0, foreign.join('\n'));
} finally {
  await context.close();
}

if (failures) {
  console.log(`${failures} browser check(s) failed`);
  process.exit(1);
}
console.log('all browser checks passed');

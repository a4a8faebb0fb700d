// Overview: readiness (fedctl check), certificate, gateway, listeners, UC servers, proxy session,
// counters. Status refreshed every 5 s; the readiness check (which logs an entry each time it runs) on
// opening the page and on its button.
'use strict';

(() => {
  const { $, el, fill, api, num, date, dateTime, duration, modeName, showError, clearError, errorText } = FG;

  const kv = (pairs) => pairs.filter((p) => p).flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]);
  const yesNo = (b) => el('span', { class: b ? 'ok-text' : 'muted' }, b ? 'yes' : 'no');

  function renderReadiness(rep) {
    const badge = $('#readiness-badge');
    badge.textContent = rep.consistent ? 'consistent' : 'NOT consistent';
    badge.className = 'badge ' + (rep.consistent ? 'ok' : 'error');
    fill($('#readiness-problems'), (rep.problems || []).map((p) => el('li', { class: 'problem' }, p)));
    fill($('#readiness-names tbody'), (rep.names || []).map((n) => el('tr', null,
      el('td', { class: 'mono' }, n.name),
      el('td', null, yesNo(n.served)),
      el('td', null, yesNo(n.found)),
      el('td', { class: 'mono' }, n.srvName || ''),
      el('td', { class: 'mono' }, n.host || ''),
      el('td', { class: 'mono' }, n.hostIp || ''),
      el('td', { class: 'num mono' }, n.port ? String(n.port) : ''),
      el('td', null, (n.problems || []).length
        ? el('ul', { class: 'lines' }, n.problems.map((p) => el('li', { class: 'problem' }, p))) : ''))));
    if (!(rep.names || []).length) {
      fill($('#readiness-names tbody'), el('tr', null, el('td', { colspan: 8, class: 'muted' }, 'no names checked')));
    }
    fill($('#readiness-lines'), (rep.lines || []).map((l) => el('li', null, l)));
  }

  function renderCertificate(c) {
    const box = $('#certificate');
    if (!c || (!c.subject && !c.fingerprint)) {
      fill(box, kv([['Certificate', el('span', { class: 'warning-text' }, 'none in use')]]));
      fill($('#certificate-problems'), ((c && c.problems) || []).map((p) => el('li', { class: 'problem' }, p)));
      return;
    }
    const days = num(c.daysLeft);
    const daysClass = days < 0 ? 'error-text' : days < 30 ? 'warning-text' : 'ok-text';
    fill(box, kv([
      ['Subject', el('span', { class: 'mono', id: 'cert-subject' }, c.subject)],
      ['Issuer', el('span', { class: 'mono' }, c.issuer)],
      ['Not before', date(c.notBeforeUnix)],
      ['Not after', date(c.notAfterUnix)],
      ['Days to expiry', el('span', null, el('span', { class: daysClass, id: 'cert-days' }, days < 0 ? 'expired ' + -days + ' days ago' : String(days)),
        days >= 0 && days < 30 ? el('span', { class: 'warning-text' }, ' (renew soon)') : null)],
      ['Fingerprint', el('span', { class: 'mono break' }, c.fingerprint)],
      c.source ? ['Source', el('span', { class: 'mono break' }, c.source)] : null,
    ]));
    fill($('#certificate-problems'), (c.problems || []).map((p) => el('li', { class: 'problem' }, p)));
  }

  function renderStatus(st) {
    fill($('#gateway'), kv([
      ['Version', st.version],
      ['Mode', modeName(st.mode)],
      ['Domains', (st.domains || []).join(', ')],
      ['Started', dateTime(st.startedUnixMs)],
      ['Uptime', duration(st.uptimeS)],
      ['Configuration', el('span', { class: 'mono break' }, st.configSource || '')],
      ['Worker threads', String(st.workerThreads || 0)],
    ]));
    const listeners = st.listeners || [];
    fill($('#listeners tbody'), listeners.length ? listeners.map((l) => el('tr', null,
      el('td', null, l.name),
      el('td', { class: 'mono' }, l.address),
      el('td', null, l.transport === 'TRANSPORT_UNSPECIFIED' ? '' : l.transport),
      el('td', { class: /listening|up/.test(l.state) ? 'ok-text' : /fail|error|closed|down/.test(l.state) ? 'error-text' : '' }, l.state)))
      : el('tr', null, el('td', { colspan: 4, class: 'muted' }, 'no listeners')));

    const uc = st.ucServers || [];
    fill($('#uc-servers'), uc.length ? uc.map((a) => el('li', null, a)) : el('li', { class: 'muted' }, 'no UC server connected'));

    const c = st.counters || {};
    const rows = [
      ['Requests in', c.requestsIn], ['Requests out', c.requestsOut],
      ['Responses 1xx', c.responses1xx], ['Responses 2xx', c.responses2xx], ['Responses 3xx', c.responses3xx],
      ['Responses 4xx', c.responses4xx], ['Responses 5xx', c.responses5xx], ['Responses 6xx', c.responses6xx],
      ['Responses dropped', c.responsesDropped], ['Control requests', c.controlRequests],
      ['Config applies', c.configApplies],
    ];
    fill($('#counters'), rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, String(num(v)))]));

    const ps = st.proxySession;
    const panel = $('#proxy-panel');
    panel.hidden = !(st.mode === 'SIP_PROXY' || ps);
    if (!panel.hidden) {
      const p = ps || {};
      fill($('#proxy-session'), kv([
        ['State', el('span', { class: p.state === 'registered' ? 'ok-text' : p.state === 'rejected' ? 'error-text' : 'warning-text' }, p.state || 'unknown')],
        ['Proxy', el('span', { class: 'mono' }, (p.proxy || '') + (p.transport ? ' over ' + p.transport : ''))],
        ['User', p.user ? p.user + (p.aor ? ' (' + p.aor + ')' : '') : ''],
        ['Expires in', p.state === 'registered' ? num(p.expiresInS) + ' s' : ''],
        ['Last error', el('span', { class: p.lastError ? 'error-text' : '' }, p.lastError || '')],
        ['REGISTERs sent', String(num(p.registersSent))],
        ['Connections', String(num(p.connects))],
      ]));
    }
  }

  // Status and readiness refresh on their own: a slow DNS answer must not hold up the rest.
  const problems = new Map();
  function report(source, problem) {
    if (problem) problems.set(source, problem); else problems.delete(source);
    if (problems.size) showError('Could not refresh everything', Array.from(problems.values())); else clearError();
  }

  async function refreshStatus() {
    try {
      const r = await api('/api/status');
      if (r.status) { renderStatus(r.status); renderCertificate(r.status.certificate); }
      report('status', r.error ? 'status: ' + r.error : null);
    } catch (e) {
      report('status', 'status: ' + errorText(e));
    }
    $('#updated').textContent = 'Last update ' + dateTime(Date.now()) + '.';
  }

  async function refreshCheck() {
    const button = $('#recheck');
    button.disabled = true;
    $('#checked').textContent = 'checking…';
    try {
      const r = await api('/api/check');
      if (r.readiness) renderReadiness(r.readiness);
      report('check', r.error ? 'readiness check: ' + r.error : null);
    } catch (e) {
      report('check', 'readiness check: ' + errorText(e));
    } finally {
      button.disabled = false;
      $('#checked').textContent = 'Checked ' + dateTime(Date.now()) + '.';
    }
  }

  $('#proxy-login').addEventListener('click', async () => {
    const out = $('#proxy-login-result');
    out.textContent = 'asking…';
    try {
      const r = await api('/api/proxy/login', {});
      out.textContent = r.error ? 'Error: ' + r.error : (r.notice || 'done');
    } catch (e) {
      out.textContent = 'Error: ' + errorText(e);
    }
  });

  $('#recheck').addEventListener('click', refreshCheck);

  FG.start(() => { FG.poll(refreshStatus, 5000); refreshCheck(); });
})();

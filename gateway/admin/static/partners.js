// Partners: the fedctl peers table with the partner's certificate, and per-row actions
// (send test, reset back-off, close connection).
'use strict';

(() => {
  const { $, el, fill, api, num, dateTime, date, errorText, showError, clearError } = FG;
  // The last action result per domain, shown in its row until the next one.
  const results = new Map();
  let refreshing = null;

  function stateClass(s) {
    return s === 'up' ? 'badge ok' : s === 'backoff' || s === 'down' ? 'badge error' : 'badge warning';
  }

  // The partner's certificate on an established TLS connection, one line.
  function certInfo(p) {
    if (!p.certificateSubject && !p.certificateFingerprint) return el('span', { class: 'muted' }, 'no partner certificate (no TLS connection up)');
    const expires = num(p.certificateNotAfterUnix);
    const days = expires ? Math.floor((expires * 1000 - Date.now()) / 86400000) : null;
    return el('span', { class: 'cert-info' },
      el('span', { class: 'muted' }, 'Certificate '), el('span', { class: 'mono', 'data-field': 'subject' }, p.certificateSubject),
      el('span', { class: 'muted' }, ' issued by '), el('span', { class: 'mono', 'data-field': 'issuer' }, p.certificateIssuer),
      el('span', { class: 'muted' }, ', expires '),
      el('span', { class: days !== null && days < 30 ? 'warning-text' : '', 'data-field': 'expiry' },
        date(expires) + (days !== null ? ' (' + days + ' days)' : '')),
      el('br'), el('span', { class: 'muted' }, 'SHA-256 '), el('span', { class: 'mono break', 'data-field': 'fingerprint' }, p.certificateFingerprint));
  }

  async function act(kind, domain, button) {
    if (kind === 'close' && !confirm('Close the connection to ' + domain + '? Requests in flight get 503.')) return;
    button.disabled = true;
    results.set(domain, { cls: 'muted', text: kind === 'test' ? 'sending OPTIONS…' : 'asking…' });
    render(lastPeers);
    try {
      const path = kind === 'test' ? '/api/peers/test' : kind === 'reset' ? '/api/peers/reset' : '/api/peers/close';
      const r = await api(path, { domain });
      let res;
      if (r.error) res = { cls: 'error-text', text: 'Error: ' + r.error };
      else if (kind === 'test') {
        const t = r.sendTest || {};
        const ok = t.status >= 200 && t.status < 300;
        res = { cls: ok ? 'ok-text' : 'error-text', text: 'Send test: ' + t.status + ' ' + (t.reason || '') + ' in ' + Number(t.milliseconds || 0).toFixed(1) + ' ms' };
      } else res = { cls: 'ok-text', text: r.notice || 'done' };
      results.set(domain, res);
    } catch (e) {
      results.set(domain, { cls: 'error-text', text: 'Error: ' + errorText(e) });
    } finally {
      button.disabled = false;
    }
    await refresh();
  }

  let lastPeers = [];
  function render(peers) {
    lastPeers = peers;
    const body = $('#peers tbody');
    if (!peers.length) {
      fill(body, el('tr', null, el('td', { colspan: 11, class: 'muted' }, 'No partner connections yet.')));
      return;
    }
    fill(body, peers.flatMap((p) => {
      const res = results.get(p.domain);
      const own = !p.node; // the actions act on the domain's own entry, not on a record-routing node
      const actions = own ? el('div', { class: 'row-actions' },
        el('button', { type: 'button', class: 'small', 'data-action': 'test', 'aria-label': 'Send test to ' + p.domain, onclick: (ev) => act('test', p.domain, ev.currentTarget) }, 'Send test'),
        el('button', { type: 'button', class: 'small', 'data-action': 'reset', 'aria-label': 'Reset back-off of ' + p.domain, onclick: (ev) => act('reset', p.domain, ev.currentTarget) }, 'Reset back-off'),
        el('button', { type: 'button', class: 'small danger', 'data-action': 'close', 'aria-label': 'Close connection to ' + p.domain, onclick: (ev) => act('close', p.domain, ev.currentTarget) }, 'Close connection'),
        res && own ? el('span', { class: 'result-cell ' + res.cls, role: 'status' }, res.text) : null) : null;
      const backoff = num(p.backoffUntilUnixMs);
      return [
        el('tr', { class: 'peer', 'data-domain': p.domain },
          el('td', { class: 'mono' }, p.domain),
          el('td', { class: 'mono' }, p.address),
          el('td', null, p.direction),
          el('td', { class: 'mono small-text' }, p.tls),
          el('td', null, el('span', { class: stateClass(p.state) }, p.state)),
          el('td', { class: 'nowrap' }, dateTime(p.sinceUnixMs)),
          el('td', { class: 'num' }, String(num(p.queued))),
          el('td', { class: 'num' }, String(num(p.failures))),
          el('td', { class: 'nowrap' }, backoff > Date.now() ? dateTime(backoff) : ''),
          el('td', { class: p.lastError ? 'error-text' : '' }, p.lastError || ''),
          el('td', { class: 'mono' }, p.node || '')),
        el('tr', { class: 'peer-detail', 'data-domain': p.domain },
          el('td', { colspan: 11 }, el('div', { class: 'detail-line' }, certInfo(p), actions))),
      ];
    }));
  }

  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        const r = await api('/api/peers');
        if (r.error) { showError('peers: ' + r.error); return; }
        clearError();
        render((r.peers && r.peers.peers) || []);
        $('#updated').textContent = 'Last update ' + dateTime(Date.now()) + '.';
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  FG.start(() => { FG.poll(refresh, 5000); });
})();

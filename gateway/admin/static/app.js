// fedgw admin pages: shared helpers (session, API calls, DOM building, formatting).
// Plain JS, no dependencies; the page's own script calls FG.start(main).
'use strict';

const FG = (() => {
  let csrfToken = '';

  class ApiError extends Error {
    constructor(message, status, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  function toLogin() {
    const here = location.pathname + location.search;
    const next = here && here !== '/login' ? '?next=' + encodeURIComponent(here) : '';
    location.replace('/login' + next);
  }

  // Calls /api/PATH. GET without a body; POST (any body given) with the JSON body, the CSRF token
  // and the session cookie. Returns the parsed JSON. A 401 leads to the login page; any other
  // non-2xx answer throws an ApiError with the server's "error" text. A command's own failure
  // (response.error with HTTP 200) is returned as data: the caller shows it.
  async function api(path, body) {
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = csrfToken;
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError('fedgw is not reachable (' + e.message + ')', 0, null);
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (res.status === 401 && path !== '/api/login') {
      toLogin();
      throw new ApiError('login required', 401, data);
    }
    if (!res.ok) {
      const why = data && data.error ? data.error : (text || res.statusText);
      throw new ApiError(why + ' (HTTP ' + res.status + ')', res.status, data);
    }
    return data || {};
  }

  async function session() {
    const s = await api('/api/session');
    csrfToken = s.csrfToken || '';
    return s;
  }

  function setCsrfToken(token) { csrfToken = token || ''; }

  // ---- DOM helpers ------------------------------------------------------------------------------
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // el('td', {class: 'num', title: 'x'}, 'text', otherNode, ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else if (v === true) node.setAttribute(k, '');
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function fill(node, ...children) { clear(node); node.append(...children.flat().filter((c) => c !== null && c !== undefined)); return node; }

  // ---- Error and notice display -----------------------------------------------------------------
  function showError(message, lines) {
    const box = $('#error');
    if (!box) { console.error(message); return; }
    fill(box, el('strong', null, message));
    if (lines && lines.length) box.append(el('ul', null, lines.map((l) => el('li', null, l))));
    box.hidden = false;
  }
  function clearError() { const box = $('#error'); if (box) { clear(box); box.hidden = true; } }
  function errorText(e) { return e && e.message ? e.message : String(e); }

  // ---- Formatting -------------------------------------------------------------------------------
  // 64-bit integers arrive as JSON strings.
  const num = (v) => (v === undefined || v === null || v === '' ? 0 : Number(v));
  const pad = (n) => String(n).padStart(2, '0');
  // "(YYYY-MM-DD HH:MM:SS)"-style local time from Unix milliseconds; '' for 0.
  function dateTime(ms) {
    ms = num(ms);
    if (!ms) return '';
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function date(unixSeconds) {
    const s = num(unixSeconds);
    if (!s) return '';
    const d = new Date(s * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ' UTC';
  }
  function duration(seconds) {
    let s = num(seconds);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + 'd ' + h + 'h ' + m + 'm';
    if (h) return h + 'h ' + m + 'm ' + s + 's';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }
  const modeName = (m) => (m === 'SIP_PROXY' ? 'SIP proxy' : m === 'DIRECT' ? 'Direct (open federation)' : (m || '?'));

  // ---- The page frame: header identity, log out, session check --------------------------------
  async function showIdentity() {
    const box = $('#gw-ident');
    if (!box) return null;
    try {
      const r = await api('/api/status');
      const st = r.status || {};
      fill(box, (st.domains || []).join(', ') || '(no domain)', el('span', { class: 'mode' }, modeName(st.mode)));
      return st;
    } catch (e) {
      return null;
    }
  }

  async function logout() {
    try { await api('/api/logout', {}); } catch (e) { /* go to the login page anyway */ }
    location.replace('/login');
  }

  // Checks the session (going to /login without one), wires the frame, then runs main().
  async function start(main) {
    let s;
    try {
      s = await session();
    } catch (e) {
      showError('Cannot check the session: ' + errorText(e));
      return;
    }
    if (!s.authenticated) { toLogin(); return; }
    const out = $('#logout');
    if (out) out.addEventListener('click', logout);
    showIdentity();
    try {
      await main();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showError(errorText(e));
    }
  }

  // Runs fn now and then every ms milliseconds after each run has finished (no overlap).
  function poll(fn, ms) {
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      try { await fn(); } catch (e) { if (!(e instanceof ApiError && e.status === 401)) showError(errorText(e)); }
      if (!stopped) setTimeout(tick, ms);
    };
    tick();
    return () => { stopped = true; };
  }

  return {
    ApiError, api, session, setCsrfToken, start, poll, toLogin,
    $, $$, el, clear, fill, showError, clearError, errorText,
    num, dateTime, date, duration, modeName,
  };
})();

// Federation settings: the seed's dialog. Starts from the running configuration (GET /api/config),
// changes only the fields edited here and sends the whole configuration to /api/config/apply (OK),
// exactly like `fedctl config apply`. Cancel reloads the running values and sends nothing.
'use strict';

(() => {
  const { $, $$, el, fill, api, errorText, showError, clearError } = FG;

  // Form fields and where they live in fedgw.config.Config (protobuf JSON names).
  // kind: 'text' (string), 'number' (optional uint32: empty = default, field left out),
  // 'secret' (shown empty; empty keeps the running value, which the server shows as "***").
  const FIELDS = [
    { id: 'cert-file', path: ['certificate', 'certFile'] },
    { id: 'key-file', path: ['certificate', 'keyFile'] },
    { id: 'pkcs12-file', path: ['certificate', 'pkcs12File'] },
    { id: 'pkcs12-password', path: ['certificate', 'pkcs12Password'], kind: 'secret' },
    { id: 'ca-bundle', path: ['certificate', 'caBundle'] },
    { id: 'bind-ip', path: ['federationListener', 'bindIp'] },
    { id: 'bind-port', path: ['federationListener', 'port'], kind: 'number' },
    { id: 'proxy-username', path: ['sipProxy', 'username'], proxy: true },
    { id: 'proxy-password', path: ['sipProxy', 'password'], kind: 'secret', proxy: true },
    { id: 'proxy-interface', path: ['sipProxy', 'interface'], proxy: true },
    { id: 'proxy-ip', path: ['sipProxy', 'ip'], proxy: true },
    { id: 'proxy-port', path: ['sipProxy', 'port'], kind: 'number', proxy: true },
    { id: 'proxy-transport', path: ['sipProxy', 'transport'], proxy: true, empty: 'TRANSPORT_UNSPECIFIED' },
    { id: 'proxy-server-name', path: ['sipProxy', 'serverName'], proxy: true },
    { id: 'proxy-incoming-ip', path: ['sipProxy', 'incoming', 'bindIp'], proxy: true },
    { id: 'proxy-incoming-port', path: ['sipProxy', 'incoming', 'port'], kind: 'number', proxy: true },
  ];

  let running = null;      // the Config JSON as GET /api/config gave it
  let initial = {};        // form value of each field right after loading
  let addresses = [];      // [{addr, label}] from /api/interfaces
  let dialogSnapshot = null;

  const get = (obj, path) => path.reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
  function set(obj, path, value) {
    let o = obj;
    for (const k of path.slice(0, -1)) {
      if (!o[k] || typeof o[k] !== 'object') o[k] = {};
      o = o[k];
    }
    if (value === undefined) delete o[path[path.length - 1]];
    else o[path[path.length - 1]] = value;
  }

  // ---- Selects of the machine's addresses -------------------------------------------------------
  function fillSelect(select, options, current) {
    const values = options.map((o) => o.value);
    if (current && !values.includes(current)) options = options.concat({ value: current, label: current + ' (configured)' });
    fill(select, options.map((o) => el('option', { value: o.value }, o.label)));
    select.value = current || '';
  }
  function addressOptions(kind, current) {
    const opts = [];
    if (kind === 'interface') opts.push({ value: '', label: 'any (chosen by the system)' });
    else {
      opts.push({ value: '', label: '(not configured)' });
      opts.push({ value: '0.0.0.0', label: '0.0.0.0 (every IPv4 address)' });
      opts.push({ value: '::', label: ':: (every IPv6 address)' });
    }
    for (const a of addresses) opts.push({ value: a.addr, label: a.label });
    return { opts, current };
  }

  async function loadInterfaces() {
    try {
      const r = await api('/api/interfaces');
      const list = (r.interfaces && r.interfaces.interfaces) || [];
      addresses = [];
      for (const i of list) {
        for (const a of i.addresses || []) {
          addresses.push({ addr: a, label: a + ' (' + i.name + (i.up ? '' : ', down') + ')' });
        }
      }
    } catch (e) {
      if (e.status !== 401) showError('Cannot list the network interfaces: ' + errorText(e));
    }
  }

  // ---- Form <-> configuration ------------------------------------------------------------------
  function fillForm(config) {
    const mode = config.mode || 'MODE_UNSPECIFIED';
    for (const r of $$('input[name="mode"]')) r.checked = r.value === mode;
    for (const f of FIELDS) {
      const input = $('#' + f.id);
      const v = get(config, f.path);
      let text = v === undefined || v === null ? '' : String(v);
      if (f.kind === 'secret') text = '';
      if (f.empty && text === f.empty) text = f.empty;
      if (input.tagName === 'SELECT' && input.id !== 'proxy-transport') {
        const { opts } = addressOptions(f.id === 'proxy-interface' ? 'interface' : 'bind', text);
        fillSelect(input, opts, text);
      } else if (input.tagName === 'SELECT') {
        input.value = text || f.empty;
      } else {
        input.value = text;
      }
      initial[f.id] = input.value;
    }
    $('#proxy-changed').hidden = true;
  }

  function currentMode() {
    const r = $$('input[name="mode"]').find((x) => x.checked);
    return r ? r.value : undefined;
  }

  // The running configuration with the edited fields changed; nothing else is touched.
  function editedConfig() {
    const config = structuredClone(running);
    const mode = currentMode();
    if (mode && mode !== (running.mode || 'MODE_UNSPECIFIED')) config.mode = mode;
    for (const f of FIELDS) {
      const value = $('#' + f.id).value;
      if (f.kind === 'secret') {
        if (value !== '') set(config, f.path, value);
        continue;
      }
      if (value === initial[f.id]) continue;
      if (f.kind === 'number') {
        const t = value.trim();
        set(config, f.path, t === '' ? undefined : (/^\d+$/.test(t) ? Number(t) : t));
      } else {
        set(config, f.path, value.trim());
      }
      // A listener made here for the first time: open federation only takes MTLS.
      if (f.path[0] === 'federationListener' && !config.federationListener.transport) config.federationListener.transport = 'MTLS';
    }
    return config;
  }

  function proxyEdited() {
    return FIELDS.some((f) => f.proxy && $('#' + f.id).value !== (f.kind === 'secret' ? '' : initial[f.id]));
  }

  // ---- DNS host IP / port found for the certificate's subject names ---------------------------
  async function loadReadiness() {
    const box = $('#dns-found');
    fill(box, el('span', { class: 'muted' }, 'asking DNS…'));
    fill($('#dns-problems'));
    let r;
    try {
      r = await api('/api/check');
    } catch (e) {
      fill(box, el('span', { class: 'error-text' }, 'readiness check failed: ' + errorText(e)));
      return;
    }
    if (r.error) { fill(box, el('span', { class: 'error-text' }, 'readiness check failed: ' + r.error)); return; }
    const rep = r.readiness || {};
    const served = (rep.names || []).filter((n) => n.served);
    const rows = [];
    served.forEach((n, i) => {
      const suffix = i === 0 ? '' : '-' + i;
      rows.push(el('span', { class: 'muted' }, 'Certificate subject name'), el('span', { class: 'mono' }, n.name));
      rows.push(el('label', { for: 'dns-host-ip' + suffix }, 'DNS host IP'),
        el('output', { id: 'dns-host-ip' + suffix, 'data-name': n.name }, n.found ? n.hostIp || '' : ''));
      rows.push(el('label', { for: 'dns-port' + suffix }, 'DNS port'),
        el('output', { id: 'dns-port' + suffix, 'data-name': n.name }, n.found && n.port ? String(n.port) : ''));
      if (!n.found || (n.problems || []).length) {
        const why = (n.problems || []).length ? n.problems.join('; ')
          : 'nothing found: the DNS-SRV record may not match the certificate or may not be present';
        rows.push(el('span', null, ''), el('span', { class: 'warning-text' }, why));
      }
    });
    if (!served.length) rows.push(el('span', { class: 'warning-text' }, 'No certificate subject name matches a served domain, so nothing was looked up.'), el('span', null, ''));
    fill(box, rows);
    fill($('#dns-problems'), (rep.problems || []).map((p) => el('li', { class: 'problem' }, p)));
  }

  // ---- Loading, OK, Cancel ---------------------------------------------------------------------
  async function load() {
    const r = await api('/api/config');
    if (r.error) throw new Error('Cannot read the running configuration: ' + r.error);
    if (!r.config) throw new Error('The gateway sent no configuration.');
    running = r.config;
    initial = {};
    fillForm(running);
  }

  function showResult(kind, title, lines) {
    const box = $('#result');
    fill(box, el('div', { class: 'banner ' + kind }, el('strong', null, title),
      lines && lines.length ? el('ul', { id: 'result-lines' }, lines.map((l) => el('li', null, l))) : null));
  }

  $('#settings-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!running) return;
    clearError();
    fill($('#result'));
    const ok = $('#ok');
    ok.disabled = true;
    $('#busy').hidden = false;
    try {
      const r = await api('/api/config/apply', { config: editedConfig() });
      const errors = (r.configResult && r.configResult.errors) || [];
      if (r.error || errors.length) {
        showResult('error', 'Not applied, the running configuration is unchanged: ' + (r.error || errors.length + ' problem(s)'), errors);
      } else {
        showResult('ok', 'Applied. The gateway runs with the new settings; the values below are the running ones.');
        await load();
        loadReadiness();
      }
    } catch (e) {
      showResult('error', 'Not applied: ' + errorText(e));
    } finally {
      ok.disabled = false;
      $('#busy').hidden = true;
    }
  });

  $('#cancel').addEventListener('click', async () => {
    clearError();
    try {
      await load();
      showResult('ok', 'Edits discarded; the values below are the running ones.');
    } catch (e) {
      showError(errorText(e));
    }
  });

  // ---- The "Configure..." proxy dialog ----------------------------------------------------------
  const dialog = $('#proxy-dialog');
  const proxyFields = FIELDS.filter((f) => f.proxy);
  function restoreSnapshot() {
    if (!dialogSnapshot) return;
    for (const f of proxyFields) $('#' + f.id).value = dialogSnapshot[f.id];
  }
  $('#configure-proxy').addEventListener('click', () => {
    dialogSnapshot = Object.fromEntries(proxyFields.map((f) => [f.id, $('#' + f.id).value]));
    fill($('#proxy-relogin-result'));
    dialog.showModal();
    $('#proxy-username').focus();
  });
  $('#proxy-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    dialog.close('ok');
    $('#proxy-changed').hidden = !proxyEdited();
  });
  $('#proxy-cancel').addEventListener('click', () => { restoreSnapshot(); dialog.close('cancel'); });
  dialog.addEventListener('cancel', () => restoreSnapshot()); // Escape
  $('#proxy-relogin').addEventListener('click', async () => {
    const out = $('#proxy-relogin-result');
    out.textContent = 'asking…';
    try {
      const r = await api('/api/proxy/login', {});
      out.textContent = r.error ? 'Error: ' + r.error : (r.notice || 'done');
    } catch (e) {
      out.textContent = 'Error: ' + errorText(e);
    }
  });

  FG.start(async () => {
    await loadInterfaces();
    await load();
    loadReadiness();
  });
})();

// Message window: the last 30 entries of /api/log, polled every second, newest at the bottom.
'use strict';

(() => {
  const { $, el, api, errorText } = FG;
  let first = true;

  // An entry's identity: time, line and which of identical entries it is.
  function keyed(entries) {
    const count = new Map();
    return entries.map((e) => {
      const base = e.unixMs + '|' + e.line;
      const n = (count.get(base) || 0) + 1;
      count.set(base, n);
      return [base + '|' + n, e];
    });
  }
  const sevClass = (s) => (s === 'ERROR' ? 'sev-error' : s === 'WARNING' ? 'sev-warning' : 'sev-info');

  async function refresh() {
    const live = $('#live');
    let r;
    try {
      r = await api('/api/log');
    } catch (e) {
      live.textContent = 'not updating: ' + errorText(e);
      live.className = 'badge error';
      return;
    }
    if (r.error) {
      live.textContent = 'error: ' + r.error;
      live.className = 'badge error';
      return;
    }
    live.textContent = 'live';
    live.className = 'badge ok';
    const entries = (r.log && r.log.entries) || [];
    const box = $('#messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 4;
    // Only what changed: entries that left the window go, new ones are appended (screen readers hear
    // the new lines only).
    const list = keyed(entries);
    const keys = new Set(list.map(([k]) => k));
    for (const li of Array.from(box.children)) if (!keys.has(li.dataset.key)) li.remove();
    for (const li of box.querySelectorAll('li.fresh')) li.classList.remove('fresh');
    const present = new Set(Array.from(box.children).map((li) => li.dataset.key));
    for (const [k, e] of list) {
      if (present.has(k)) continue;
      box.append(el('li', { class: sevClass(e.severity) + (first ? '' : ' fresh'), 'data-key': k, 'data-severity': e.severity || '' },
        e.line || e.text));
    }
    $('#empty').hidden = entries.length > 0;
    first = false;
    if ($('#follow').checked || atBottom) box.scrollTop = box.scrollHeight;
  }

  FG.start(() => { FG.poll(refresh, 1000); });
})();

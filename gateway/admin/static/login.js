// Login page: POST /api/login {password}; on success go to the page asked for (or the overview).
'use strict';

(() => {
  const { $, api, showError, clearError, errorText } = FG;

  function target() {
    const next = new URLSearchParams(location.search).get('next') || '';
    // Only our own pages: a path on this origin, never another site.
    return /^\/[a-z]+(\?[^\\]*)?$/.test(next) && !next.startsWith('/login') ? next : '/overview';
  }

  async function init() {
    try {
      const s = await api('/api/session');
      if (s.authenticated) { location.replace(target()); return; }
    } catch (e) {
      showError('Cannot reach fedgw: ' + errorText(e));
    }
  }

  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const button = $('#login-button');
    const password = $('#password').value;
    if (!password) { showError('Enter the password.'); return; }
    button.disabled = true;
    try {
      await api('/api/login', { password });
      location.replace(target());
    } catch (e) {
      showError(e.status === 401 ? 'Login failed: ' + errorText(e).replace(/ \(HTTP 401\)$/, '') : errorText(e));
      $('#password').select();
    } finally {
      button.disabled = false;
    }
  });

  init();
})();

// Operator console: plain browser JavaScript, no build step. It calls the service's public API only, with the
// operator key kept in this tab's sessionStorage. Every value from the API is written with textContent.
(function () {
  'use strict';

  const KEY_STORAGE = 'opal-force-sync.operator-key';
  const CURRENT_STORAGE = 'opal-force-sync.current-sync';
  const ACTIVE_POLL_MS = 1000;
  const IDLE_POLL_MS = 5000;
  const ACTIVE_STATUSES = ['pending', 'triggered', 'running'];

  const $ = (id) => document.getElementById(id);
  let timer = null;

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  function operatorKey() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  async function api(method, path, body, headers) {
    const response = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        Authorization: `Bearer ${operatorKey()}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => null);
    if (response.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyPanel('The operator key was refused. Enter a valid key.');
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function badge(value) {
    return el('span', String(value).replace(/_/g, ' '), `badge ${value}`);
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString() : '–';
  }

  function notice(message, isError) {
    const node = $('notice');
    node.textContent = message;
    node.className = isError ? 'notice error' : 'notice';
    node.hidden = !message;
  }

  function showKeyPanel(message) {
    $('key-panel').hidden = false;
    $('dashboard').hidden = true;
    $('sync-form').hidden = true;
    $('forget-key').hidden = true;
    $('key-state').textContent = '';
    notice(message || '', Boolean(message));
    stopPolling();
    $('key-input').focus();
  }

  function showDashboard() {
    $('key-panel').hidden = true;
    $('dashboard').hidden = false;
    $('sync-form').hidden = false;
    $('forget-key').hidden = false;
    $('key-state').textContent = 'Operator key set for this tab';
  }

  function renderCurrent(workflow) {
    $('current-id').textContent = workflow ? workflow.sync_id : '';
    const percent = workflow ? workflow.progress.percent : 0;
    $('progress-fill').style.width = `${percent}%`;
    $('progress-fill').className =
      workflow && workflow.status === 'completed' ? 'progress-fill done' : 'progress-fill';
    $('progress-percent').textContent = workflow ? `${percent} %` : '–';
    const status = $('current-status');
    status.textContent = workflow ? workflow.status.replace(/_/g, ' ') : 'no workflow yet';
    status.className = `badge ${workflow ? workflow.status : ''}`;
    status.dataset.status = workflow ? workflow.status : '';

    const list = $('agents');
    list.replaceChildren();
    for (const agent of workflow ? workflow.agents : []) {
      const item = el('li');
      item.dataset.agent = agent.agent_id;
      item.dataset.status = agent.status;
      item.append(el('span', agent.agent_id.replace(/_/g, ' ')), badge(agent.status));
      if (agent.error) item.title = agent.error;
      list.append(item);
    }
  }

  function renderWorkflows(items) {
    const body = $('workflows');
    body.replaceChildren();
    if (items.length === 0) {
      const row = el('tr');
      const cell = el('td', 'No workflows yet', 'empty');
      cell.colSpan = 5;
      row.append(cell);
      body.append(row);
    }
    for (const w of items) {
      const row = el('tr', undefined, 'selectable');
      row.title = w.sync_id;
      const status = el('td');
      status.append(badge(w.status));
      row.append(
        el('td', time(w.created_at)),
        el('td', w.sync_scope || 'trigger'),
        status,
        el('td', `${w.progress.percent} %`),
        el('td', w.triggered_by),
      );
      row.addEventListener('click', () => {
        sessionStorage.setItem(CURRENT_STORAGE, w.sync_id);
        void refresh();
      });
      body.append(row);
    }
  }

  function renderHealth(health, alerts) {
    const list = $('health');
    list.replaceChildren();
    const rows = [
      ['Webhooks', badge(health.webhook_status)],
      ['Database', badge(health.database)],
      ['Last webhook', time(health.last_webhook_at)],
      ['Backlog', health.processing_backlog ?? '–'],
      ['Failure rate (1 h)', health.recent_failure_rate === null ? '–' : `${health.recent_failure_rate} %`],
      [
        'Force sync success',
        health.force_sync_success_rate === null ? '–' : `${health.force_sync_success_rate} %`,
      ],
      ['p95 processing', health.p95_processing_time === null ? '–' : `${health.p95_processing_time} ms`],
    ];
    for (const [label, value] of rows) {
      const dd = el('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = String(value);
      list.append(el('dt', label), dd);
    }
    const alertList = $('alerts');
    alertList.replaceChildren();
    if (alerts.length === 0) alertList.append(el('li', 'No active alerts', 'empty'));
    for (const alert of alerts) {
      const item = el('li');
      item.append(badge(alert.severity), document.createTextNode(` ${alert.message}`));
      alertList.append(item);
    }
  }

  function renderFailedEvents(events) {
    const body = $('failed-events');
    body.replaceChildren();
    if (events.length === 0) {
      const row = el('tr');
      const cell = el('td', 'No failed events', 'empty');
      cell.colSpan = 5;
      row.append(cell);
      body.append(row);
    }
    for (const e of events) {
      const row = el('tr');
      row.append(
        el('td', time(e.received_at)),
        el('td', e.event_type),
        el('td', e.agent_id || '–'),
        el('td', e.sync_id || e.workflow_id, 'mono'),
        el('td', e.error_message || '–'),
      );
      body.append(row);
    }
  }

  async function refresh() {
    stopPolling();
    if (!operatorKey()) return;
    let active = false;
    try {
      const [list, diagnostics] = await Promise.all([
        api('GET', '/api/opal/syncs?limit=10'),
        api('GET', '/api/diagnostics/last-webhook?status=failed&limit=10'),
      ]);
      renderWorkflows(list.items);
      renderHealth(diagnostics.system_health, diagnostics.alerts);
      renderFailedEvents(diagnostics.events);

      const currentId = sessionStorage.getItem(CURRENT_STORAGE) || (list.items[0] && list.items[0].sync_id);
      const current = currentId ? await api('GET', `/api/opal/sync/${encodeURIComponent(currentId)}`) : null;
      renderCurrent(current);
      active = Boolean(current && ACTIVE_STATUSES.includes(current.status));
      $('updated').textContent = new Date().toLocaleTimeString();
    } catch (error) {
      if (error.status === 401) return;
      if (error.status === 404) sessionStorage.removeItem(CURRENT_STORAGE);
      notice(`Refresh failed: ${error.message}`, true);
    }
    timer = setTimeout(() => void refresh(), active ? ACTIVE_POLL_MS : IDLE_POLL_MS);
  }

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  async function forceSync(event) {
    event.preventDefault();
    const button = $('force-sync');
    button.disabled = true;
    notice('Starting a force sync…');
    try {
      const answer = await api(
        'POST',
        '/api/opal/sync',
        { sync_scope: $('scope').value, triggered_by: 'admin_console' },
        // A double click or a retried request cannot start two syncs.
        { 'Idempotency-Key': `admin-console-${crypto.randomUUID()}` },
      );
      sessionStorage.setItem(CURRENT_STORAGE, answer.sync_id);
      notice(answer.message);
    } catch (error) {
      const active = error.body && error.body.code === 'SYNC_ALREADY_ACTIVE' && error.body.details;
      if (active && active[0] && active[0].sync_id)
        sessionStorage.setItem(CURRENT_STORAGE, active[0].sync_id);
      if (error.status !== 401) notice(`Force sync refused: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
    await refresh();
  }

  function start() {
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      $('key-input').value = '';
      notice('');
      showDashboard();
      void refresh();
    });
    $('forget-key').addEventListener('click', () => {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyPanel();
    });
    $('sync-form').addEventListener('submit', (event) => void forceSync(event));

    if (operatorKey()) {
      showDashboard();
      void refresh();
    } else {
      showKeyPanel();
    }
  }

  document.addEventListener('DOMContentLoaded', start);
})();

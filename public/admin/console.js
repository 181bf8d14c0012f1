// Operator console: plain browser JavaScript, no build step. It calls the service's public API only. Whether a key
// is needed comes from GET /api/admin/session; a key is kept in this tab's sessionStorage and travels only in
// the Authorization header. Live state comes from the server-sent event streams (read with fetch, so that the key
// stays out of URLs); nothing polls on a timer except a bulk replay's progress while it runs. Every value from the
// API is written with textContent.
(function () {
  'use strict';

  const KEY_STORAGE = 'opal-force-sync.operator-key';
  const CURRENT_STORAGE = 'opal-force-sync.current-sync';
  const ACTIVE_STATUSES = ['pending', 'triggered', 'running'];
  const AGENTS = [
    'integration_health',
    'content_review',
    'geo_audit',
    'audience_suggester',
    'experiment_blueprinter',
    'personalization_idea_generator',
    'customer_journey',
    'roadmap_generator',
    'cmp_organizer',
  ];
  const VIEWS = ['workflow', 'workflows', 'health', 'diagnostics', 'dead-letters', 'maintenance'];
  const WORKFLOWS_PAGE = 20;
  // Reads that follow live changes are grouped: at most one timeline and one health read per interval.
  const TIMELINE_MIN_INTERVAL_MS = 3000;
  const HEALTH_MIN_INTERVAL_MS = 10_000;
  const BULK_PROGRESS_INTERVAL_MS = 2000;
  const STREAM_RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

  const $ = (id) => document.getElementById(id);

  const state = {
    operatorRoutes: 'key_required',
    current: null,
    currentStream: null,
    listStream: null,
    workflowsStatus: '',
    workflowsCursors: [null],
    workflowsNext: null,
    workflows: [],
    diagQuery: null,
    diagCursors: [null],
    diagNext: null,
    deadCursors: [null],
    deadNext: null,
    deadItems: [],
    requeuePlan: null,
    cleanupPlan: null,
    bulkPlan: null,
    bulkTimer: null,
    maintenance: null,
    started: false,
  };

  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
      this.code = body && body.code;
      this.retryAfter = retryAfter;
    }
  }

  // ---------------------------------------------------------------- helpers

  function operatorKey() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  function authHeaders() {
    const key = operatorKey();
    return state.operatorRoutes === 'key_required' && key ? { Authorization: `Bearer ${key}` } : {};
  }

  function keyRefused() {
    sessionStorage.removeItem(KEY_STORAGE);
    showKeyPanel('The operator key was refused. Enter a valid key.');
  }

  async function api(method, path, body, headers) {
    const response = await fetch(path, {
      method,
      cache: 'no-store',
      headers: {
        Accept: 'application/json',
        ...authHeaders(),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => null);
    if (response.status === 401) {
      keyRefused();
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data, response.headers.get('Retry-After'));
    return data;
  }

  function describeError(error) {
    if (!(error instanceof ApiError)) return error && error.message ? error.message : String(error);
    const parts = [`${error.status}${error.code ? ` ${error.code}` : ''}: ${error.message}`];
    if (error.retryAfter) parts.push(`retry after ${error.retryAfter} s`);
    const details = error.body && Array.isArray(error.body.details) ? error.body.details : [];
    for (const d of details) parts.push(typeof d === 'string' ? d : JSON.stringify(d));
    return parts.join(' · ');
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function label(value) {
    return value === null || value === undefined || value === '' ? '–' : String(value).replace(/_/g, ' ');
  }

  function badge(value) {
    const node = el('span', label(value), `badge ${value || ''}`);
    node.dataset.status = value || '';
    return node;
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString() : '–';
  }

  function ms(value) {
    return value === null || value === undefined ? '–' : `${value} ms`;
  }

  function percent(value) {
    return value === null || value === undefined ? '–' : `${value} %`;
  }

  function cell(content, className) {
    const td = el('td', undefined, className);
    if (content instanceof Node) td.append(content);
    else td.textContent = content === null || content === undefined ? '–' : String(content);
    return td;
  }

  function emptyRow(body, colSpan, text) {
    const row = el('tr');
    const td = el('td', text, 'empty');
    td.colSpan = colSpan;
    row.append(td);
    body.append(row);
  }

  function facts(list, rows) {
    list.replaceChildren();
    for (const [name, value] of rows) {
      const dd = el('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value === null || value === undefined || value === '' ? '–' : String(value);
      list.append(el('dt', name), dd);
    }
  }

  function notice(message, isError) {
    const node = $('notice');
    node.textContent = message || '';
    node.className = isError ? 'notice error' : 'notice';
    node.hidden = !message;
  }

  /** Shows an action's answer next to the action: a line per entry, written as text. */
  function answer(id, lines, kind) {
    const node = $(id);
    node.replaceChildren();
    for (const line of Array.isArray(lines) ? lines : [lines]) node.append(el('p', line));
    node.className = `answer ${kind || 'ok'}`;
    node.dataset.kind = kind || 'ok';
    node.hidden = false;
  }

  function isoFromLocal(value) {
    return value ? new Date(value).toISOString() : '';
  }

  function throttled(fn, minIntervalMs) {
    let last = 0;
    let timer = null;
    return function run(now) {
      if (now === true) {
        if (timer) clearTimeout(timer);
        timer = null;
        last = Date.now();
        void fn();
        return;
      }
      if (timer) return;
      const wait = Math.max(0, last + minIntervalMs - Date.now());
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        void fn();
      }, wait);
    };
  }

  // ---------------------------------------------------------------- confirmation dialog

  function confirmAction(title, lines, confirmLabel) {
    const dialog = $('confirm');
    $('confirm-title').textContent = title;
    const body = $('confirm-body');
    body.replaceChildren();
    for (const line of lines) body.append(el('p', line));
    $('confirm-yes').textContent = confirmLabel || 'Confirm';
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
      dialog.showModal();
      $('confirm-no').focus();
    });
  }

  // ---------------------------------------------------------------- server-sent events over fetch

  /**
   * Reads a `text/event-stream` answer with fetch (the key goes in the Authorization header, never in a URL),
   * parses event/id/data lines and comments, and reconnects with `Last-Event-ID` after a drop. `end` frames and
   * 404 answers stop it for good.
   */
  function openStream(path, handlers) {
    const stream = { closed: false, lastId: null, controller: null, retries: 0, timer: null };

    function setLive(value) {
      if (handlers.onState) handlers.onState(value);
    }

    function retry(afterMs) {
      if (stream.closed) return;
      setLive('reconnecting');
      const wait = afterMs || STREAM_RETRY_MS[Math.min(stream.retries, STREAM_RETRY_MS.length - 1)];
      stream.retries += 1;
      stream.timer = setTimeout(() => void connect(), wait);
    }

    async function connect() {
      if (stream.closed) return;
      stream.controller = new AbortController();
      const headers = { Accept: 'text/event-stream', ...authHeaders() };
      if (stream.lastId !== null) headers['Last-Event-ID'] = stream.lastId;
      let response;
      try {
        response = await fetch(path, { headers, cache: 'no-store', signal: stream.controller.signal });
      } catch {
        retry();
        return;
      }
      if (response.status === 401) {
        stream.closed = true;
        keyRefused();
        return;
      }
      if (response.status === 404) {
        stream.closed = true;
        setLive('off');
        if (handlers.onGone) handlers.onGone();
        return;
      }
      if (!response.ok || !response.body) {
        const retryAfter = Number(response.headers.get('Retry-After'));
        retry(retryAfter > 0 ? retryAfter * 1000 : undefined);
        return;
      }
      // After a gap, what changed meanwhile is read once (the list stream has no snapshot of its own).
      if (stream.retries > 0 && handlers.onResumed) handlers.onResumed();
      stream.retries = 0;
      setLive('live');
      let ended = false;
      let buffer = '';
      let frame = { event: 'message', data: [], id: null };
      const dispatch = () => {
        if (frame.id !== null) stream.lastId = frame.id;
        if (frame.data.length > 0) {
          let data = null;
          try {
            data = JSON.parse(frame.data.join('\n'));
          } catch {
            data = null;
          }
          if (frame.event === 'end') ended = true;
          if (data !== null) handlers.onEvent(frame.event, data);
        }
        frame = { event: 'message', data: [], id: null };
      };
      const line = (text) => {
        if (text === '') return dispatch();
        if (text.startsWith(':')) return; // keep-alive comment
        const colon = text.indexOf(':');
        const field = colon === -1 ? text : text.slice(0, colon);
        let value = colon === -1 ? '' : text.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data.push(value);
        else if (field === 'id') frame.id = value;
      };
      try {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let match;
          while ((match = /\r\n|\n|\r(?!$)/.exec(buffer))) {
            line(buffer.slice(0, match.index));
            buffer = buffer.slice(match.index + match[0].length);
          }
          if (ended) break;
        }
      } catch {
        // dropped or aborted: decided below
      }
      if (ended) {
        stream.closed = true;
        stream.controller.abort();
        setLive('idle');
        if (handlers.onEnd) handlers.onEnd();
        return;
      }
      retry();
    }

    stream.close = () => {
      stream.closed = true;
      if (stream.timer) clearTimeout(stream.timer);
      if (stream.controller) stream.controller.abort();
    };
    void connect();
    return stream;
  }

  function updateLiveState() {
    const states = [state.listStream, state.currentStream].filter((s) => s && !s.closed).map((s) => s.live);
    const node = $('live-state');
    const value = states.includes('reconnecting') ? 'reconnecting' : states.includes('live') ? 'live' : 'off';
    node.dataset.state = value;
    node.textContent = value === 'live' ? 'live' : value === 'reconnecting' ? 'reconnecting…' : 'not live';
  }

  // ---------------------------------------------------------------- current workflow

  function isActive(workflow) {
    return Boolean(workflow && ACTIVE_STATUSES.includes(workflow.status));
  }

  function renderCurrent(workflow) {
    state.current = workflow;
    $('current-empty').hidden = Boolean(workflow);
    $('current-id').textContent = workflow ? workflow.sync_id : '';
    const pct = workflow ? workflow.progress.percent : 0;
    $('progress-fill').style.width = `${pct}%`;
    $('progress-fill').className =
      workflow && workflow.status === 'completed' ? 'progress-fill done' : 'progress-fill';
    $('progress').setAttribute('aria-valuenow', String(pct));
    $('progress-percent').textContent = workflow ? `${pct} %` : '–';
    const status = $('current-status');
    status.textContent = workflow ? label(workflow.status) : 'no workflow yet';
    status.className = `badge ${workflow ? workflow.status : ''}`;
    status.dataset.status = workflow ? workflow.status : '';

    facts(
      $('current-facts'),
      workflow
        ? [
            ['Scope', workflow.sync_scope || 'trigger'],
            ['Client', workflow.client_name],
            ['Triggered by', workflow.triggered_by],
            ['Created', time(workflow.created_at)],
            ['Completed', time(workflow.completed_at)],
            ['Duration', ms(workflow.duration_ms)],
            ['OPAL workflow id', workflow.opal_workflow_id],
            ['Correlation id', workflow.correlation_id],
            [
              'Agents',
              `${workflow.progress.agents_completed} completed, ${workflow.progress.agents_failed} failed`,
            ],
            ...(workflow.rerun_of ? [['Rerun of', workflow.rerun_of]] : []),
            ...(workflow.cancelled_at
              ? [['Cancelled', `${time(workflow.cancelled_at)} ${workflow.cancel_reason || ''}`.trim()]]
              : []),
          ]
        : [],
    );

    const list = $('agents');
    list.replaceChildren();
    for (const agent of workflow && workflow.agents ? workflow.agents : []) {
      const item = el('li');
      item.dataset.agent = agent.agent_id;
      item.dataset.status = agent.status;
      const head = el('div', undefined, 'agent-head');
      head.append(el('span', label(agent.agent_id), 'agent-name'), badge(agent.status));
      item.append(head);
      item.append(el('span', agent.duration_ms === null ? '' : ms(agent.duration_ms), 'muted small'));
      if (agent.error) item.append(el('span', agent.error, 'agent-error'));
      list.append(item);
    }

    const attempts = $('attempts');
    attempts.replaceChildren();
    const trigger = workflow ? workflow.trigger : null;
    const history = trigger && Array.isArray(trigger.history) ? trigger.history : [];
    if (!workflow) emptyRow(attempts, 6, 'No workflow');
    else if (history.length > 0) {
      for (const a of history) {
        const row = el('tr');
        row.append(
          cell(a.attempt),
          cell(time(a.started_at)),
          cell(a.status_code),
          cell(badge(a.outcome)),
          cell(ms(a.duration_ms)),
          cell(a.error),
        );
        attempts.append(row);
      }
    } else if (trigger && trigger.attempts > 0) {
      const row = el('tr');
      row.append(
        cell(trigger.attempts),
        cell('–'),
        cell(trigger.last_status_code),
        cell(trigger.next_attempt_at ? `next at ${time(trigger.next_attempt_at)}` : '–'),
        cell('–'),
        cell(trigger.last_error),
      );
      attempts.append(row);
    } else emptyRow(attempts, 6, 'No trigger attempt (yet)');

    const active = isActive(workflow);
    $('cancel-workflow').disabled = !active;
    $('rerun-workflow').disabled = !workflow || active;
    $('replay-preview').disabled = !workflow;
  }

  function renderTimeline(events) {
    const body = $('timeline');
    body.replaceChildren();
    if (events.length === 0) emptyRow(body, 6, 'No events yet');
    for (const e of [...events].reverse()) {
      const row = el('tr');
      row.dataset.eventType = e.event_type;
      row.append(
        cell(time(e.received_at)),
        cell(e.event_type),
        cell(e.agent_id ? label(e.agent_id) : '–'),
        cell(badge(e.status)),
        cell(badge(e.processing_status)),
        cell(e.error_message),
      );
      body.append(row);
    }
  }

  async function loadTimeline() {
    const workflow = state.current;
    if (!workflow) return renderTimeline([]);
    try {
      const query = new URLSearchParams({ workflow: workflow.sync_id, limit: '100' });
      const data = await api('GET', `/api/diagnostics/last-webhook?${query}`);
      if (state.current && state.current.sync_id === workflow.sync_id) renderTimeline(data.events);
      renderHealth(data.system_health, data.alerts);
    } catch (error) {
      if (error.status !== 401) notice(`Event timeline: ${describeError(error)}`, true);
    }
  }
  const refreshTimeline = throttled(loadTimeline, TIMELINE_MIN_INTERVAL_MS);

  function onWorkflowFrame(workflow) {
    if (!workflow || !workflow.sync_id) return;
    if (state.current && state.current.sync_id === workflow.sync_id) {
      const known = state.current.version;
      if (typeof known === 'number' && typeof workflow.version === 'number' && workflow.version < known)
        return;
      const wasActive = isActive(state.current);
      renderCurrent({ ...workflow, agents: workflow.agents || state.current.agents });
      // While it runs, the timeline is read at most every few seconds; once more when it finishes.
      if (isActive(workflow)) refreshTimeline();
      else if (wasActive) refreshTimeline(true);
    }
    upsertWorkflowRow(workflow);
    refreshHealth();
  }

  function followCurrent() {
    if (state.currentStream) state.currentStream.close();
    state.currentStream = null;
    const workflow = state.current;
    if (!isActive(workflow)) return updateLiveState();
    const stream = openStream(`/api/opal/sync/${encodeURIComponent(workflow.sync_id)}/events`, {
      onEvent: (event, data) => {
        if (event === 'snapshot' || event === 'progress' || event === 'end') onWorkflowFrame(data);
      },
      onState: (value) => {
        stream.live = value;
        updateLiveState();
      },
    });
    state.currentStream = stream;
  }

  async function selectWorkflow(syncId) {
    sessionStorage.setItem(CURRENT_STORAGE, syncId);
    // Already followed (the list stream announced it first): its stream keeps it current.
    const following = state.currentStream && !state.currentStream.closed;
    if (following && state.current && state.current.sync_id === syncId) return;
    $('replay-plan').hidden = true;
    $('workflow-answer').hidden = true;
    try {
      const workflow = await api('GET', `/api/opal/sync/${encodeURIComponent(syncId)}`);
      renderCurrent(workflow);
      followCurrent();
      refreshTimeline(true);
    } catch (error) {
      if (error.status === 404) {
        sessionStorage.removeItem(CURRENT_STORAGE);
        renderCurrent(null);
        renderTimeline([]);
      }
      if (error.status !== 401) notice(`Workflow ${syncId}: ${describeError(error)}`, true);
    }
  }

  async function forceSync(event) {
    event.preventDefault();
    const scope = $('scope').value;
    const clientName = $('client-name').value.trim();
    const allowConcurrent = $('allow-concurrent').checked;
    const ok = await confirmAction(
      'Start a force sync?',
      [
        `Scope: ${scope}`,
        `Client name: ${clientName || 'OPAL Sync Operation (default)'}`,
        `Allow concurrent: ${allowConcurrent ? 'yes' : 'no'}`,
      ],
      'Force Sync',
    );
    if (!ok) return;
    const button = $('force-sync');
    button.disabled = true;
    try {
      const body = { sync_scope: scope, triggered_by: 'admin_console' };
      if (clientName) body.client_context = { client_name: clientName };
      if (allowConcurrent) body.allow_concurrent = true;
      // A double click or a retried request cannot start two syncs.
      const result = await api('POST', '/api/opal/sync', body, {
        'Idempotency-Key': `admin-console-${crypto.randomUUID()}`,
      });
      const external = result.sync_details && result.sync_details.external_opal;
      answer('sync-answer', [
        result.message,
        `Workflow ${result.sync_id}`,
        external ? `OPAL: ${external.status}, ${external.attempts} attempt(s)` : '',
      ]);
      await selectWorkflow(result.sync_id);
    } catch (error) {
      const details = error.body && Array.isArray(error.body.details) ? error.body.details : [];
      answer('sync-answer', `Force sync refused: ${describeError(error)}`, 'error');
      const active = details.find((d) => d && d.sync_id);
      if (active) await selectWorkflow(active.sync_id);
    } finally {
      button.disabled = false;
    }
  }

  async function cancelWorkflow() {
    const workflow = state.current;
    if (!workflow) return;
    const reason = $('cancel-reason').value.trim();
    const ok = await confirmAction(
      'Cancel this workflow?',
      [
        `Workflow ${workflow.sync_id} (${label(workflow.status)})`,
        'Pending trigger retries stop; OPAL is not called. Later callbacks are stored but change nothing.',
        `Reason: ${reason || '(none)'}`,
      ],
      'Cancel workflow',
    );
    if (!ok) return;
    try {
      const result = await api(
        'POST',
        `/api/opal/sync/${encodeURIComponent(workflow.sync_id)}/cancel`,
        reason ? { reason } : {},
      );
      $('cancel-reason').value = '';
      answer('workflow-answer', `Workflow ${result.sync_id} is ${label(result.status)}`);
      onWorkflowFrame(result);
      followCurrent();
    } catch (error) {
      answer('workflow-answer', `Cancel refused: ${describeError(error)}`, 'error');
    }
  }

  async function rerunWorkflow() {
    const workflow = state.current;
    if (!workflow) return;
    const ok = await confirmAction(
      'Rerun this workflow?',
      [`A new workflow with the inputs of ${workflow.sync_id}: scope ${workflow.sync_scope || 'trigger'}.`],
      'Rerun',
    );
    if (!ok) return;
    try {
      const result = await api(
        'POST',
        `/api/opal/sync/${encodeURIComponent(workflow.sync_id)}/rerun`,
        undefined,
        { 'Idempotency-Key': `admin-console-${crypto.randomUUID()}` },
      );
      answer('workflow-answer', [result.message, `New workflow ${result.sync_id}`]);
      await selectWorkflow(result.sync_id);
    } catch (error) {
      answer('workflow-answer', `Rerun refused: ${describeError(error)}`, 'error');
    }
  }

  function replayRequest(dryRun) {
    return {
      workflow_id: state.current.sync_id,
      dry_run: dryRun,
      replay_options: { force_reprocess: $('replay-force').checked },
    };
  }

  async function previewReplay() {
    if (!state.current) return;
    try {
      const plan = await api('POST', '/api/orchestrations/replay', replayRequest(true));
      const current = state.current;
      const body = $('replay-changes');
      body.replaceChildren();
      let changes = 0;
      const addRow = (what, now, after) => {
        const row = el('tr', undefined, now === after ? 'same' : 'changed');
        if (now !== after) changes += 1;
        row.append(cell(what), cell(badge(now)), cell(badge(after)));
        body.append(row);
      };
      addRow('workflow', current.status, plan.resulting_state.status);
      for (const agent of current.agents || []) {
        const after = plan.resulting_state.agents[agent.agent_id];
        if (after !== undefined) addRow(label(agent.agent_id), agent.status, after);
      }
      $('replay-summary').textContent =
        `${plan.events_replayed} of ${plan.events_considered} events would be applied; ` +
        (changes === 0 ? 'nothing would change.' : `${changes} state(s) would change.`);
      $('replay-plan').hidden = false;
      $('replay-plan').dataset.changes = String(changes);
    } catch (error) {
      answer('workflow-answer', `Replay preview failed: ${describeError(error)}`, 'error');
    }
  }

  async function applyReplay() {
    if (!state.current) return;
    const ok = await confirmAction(
      'Apply the replay?',
      [`Rebuilds ${state.current.sync_id} from its stored events, as previewed. OPAL is not called.`],
      'Replay',
    );
    if (!ok) return;
    try {
      const result = await api('POST', '/api/orchestrations/replay', replayRequest(false));
      answer('workflow-answer', [
        `Replay ${result.replay_id}: ${result.events_replayed} event(s) replayed`,
        `Workflow now ${label(result.resulting_state.status)}`,
      ]);
      $('replay-plan').hidden = true;
      await selectWorkflow(state.current.sync_id);
    } catch (error) {
      answer('workflow-answer', `Replay failed: ${describeError(error)}`, 'error');
    }
  }

  // ---------------------------------------------------------------- workflows list

  function workflowRow(w) {
    const row = el('tr', undefined, 'selectable');
    row.dataset.syncId = w.sync_id;
    row.dataset.status = w.status;
    const open = el('button', 'Open', 'secondary small');
    open.type = 'button';
    open.setAttribute('aria-label', `Open workflow ${w.sync_id}`);
    open.addEventListener('click', () => {
      location.hash = '#workflow';
      void selectWorkflow(w.sync_id);
    });
    row.append(
      cell(time(w.created_at)),
      cell(w.sync_scope || 'trigger'),
      cell(w.client_name),
      cell(badge(w.status)),
      cell(`${w.progress.percent} %`),
      cell(w.triggered_by),
      cell(open),
    );
    return row;
  }

  function renderWorkflows() {
    const body = $('workflows');
    body.replaceChildren();
    if (state.workflows.length === 0) emptyRow(body, 7, 'No workflows');
    for (const w of state.workflows) body.append(workflowRow(w));
    $('workflows-older').disabled = !state.workflowsNext;
    $('workflows-page').textContent = `Page ${state.workflowsCursors.length}`;
  }

  function upsertWorkflowRow(workflow) {
    const index = state.workflows.findIndex((w) => w.sync_id === workflow.sync_id);
    const matches = !state.workflowsStatus || workflow.status === state.workflowsStatus;
    if (index >= 0) {
      if (matches) state.workflows[index] = workflow;
      else state.workflows.splice(index, 1);
    } else if (matches && state.workflowsCursors.length === 1) {
      state.workflows.unshift(workflow);
      state.workflows.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
      if (state.workflows.length > WORKFLOWS_PAGE) state.workflows.length = WORKFLOWS_PAGE;
    } else return;
    renderWorkflows();
  }

  async function loadWorkflows() {
    const query = new URLSearchParams({ limit: String(WORKFLOWS_PAGE) });
    if (state.workflowsStatus) query.set('status', state.workflowsStatus);
    const before = state.workflowsCursors[state.workflowsCursors.length - 1];
    if (before) query.set('before', before);
    try {
      const data = await api('GET', `/api/opal/syncs?${query}`);
      state.workflows = data.items;
      state.workflowsNext = data.next_before;
      renderWorkflows();
      return data.items;
    } catch (error) {
      if (error.status !== 401) notice(`Workflows: ${describeError(error)}`, true);
      return [];
    }
  }

  function followList() {
    if (state.listStream) state.listStream.close();
    const query = state.workflowsStatus ? `?${new URLSearchParams({ status: state.workflowsStatus })}` : '';
    const stream = openStream(`/api/opal/syncs/events${query}`, {
      onEvent: (event, data) => {
        if (event !== 'workflow') return;
        onWorkflowFrame(data);
        // A workflow started elsewhere becomes the current one when nothing is being followed.
        if (isActive(data) && (!state.current || !isActive(state.current)) && !sessionPinned(data)) {
          void selectWorkflow(data.sync_id);
        }
      },
      onResumed: () => void loadWorkflows(),
      onState: (value) => {
        stream.live = value;
        updateLiveState();
      },
    });
    state.listStream = stream;
  }

  function sessionPinned(workflow) {
    return state.current && state.current.sync_id === workflow.sync_id;
  }

  // ---------------------------------------------------------------- health and alerts

  function renderHealth(health, alerts) {
    if (!health) return;
    facts($('health'), [
      ['Webhooks', badge(health.webhook_status)],
      ['Database', badge(health.database)],
      ['Last webhook', time(health.last_webhook_at)],
      ['Backlog', health.processing_backlog],
      ['Failure rate (1 h)', percent(health.recent_failure_rate)],
      ['Signature failures', percent(health.signature_failure_rate)],
      ['Force sync success (15 min)', percent(health.force_sync_success_rate)],
      ...(health.workflow_success_rate !== undefined
        ? [['Workflow success (24 h)', percent(health.workflow_success_rate)]]
        : []),
      ...(health.agent_success_rate !== undefined
        ? [['Agent success (24 h)', percent(health.agent_success_rate)]]
        : []),
      ['Avg processing', ms(health.avg_processing_time)],
      ['p95 processing', ms(health.p95_processing_time)],
      ...(health.maintenance ? [['Maintenance', badge(health.maintenance.mode || health.maintenance)]] : []),
    ]);
    if (health.maintenance && typeof health.maintenance === 'object') renderMaintenance(health.maintenance);
    const lists = { critical: $('alerts-critical'), warning: $('alerts-warning') };
    for (const list of Object.values(lists)) list.replaceChildren();
    for (const alert of alerts || []) {
      const item = el('li', undefined, `alert ${alert.severity}`);
      item.dataset.rule = alert.rule;
      item.append(badge(alert.severity), el('span', ` ${alert.message}`));
      if (alert.value !== undefined && alert.value !== null)
        item.append(el('span', ` (value ${alert.value}, threshold ${alert.threshold})`, 'muted'));
      (lists[alert.severity] || lists.warning).append(item);
    }
    for (const [severity, list] of Object.entries(lists))
      if (list.children.length === 0) list.append(el('li', `No ${severity} alerts`, 'empty'));
    const count = (alerts || []).length;
    const counter = $('alert-count');
    counter.textContent = String(count);
    counter.hidden = count === 0;
    counter.className = (alerts || []).some((a) => a.severity === 'critical') ? 'count critical' : 'count';
    counter.setAttribute('aria-label', `${count} active alert(s)`);
  }

  async function loadHealth() {
    try {
      const data = await api('GET', '/api/diagnostics/last-webhook?limit=1');
      renderHealth(data.system_health, data.alerts);
    } catch (error) {
      if (error.status !== 401) notice(`Health: ${describeError(error)}`, true);
    }
  }
  const refreshHealth = throttled(loadHealth, HEALTH_MIN_INTERVAL_MS);

  async function testConfiguration() {
    const ok = await confirmAction(
      'Test the configuration?',
      ['Checks configuration, database, migrations and a connection to OPAL (never a trigger).'],
      'Run test',
    );
    if (!ok) return;
    const list = $('config-checks');
    list.replaceChildren();
    try {
      const result = await api('POST', '/api/diagnostics/last-webhook', { action: 'test_configuration' });
      answer(
        'config-answer',
        `${result.success ? 'All checks passed' : 'Some checks failed'} (mode ${result.mode})`,
        result.success ? 'ok' : 'error',
      );
      for (const check of result.checks) {
        const item = el('li', undefined, check.ok ? 'check-ok' : 'check-failed');
        item.dataset.check = check.name;
        item.dataset.ok = String(check.ok);
        item.append(
          badge(check.ok ? 'ok' : 'failed'),
          el('strong', ` ${check.name} `),
          el('span', check.message),
          el('span', ` ${ms(check.duration_ms)}`, 'muted'),
        );
        list.append(item);
      }
    } catch (error) {
      answer('config-answer', `Test failed: ${describeError(error)}`, 'error');
    }
  }

  async function cleanupCount(event) {
    event.preventDefault();
    const days = Number($('cleanup-days').value);
    try {
      const result = await api('POST', '/api/diagnostics/last-webhook', {
        action: 'cleanup_old_events',
        retention_days: days,
        dry_run: true,
      });
      state.cleanupPlan = { days, count: result.deleted };
      answer(
        'cleanup-answer',
        `Dry run: ${result.deleted} event(s) received before ${time(result.older_than)} would be deleted.`,
      );
      $('cleanup-apply').disabled = false;
    } catch (error) {
      state.cleanupPlan = null;
      $('cleanup-apply').disabled = true;
      answer('cleanup-answer', `Count failed: ${describeError(error)}`, 'error');
    }
  }

  async function cleanupApply() {
    const plan = state.cleanupPlan;
    if (!plan) return;
    const ok = await confirmAction(
      'Delete old events?',
      [`About ${plan.count} event(s) older than ${plan.days} day(s) are deleted for good.`],
      'Delete',
    );
    if (!ok) return;
    try {
      const result = await api('POST', '/api/diagnostics/last-webhook', {
        action: 'cleanup_old_events',
        retention_days: plan.days,
      });
      answer(
        'cleanup-answer',
        `Deleted ${result.deleted} event(s) received before ${time(result.older_than)}.`,
      );
    } catch (error) {
      answer('cleanup-answer', `Cleanup failed: ${describeError(error)}`, 'error');
    } finally {
      state.cleanupPlan = null;
      $('cleanup-apply').disabled = true;
    }
  }

  // ---------------------------------------------------------------- diagnostics

  function diagnosticsFilters() {
    const filters = new URLSearchParams();
    const add = (name, value) => {
      if (value) filters.set(name, value);
    };
    add('status', $('diag-status').value === 'all' ? '' : $('diag-status').value);
    add('event_type', $('diag-event-type').value);
    add('workflow', $('diag-workflow').value.trim());
    add('agent_id', $('diag-agent').value);
    add('start_date', isoFromLocal($('diag-from').value));
    add('end_date', isoFromLocal($('diag-to').value));
    return filters;
  }

  function renderDiagnostics(data) {
    const body = $('diag-events');
    body.replaceChildren();
    if (data.events.length === 0) emptyRow(body, 8, 'No matching events');
    for (const e of data.events) {
      const row = el('tr');
      row.dataset.eventId = e.event_id;
      const details = el('button', 'Details', 'secondary small');
      details.type = 'button';
      details.setAttribute('aria-label', `Details of event ${e.event_id}`);
      details.addEventListener('click', () => void showEvent(e.event_id));
      row.append(
        cell(time(e.received_at)),
        cell(e.event_type),
        cell(e.agent_id ? label(e.agent_id) : '–'),
        cell(e.sync_id || e.workflow_id, 'mono'),
        cell(badge(e.status)),
        cell(badge(e.processing_status)),
        cell(e.error_message),
        cell(details),
      );
      body.append(row);
    }
    $('diag-summary').textContent =
      `${data.summary.returned_count} shown of ${data.summary.matched_count} matching ` +
      `(page ${state.diagCursors.length})`;
    state.diagNext = data.pagination.next_before;
    $('diag-next').disabled = !state.diagNext;
  }

  async function loadDiagnostics() {
    const query = new URLSearchParams(state.diagQuery || diagnosticsFilters());
    query.set('limit', $('diag-limit').value);
    const before = state.diagCursors[state.diagCursors.length - 1];
    if (before) query.set('before', before);
    try {
      const data = await api('GET', `/api/diagnostics/last-webhook?${query}`);
      $('diag-answer').hidden = true;
      renderDiagnostics(data);
      renderHealth(data.system_health, data.alerts);
    } catch (error) {
      if (error.status !== 401) answer('diag-answer', `Search refused: ${describeError(error)}`, 'error');
    }
  }

  async function showEvent(eventId) {
    try {
      const e = await api('GET', `/api/events/${encodeURIComponent(eventId)}`);
      $('event-detail-id').textContent = e.event_id;
      facts($('event-detail-facts'), [
        ['Type', e.event_type],
        ['Agent', e.agent_id],
        ['Workflow', e.sync_id || e.workflow_id],
        ['Workflow status', e.workflow ? badge(e.workflow.status) : 'not linked'],
        ['Sender event id', e.source_event_id],
        ['Received', time(e.received_at)],
        ['Processed', time(e.processed_at)],
        ['Processing', badge(e.processing_status)],
        ['Processing error', e.processing_error || e.error_message],
      ]);
      $('event-detail-payload').textContent = JSON.stringify(
        e.payload === undefined ? e : e.payload,
        null,
        2,
      );
      $('event-detail').hidden = false;
      $('event-detail').scrollIntoView({ block: 'nearest' });
    } catch (error) {
      if (error.status !== 401) answer('diag-answer', `Event ${eventId}: ${describeError(error)}`, 'error');
    }
  }

  async function exportDiagnostics() {
    const filters = state.diagQuery || diagnosticsFilters();
    const format = $('export-format').value;
    const described = [...filters.entries()].map(([k, v]) => `${k}=${v}`).join(', ') || 'no filter';
    const ok = await confirmAction(
      'Export the selection?',
      [`Every event matching: ${described}`, `Format: ${format}`],
      'Export',
    );
    if (!ok) return;
    const query = new URLSearchParams(filters);
    query.set('format', format);
    try {
      const response = await fetch(`/api/diagnostics/events/export?${query}`, {
        headers: { ...authHeaders() },
        cache: 'no-store',
      });
      if (response.status === 401) return keyRefused();
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body, response.headers.get('Retry-After'));
      }
      const blob = await response.blob();
      const lines = (await blob.text()).split('\n').filter((l) => l.length > 0).length;
      const rows = format === 'csv' ? Math.max(0, lines - 1) : lines;
      const link = el('a', `Download events.${format}`);
      link.href = URL.createObjectURL(blob);
      link.download = `events.${format === 'csv' ? 'csv' : 'ndjson'}`;
      link.id = 'export-link';
      const node = $('diag-answer');
      answer('diag-answer', `Exported ${rows} event(s) (${blob.size} bytes).`);
      node.append(link);
      link.click();
    } catch (error) {
      answer('diag-answer', `Export failed: ${describeError(error)}`, 'error');
    }
  }

  // ---------------------------------------------------------------- dead letters and requeue

  function renderDeadLetters(kind, items) {
    const head = $('dead-head');
    head.replaceChildren();
    const headRow = el('tr');
    const columns =
      kind === 'rejected'
        ? ['Reason', 'Count', 'First seen', 'Last seen', 'Client address', 'Detail']
        : ['Received', 'Type', 'Agent', 'Workflow', 'Processing', 'Error', 'Event id'];
    for (const name of columns) {
      const th = el('th', name);
      th.scope = 'col';
      headRow.append(th);
    }
    head.append(headRow);
    const body = $('dead-letters');
    body.replaceChildren();
    if (items.length === 0) emptyRow(body, columns.length, `No ${kind} dead letters`);
    for (const d of items) {
      const row = el('tr');
      if (kind === 'rejected') {
        row.append(
          cell(d.reason),
          cell(d.count),
          cell(time(d.first_seen)),
          cell(time(d.last_seen)),
          cell(d.client_ip),
          cell(d.detail),
        );
      } else {
        row.dataset.eventId = d.event_id;
        row.append(
          cell(time(d.received_at)),
          cell(d.event_type),
          cell(d.agent_id ? label(d.agent_id) : '–'),
          cell(d.sync_id || d.workflow_id, 'mono'),
          cell(badge(d.processing_status)),
          cell(d.processing_error || d.error_message),
          cell(d.event_id, 'mono'),
        );
      }
      body.append(row);
    }
  }

  async function loadDeadLetters() {
    const kind = $('dead-kind').value;
    const query = new URLSearchParams({ kind, limit: '50' });
    const before = state.deadCursors[state.deadCursors.length - 1];
    if (before) query.set('before', before);
    $('requeue-preview').disabled = kind === 'rejected';
    $('requeue-apply').disabled = true;
    state.requeuePlan = null;
    try {
      const data = await api('GET', `/api/diagnostics/dead-letters?${query}`);
      const items = (kind === 'rejected' ? data.rejected : data.events) || [];
      state.deadItems = items;
      state.deadNext = data.pagination ? data.pagination.next_before : null;
      $('dead-next').disabled = !state.deadNext;
      $('dead-answer').hidden = true;
      renderDeadLetters(kind, items);
    } catch (error) {
      if (error.status !== 401) answer('dead-answer', `Dead letters: ${describeError(error)}`, 'error');
    }
  }

  async function requeuePreview() {
    const kind = $('dead-kind').value;
    if (kind === 'rejected') return;
    try {
      const result = await api('POST', '/api/diagnostics/dead-letters/requeue', { kind, dry_run: true });
      state.requeuePlan = { kind, matched: result.matched };
      answer('dead-answer', `Dry run: ${result.matched} ${kind} event(s) would go back into processing.`);
      $('requeue-apply').disabled = result.matched === 0;
    } catch (error) {
      answer('dead-answer', `Requeue preview failed: ${describeError(error)}`, 'error');
    }
  }

  async function requeueApply() {
    const plan = state.requeuePlan;
    if (!plan) return;
    const ok = await confirmAction(
      'Requeue dead letters?',
      [`${plan.matched} ${plan.kind} event(s) go back into processing.`],
      'Requeue',
    );
    if (!ok) return;
    try {
      const result = await api('POST', '/api/diagnostics/dead-letters/requeue', { kind: plan.kind });
      answer('dead-answer', `Requeued ${result.requeued} of ${result.matched} matched event(s).`);
      state.deadCursors = [null];
      await loadDeadLetters();
      answer('dead-answer', `Requeued ${result.requeued} of ${result.matched} matched event(s).`);
    } catch (error) {
      answer('dead-answer', `Requeue failed: ${describeError(error)}`, 'error');
    } finally {
      state.requeuePlan = null;
      $('requeue-apply').disabled = true;
    }
  }

  // ---------------------------------------------------------------- bulk replay

  function bulkSelection() {
    const selection = {};
    const statuses = [...document.querySelectorAll('input[name="bulk-status"]:checked')].map((i) => i.value);
    if (statuses.length > 0) selection.status = statuses;
    const from = isoFromLocal($('bulk-from').value);
    const to = isoFromLocal($('bulk-to').value);
    if (from) selection.from = from;
    if (to) selection.to = to;
    return selection;
  }

  function renderChanges(changes) {
    const body = $('bulk-changes');
    body.replaceChildren();
    if (!changes || changes.length === 0) emptyRow(body, 3, 'No workflow would change');
    for (const c of changes || []) {
      const row = el('tr');
      row.append(cell(c.workflow_id, 'mono'), cell(badge(c.from_status)), cell(badge(c.to_status)));
      body.append(row);
    }
  }

  async function bulkPreview(event) {
    event.preventDefault();
    const selection = bulkSelection();
    try {
      const plan = await api('POST', '/api/orchestrations/replay', { selection, dry_run: true });
      state.bulkPlan = { selection, plan };
      answer(
        'bulk-answer',
        `Dry run: ${plan.workflows_matched} workflow(s) matched, ${plan.events_considered} event(s) considered, ` +
          `${plan.changes.length} would change.`,
      );
      renderChanges(plan.changes);
      $('bulk-apply').disabled = plan.workflows_matched === 0;
    } catch (error) {
      state.bulkPlan = null;
      $('bulk-apply').disabled = true;
      answer('bulk-answer', `Preview failed: ${describeError(error)}`, 'error');
    }
  }

  function renderBulkProgress(status) {
    const total = status.workflows_total || 0;
    const done = status.workflows_done || 0;
    const pct = total === 0 ? 100 : Math.round((done / total) * 100);
    $('bulk-progress-line').hidden = false;
    $('bulk-progress-fill').style.width = `${pct}%`;
    $('bulk-progress-fill').className =
      status.status === 'completed' ? 'progress-fill done' : 'progress-fill';
    $('bulk-progress').setAttribute('aria-valuenow', String(pct));
    const failed = status.workflows_failed ? ` · ${status.workflows_failed} failed` : '';
    $('bulk-progress-text').textContent = `${done} / ${total} · ${label(status.status)}${failed}`;
    $('bulk-progress-line').dataset.status = status.status;
    if (Array.isArray(status.changes)) renderChanges(status.changes);
  }

  async function bulkApply() {
    const plan = state.bulkPlan;
    if (!plan) return;
    const ok = await confirmAction(
      'Run the bulk replay?',
      [
        `${plan.plan.workflows_matched} workflow(s) are rebuilt from their stored events.`,
        `${plan.plan.changes.length} would change status, as previewed.`,
      ],
      'Replay',
    );
    if (!ok) return;
    $('bulk-apply').disabled = true;
    try {
      const started = await api('POST', '/api/orchestrations/replay', { selection: plan.selection });
      answer('bulk-answer', `Bulk replay ${started.replay_id} started.`);
      const statusUrl = started.status_url || `/api/orchestrations/replay/${started.replay_id}`;
      // The job's progress has no stream: it is read every few seconds while it runs, and no longer.
      const poll = async () => {
        try {
          const status = await api('GET', statusUrl);
          renderBulkProgress(status);
          if (status.status === 'running')
            state.bulkTimer = setTimeout(() => void poll(), BULK_PROGRESS_INTERVAL_MS);
          else
            answer(
              'bulk-answer',
              `Bulk replay ${started.replay_id} ${status.status}.`,
              status.status === 'failed' ? 'error' : 'ok',
            );
        } catch (error) {
          answer('bulk-answer', `Bulk replay progress: ${describeError(error)}`, 'error');
        }
      };
      await poll();
    } catch (error) {
      answer('bulk-answer', `Bulk replay refused: ${describeError(error)}`, 'error');
    } finally {
      state.bulkPlan = null;
    }
  }

  // ---------------------------------------------------------------- maintenance

  function renderMaintenance(m) {
    state.maintenance = m;
    facts($('maintenance'), [
      ['Mode', badge(m.mode)],
      ['Since', time(m.since)],
      ['Reason', m.reason],
      ['By', m.by],
    ]);
    const paused = m.mode === 'paused';
    $('maintenance').dataset.mode = m.mode;
    $('maintenance-toggle').textContent = paused ? 'Resume write operations…' : 'Pause write operations…';
    const banner = $('maintenance-banner');
    banner.hidden = !paused;
    banner.textContent = paused
      ? `Maintenance: write operations paused${m.reason ? ` (${m.reason})` : ''}`
      : '';
  }

  async function loadMaintenance() {
    try {
      renderMaintenance(await api('GET', '/api/maintenance'));
    } catch (error) {
      if (error.status !== 401)
        answer('maintenance-answer', `Maintenance mode: ${describeError(error)}`, 'error');
    }
  }

  async function toggleMaintenance(event) {
    event.preventDefault();
    const paused = state.maintenance && state.maintenance.mode === 'paused';
    const mode = paused ? 'normal' : 'paused';
    const reason = $('maintenance-reason').value.trim();
    const ok = await confirmAction(
      paused ? 'Resume write operations?' : 'Pause write operations?',
      paused
        ? ['Force sync, trigger, rerun, cancel and replay are accepted again; held events are processed.']
        : [
            'Force sync, trigger, rerun, cancel and replay answer 503 until resumed.',
            `Reason: ${reason || '(none)'}`,
          ],
      paused ? 'Resume' : 'Pause',
    );
    if (!ok) return;
    try {
      const result = await api('PUT', '/api/maintenance', reason ? { mode, reason } : { mode });
      renderMaintenance(result);
      answer('maintenance-answer', `Maintenance mode is now ${result.mode}.`);
      $('maintenance-reason').value = '';
    } catch (error) {
      answer('maintenance-answer', `Maintenance change refused: ${describeError(error)}`, 'error');
    }
  }

  // ---------------------------------------------------------------- views, key, start

  function showView() {
    const name = location.hash.replace('#', '');
    const view = VIEWS.includes(name) ? name : 'workflow';
    for (const section of document.querySelectorAll('.view')) section.hidden = section.dataset.view !== view;
    for (const link of document.querySelectorAll('.tabs a')) {
      if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (!state.started) return;
    if (view === 'diagnostics' && !state.diagLoaded) {
      state.diagLoaded = true;
      void loadDiagnostics();
    }
    // The banner follows system_health.maintenance (every health read); the view reads the mode itself.
    if (view === 'maintenance') void loadMaintenance();
    if (view === 'dead-letters' && !state.deadLoaded) {
      state.deadLoaded = true;
      void loadDeadLetters();
    }
  }

  function showKeyPanel(message) {
    $('key-panel').hidden = false;
    $('dashboard').hidden = true;
    $('forget-key').hidden = true;
    $('key-state').textContent = '';
    notice(message || '', Boolean(message));
    stopAll();
    $('key-input').focus();
  }

  function stopAll() {
    state.started = false;
    state.diagLoaded = false;
    state.deadLoaded = false;
    for (const stream of [state.currentStream, state.listStream]) if (stream) stream.close();
    state.currentStream = null;
    state.listStream = null;
    if (state.bulkTimer) clearTimeout(state.bulkTimer);
    updateLiveState();
  }

  async function startDashboard() {
    $('key-panel').hidden = true;
    $('dashboard').hidden = false;
    const open = state.operatorRoutes === 'open';
    $('dev-banner').hidden = !open;
    $('forget-key').hidden = open;
    $('key-state').textContent = open ? '' : 'Operator key set for this tab';
    state.started = true;
    showView();
    const items = await loadWorkflows();
    if (!state.started) return;
    followList();
    const currentId = sessionStorage.getItem(CURRENT_STORAGE) || (items[0] && items[0].sync_id);
    if (currentId) await selectWorkflow(currentId);
    else {
      renderCurrent(null);
      renderTimeline([]);
      refreshHealth(true);
    }
  }

  async function start() {
    for (const select of document.querySelectorAll('.agent-select'))
      for (const agent of AGENTS) select.append(el('option', agent));
    renderCurrent(null);

    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      $('key-input').value = '';
      notice('');
      void startDashboard();
    });
    $('forget-key').addEventListener('click', () => {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyPanel();
    });
    $('sync-form').addEventListener('submit', (event) => void forceSync(event));
    $('cancel-workflow').addEventListener('click', () => void cancelWorkflow());
    $('rerun-workflow').addEventListener('click', () => void rerunWorkflow());
    $('replay-preview').addEventListener('click', () => void previewReplay());
    $('replay-apply').addEventListener('click', () => void applyReplay());
    $('workflows-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      state.workflowsStatus = $('workflows-status').value;
      state.workflowsCursors = [null];
      void loadWorkflows();
      followList();
    });
    $('workflows-newest').addEventListener('click', () => {
      state.workflowsCursors = [null];
      void loadWorkflows();
    });
    $('workflows-older').addEventListener('click', () => {
      if (!state.workflowsNext) return;
      state.workflowsCursors.push(state.workflowsNext);
      void loadWorkflows();
    });
    $('health-refresh').addEventListener('click', () => refreshHealth(true));
    $('test-config').addEventListener('click', () => void testConfiguration());
    $('cleanup-form').addEventListener('submit', (event) => void cleanupCount(event));
    $('cleanup-apply').addEventListener('click', () => void cleanupApply());
    $('diag-form').addEventListener('submit', (event) => {
      event.preventDefault();
      state.diagQuery = diagnosticsFilters();
      state.diagCursors = [null];
      void loadDiagnostics();
    });
    $('diag-first').addEventListener('click', () => {
      state.diagCursors = [null];
      void loadDiagnostics();
    });
    $('diag-next').addEventListener('click', () => {
      if (!state.diagNext) return;
      state.diagCursors.push(state.diagNext);
      void loadDiagnostics();
    });
    $('diag-export').addEventListener('click', () => void exportDiagnostics());
    $('dead-form').addEventListener('submit', (event) => {
      event.preventDefault();
      state.deadCursors = [null];
      void loadDeadLetters();
    });
    $('dead-first').addEventListener('click', () => {
      state.deadCursors = [null];
      void loadDeadLetters();
    });
    $('dead-next').addEventListener('click', () => {
      if (!state.deadNext) return;
      state.deadCursors.push(state.deadNext);
      void loadDeadLetters();
    });
    $('requeue-preview').addEventListener('click', () => void requeuePreview());
    $('requeue-apply').addEventListener('click', () => void requeueApply());
    $('bulk-form').addEventListener('submit', (event) => void bulkPreview(event));
    $('bulk-apply').addEventListener('click', () => void bulkApply());
    $('maintenance-form').addEventListener('submit', (event) => void toggleMaintenance(event));
    window.addEventListener('hashchange', () => {
      showView();
      $('content').focus({ preventScroll: true });
    });

    try {
      const response = await fetch('/api/admin/session', { headers: { Accept: 'application/json' } });
      const session = response.ok ? await response.json() : null;
      state.operatorRoutes = session && session.operator_routes === 'open' ? 'open' : 'key_required';
    } catch {
      state.operatorRoutes = 'key_required';
    }
    document.body.dataset.operatorRoutes = state.operatorRoutes;
    if (state.operatorRoutes === 'open' || operatorKey()) void startDashboard();
    else showKeyPanel();
  }

  document.addEventListener('DOMContentLoaded', () => void start());
})();

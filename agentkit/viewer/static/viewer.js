// agentkit run viewer: the runs list, one run as a timeline (live while it runs), a batch
// as a table of its runs. Plain JavaScript, no build step, nothing fetched from elsewhere.
// Transcript text is untrusted: it only ever reaches the page as text nodes (textContent),
// never as HTML.
'use strict';

const FETCH_TIMEOUT_MS = 15000; // a request to the viewer that takes longer has failed
const LIST_REFRESH_MS = 4000; // how often the runs list is read again while it is shown
const LONG_CHARS = 400; // a tool result or argument longer than this is folded
const LONG_LINES = 6; // ... or one with more lines than this
const STATUS_CLASS = {
  answer: 'ok', running: 'live', killed: 'bad', error: 'bad', interrupted: 'warn',
};

// -- small helpers ---------------------------------------------------------------------

/** An element with attributes and children; strings become text nodes (never HTML). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace a node's children (null, undefined and false are left out). */
function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

function text(value) {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function plural(n, word) { return `${n.toLocaleString()} ${word}${n === 1 ? '' : 's'}`; }

function seconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function when(epoch) {
  if (!epoch) return '–';
  const d = new Date(epoch * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function clip(value, n) {
  const flat = String(value).replace(/\s+/g, ' ').trim();
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

function isLong(value) {
  return value.length > LONG_CHARS || value.split('\n').length > LONG_LINES;
}

function statusBadge(status) {
  return el('span', { class: `badge status ${STATUS_CLASS[status] || 'warn'}` }, status || '?');
}

/** A block of text, folded under a one-line summary when it is long. */
function textBlock(value, { label, cls = '', open = false } = {}) {
  const body = el('pre', { class: `text ${cls}` }, value);
  if (!isLong(value) && !label) return body;
  const lines = value.split('\n').length;
  const size = `${plural(lines, 'line')}, ${plural(value.length, 'character')}`;
  return el('details', { class: `fold ${cls}`, open },
    el('summary', {}, label ? el('span', { class: 'fold-label' }, label) : null,
      el('span', { class: 'preview' }, clip(value, 90)), el('span', { class: 'size' }, size)),
    body);
}

async function getJSON(url) {
  const control = new AbortController();
  const timer = setTimeout(() => control.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, { signal: control.signal, headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  } catch (err) {
    if (err.name === 'AbortError') throw new Error(`the viewer did not answer within ${FETCH_TIMEOUT_MS / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function problem(message) {
  return el('div', { class: 'problem' }, el('strong', {}, 'Could not load: '), message);
}

// -- the page: routes --------------------------------------------------------------------

const main = () => document.getElementById('main');
let leave = () => {}; // stops what the current view keeps running (a stream, a refresh)

function route() {
  leave();
  leave = () => {};
  const hash = location.hash.replace(/^#\/?/, '');
  const [view, ...rest] = hash.split('/');
  const arg = decodeURIComponent(rest.join('/'));
  if (view === 'run' && arg) showRun(arg);
  else if (view === 'batch' && arg) showBatch(arg);
  else showList();
}

// -- the runs list -----------------------------------------------------------------------

const listState = { status: '', search: '' };

function showList() {
  document.title = 'agentkit runs';
  const root = main();
  fill(root, el('p', { class: 'muted loading' }, 'Loading runs…'));
  let last = '';
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const data = await getJSON('/api/runs');
      const key = JSON.stringify(data);
      if (stopped || key === last) return;
      last = key;
      renderList(root, data);
    } catch (err) {
      if (!stopped) fill(root, problem(err.message));
    } finally {
      if (!stopped) timer = setTimeout(load, LIST_REFRESH_MS);
    }
  };
  leave = () => { stopped = true; clearTimeout(timer); };
  load();
}

function renderList(root, data) {
  document.getElementById('where').textContent = data.dir;
  const focused = document.activeElement && document.activeElement.id;
  const counts = {};
  for (const run of data.runs) counts[run.status] = (counts[run.status] || 0) + 1;
  const select = el('select', { id: 'status-filter', 'aria-label': 'Filter by status' },
    el('option', { value: '' }, `all statuses (${data.runs.length})`),
    Object.keys(counts).sort().map((s) => el('option', { value: s }, `${s} (${counts[s]})`)));
  select.value = counts[listState.status] ? listState.status : '';
  const search = el('input', {
    id: 'search', type: 'search', placeholder: 'Search task or id…', 'aria-label': 'Search runs',
    value: listState.search, autocomplete: 'off', spellcheck: 'false',
  });
  const body = el('tbody');
  const shown = el('span', { class: 'muted' });
  const refill = () => {
    listState.status = select.value;
    listState.search = search.value;
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const rows = data.runs.filter((run) => (!select.value || run.status === select.value) &&
      words.every((w) => run.task.toLowerCase().includes(w) || run.id.toLowerCase().includes(w)));
    fill(body, ...rows.map(runRow));
    shown.textContent = rows.length === data.runs.length ? plural(rows.length, 'run')
      : `${rows.length} of ${plural(data.runs.length, 'run')}`;
    if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 8, class: 'empty' }, 'No run matches.')));
  };
  select.addEventListener('change', refill);
  search.addEventListener('input', refill);
  refill();

  const parts = [];
  const unreadable = data.unreadable || [];
  if (unreadable.length) {
    parts.push(el('div', { class: 'problem', id: 'unreadable' },
      el('strong', {}, `${plural(unreadable.length, 'file')} left out: `),
      `not transcripts agentkit can read (the first line is not JSON: cut short, or not a transcript): ${unreadable.slice(0, 5).join(', ')}`,
      unreadable.length > 5 ? ` and ${unreadable.length - 5} more` : ''));
  }
  if (!data.runs.length) {
    parts.push(el('section', { class: 'card empty-state' },
      el('h2', {}, 'No runs yet'),
      el('p', {}, 'Transcripts appear here as runs write them, in ', el('code', {}, data.dir), '.'),
      el('p', {}, 'Start one: ', el('code', {}, 'agentkit run "your task"'))));
  } else {
    if (data.batches.length) parts.push(batchesCard(data.batches));
    parts.push(el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', {}, 'Runs'), shown,
        el('div', { class: 'tools' }, search, select)),
      el('table', { class: 'runs', id: 'runs' },
        el('thead', {}, el('tr', {}, ['Status', 'Run', 'Task', 'Steps', 'Tokens', 'Duration', 'Started', 'Batch']
          .map((h, i) => el('th', { class: i >= 3 && i <= 5 ? 'num' : null }, h)))),
        body)));
  }
  fill(root, ...parts);
  if (focused === 'search') { search.focus(); search.setSelectionRange(search.value.length, search.value.length); }
}

function runLink(id) { return `#/run/${encodeURIComponent(id)}`; }

function runRow(run) {
  const open = () => { location.hash = runLink(run.id); };
  return el('tr', { class: 'link', onclick: open, 'data-id': run.id },
    el('td', {}, statusBadge(run.status)),
    el('td', { class: 'mono' }, el('a', { href: runLink(run.id) }, run.id)),
    el('td', { class: 'task', title: run.task }, run.chat ? el('span', { class: 'badge' }, 'chat') : null,
      clip(run.task, 160) || el('span', { class: 'muted' }, '(no task)')),
    el('td', { class: 'num' }, run.steps),
    el('td', { class: 'num' }, run.tokens.toLocaleString()),
    el('td', { class: 'num' }, seconds(run.duration)),
    el('td', { class: 'nowrap muted' }, when(run.started)),
    el('td', {}, run.batch ? el('a', { href: batchLink(run.batch.results), class: 'muted', onclick: (e) => e.stopPropagation() },
      `${baseName(run.batch.results)} #${run.batch.task}`) : null));
}

function baseName(path) { return String(path).split(/[\\/]/).pop(); }
function batchLink(results) { return `#/batch/${encodeURIComponent(results)}`; }

function statusChips(counts) {
  return Object.entries(counts).sort().map(([s, n]) => el('span', { class: `badge status ${STATUS_CLASS[s] || 'warn'}` }, `${n} ${s}`));
}

function batchesCard(batches) {
  return el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h2', {}, 'Batches'), el('span', { class: 'muted' }, plural(batches.length, 'batch'))),
    el('table', { class: 'runs', id: 'batches' },
      el('thead', {}, el('tr', {}, ['Batch', 'Runs', 'Outcome', 'Steps', 'Tokens', 'Started']
        .map((h, i) => el('th', { class: i === 1 || i === 3 || i === 4 ? 'num' : null }, h)))),
      el('tbody', {}, batches.map((b) => el('tr', { class: 'link', onclick: () => { location.hash = batchLink(b.results); } },
        el('td', { title: b.results }, el('a', { href: batchLink(b.results) }, b.name)),
        el('td', { class: 'num' }, b.runs.length),
        el('td', {}, statusChips(b.counts)),
        el('td', { class: 'num' }, b.steps),
        el('td', { class: 'num' }, b.tokens.toLocaleString()),
        el('td', { class: 'nowrap muted' }, when(b.started)))))));
}

// -- one batch ---------------------------------------------------------------------------

async function showBatch(results) {
  const root = main();
  fill(root, el('p', { class: 'muted loading' }, 'Loading batch…'));
  let data;
  try {
    data = await getJSON('/api/runs');
  } catch (err) {
    fill(root, problem(err.message));
    return;
  }
  const batch = data.batches.find((b) => b.results === results);
  if (!batch) {
    fill(root, back(), problem(`no batch with the results file ${results} in ${data.dir}`));
    return;
  }
  document.title = `batch ${batch.name} · agentkit`;
  const table = el('table', { class: 'runs', id: 'batch-runs' },
    el('thead', {}, el('tr', {}, ['Task', 'Status', 'Run', 'Task text', 'Steps', 'Tokens', 'Duration', 'Started']
      .map((h, i) => el('th', { class: i >= 4 && i <= 6 ? 'num' : null }, h)))),
    el('tbody', {}, batch.runs.map((run) => el('tr', { class: 'link', onclick: () => { location.hash = runLink(run.id); } },
      el('td', { class: 'mono' }, run.batch.task),
      el('td', {}, statusBadge(run.status)),
      el('td', { class: 'mono' }, el('a', { href: runLink(run.id) }, run.id)),
      el('td', { class: 'task', title: run.task }, clip(run.task, 140)),
      el('td', { class: 'num' }, run.steps),
      el('td', { class: 'num' }, run.tokens.toLocaleString()),
      el('td', { class: 'num' }, seconds(run.duration)),
      el('td', { class: 'nowrap muted' }, when(run.started))))));
  fill(root, back(),
    el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', {}, `Batch ${batch.name}`), el('span', { class: 'muted' }, plural(batch.runs.length, 'run'))),
      el('p', { class: 'muted mono small' }, batch.results),
      el('div', { class: 'chips' }, statusChips(batch.counts),
        el('span', { class: 'badge' }, plural(batch.steps, 'step')), el('span', { class: 'badge' }, `${batch.tokens.toLocaleString()} tokens`)),
      table));
}

function back() { return el('a', { class: 'back', href: '#/' }, '← All runs'); }

// -- one run: the timeline ---------------------------------------------------------------

async function showRun(id) {
  const root = main();
  fill(root, el('p', { class: 'muted loading' }, 'Loading run…'));
  let data;
  try {
    data = await getJSON(`/api/runs/${encodeURIComponent(id)}`);
  } catch (err) {
    fill(root, back(), problem(err.message));
    return;
  }
  document.title = `run ${data.run.id} · agentkit`;
  const view = new RunView(data);
  fill(root, back(), view.node);
  for (const record of data.records) view.add(record);
  view.settle(data.live);
  if (data.live) {
    const source = new EventSource(`/api/runs/${encodeURIComponent(data.run.id)}/events?from=${data.offset}`);
    source.addEventListener('records', (event) => {
      const batch = JSON.parse(event.data);
      for (const record of batch.records) view.add(record);
      view.follow();
    });
    source.addEventListener('end', (event) => {
      source.close();
      view.finish(JSON.parse(event.data));
    });
    const clock = setInterval(() => view.tick(), 1000); // the running time, between records
    leave = () => { source.close(); clearInterval(clock); };
  }
}

class RunView {
  constructor(data) {
    this.run = data.run;
    this.live = data.live;
    this.start = data.run.started;
    this.steps = new Map(); // "turn:step" -> the step's card (the latest attempt)
    this.calls = new Map(); // call id -> its card
    this.open = null; // the step card between its step_started and step_finished
    this.turn = 0;
    this.durations = [];
    this.status = statusBadge(data.run.status);
    this.liveDot = el('span', { class: 'live-dot', title: 'updating live' }, 'live');
    this.stats = el('div', { class: 'chips' });
    this.strip = el('div', { class: 'strip', 'aria-label': 'Steps by duration' });
    this.timeline = el('ol', { class: 'timeline', id: 'timeline' });
    this.config = el('div');
    this.hint = el('p', { class: 'hint' });
    this.node = el('article', { class: 'run' },
      el('section', { class: 'card run-head' },
        el('div', { class: 'title-row' }, this.status, el('h1', { class: 'mono' }, `run ${data.run.id}`), this.liveDot),
        el('pre', { class: 'task-text' }, data.run.task || '(no task)'),
        this.stats, this.strip, this.config),
      this.timeline, this.hint);
    this.liveDot.hidden = !data.live;
    this.updateStats();
  }

  updateStats() {
    const r = this.run;
    const where = [r.backend, r.model, r.base_url].filter(Boolean).join(' · ');
    fill(this.stats,
      el('span', { class: 'badge' }, plural(r.steps, 'step')),
      el('span', { class: 'badge' }, `${r.tokens.toLocaleString()} tokens`),
      el('span', { class: 'badge' }, seconds(r.duration)),
      el('span', { class: 'badge muted' }, `started ${when(r.started)}`),
      where ? el('span', { class: 'badge muted' }, where) : null,
      r.batch ? el('a', { class: 'badge', href: batchLink(r.batch.results) }, `batch ${baseName(r.batch.results)} #${r.batch.task}`) : null);
  }

  /** Add one transcript record to the page; a record it cannot show is shown as it is. */
  add(record) {
    if (typeof record.time === 'number') {
      this.run.last = Math.max(this.run.last || 0, record.time);
      this.run.duration = this.run.last - this.start;
    }
    const kind = record.type;
    const handler = RECORDS[kind];
    try {
      if (handler) handler.call(this, record);
      else this.place(this.generic(record), record);
    } catch (err) {
      this.place(this.generic(record, err), record);
    }
  }

  /** An item goes into the open step (when it happened during one) or on the timeline. */
  place(node, record, { top = false } = {}) {
    if (!top && this.open && record.step === undefined) this.open.events.append(node);
    else if (!top && this.open && record.step === this.open.step) this.open.events.append(node);
    else this.timeline.append(el('li', { class: 'item' }, node));
  }

  generic(record, err) {
    return el('div', { class: 'event generic' },
      el('span', { class: 'icon' }, '◇'),
      el('span', { class: 'kind' }, String(record.type || 'record')),
      err ? el('span', { class: 'muted' }, ` (not shown: ${err.message})`) : null,
      textBlock(JSON.stringify(record, null, 2), { label: 'record' }));
  }

  note(icon, cls, ...parts) {
    return el('div', { class: `event ${cls}` }, el('span', { class: 'icon' }, icon), el('div', { class: 'event-body' }, ...parts));
  }

  stepCard(record) {
    if (typeof record.step !== 'number') {
      if (this.open) return this.open;
      throw new Error('it names no step');
    }
    const key = `${this.turn}:${record.step}`;
    let card = this.steps.get(key);
    if (!card) card = this.newStep(record.step, null);
    return card;
  }

  newStep(step, decision) {
    const key = `${this.turn}:${step}`;
    const card = {
      step, key,
      mode: el('span', { class: 'badge' }),
      reason: el('span', { class: 'reason' }),
      timing: el('span', { class: 'timing' }, el('span', { class: 'spinner' }), 'running'),
      bar: el('span', { class: 'bar-fill' }),
      thinking: el('div', { class: 'thinking-slot' }),
      text: el('div', { class: 'text-slot' }),
      calls: el('div', { class: 'calls' }),
      events: el('div', { class: 'events' }),
      raw: el('div'),
      offset: el('span', { class: 'offset' }),
      duration: null,
    };
    const id = `step-${this.turn}-${step}`;
    card.node = el('section', { class: 'step running', id },
      el('header', { class: 'step-head' },
        el('span', { class: 'step-no' }, `Step ${step ?? '?'}`), card.mode, card.reason,
        el('span', { class: 'spacer' }), card.timing, card.offset),
      el('div', { class: 'step-bar' }, card.bar),
      card.events, card.thinking, card.text, card.calls, card.raw);
    this.timeline.append(el('li', { class: 'item step-item' }, card.node));
    this.steps.set(key, card);
    return card;
  }

  callCard(step, call, kind) {
    const id = String(call.id || `call-${this.calls.size}`);
    let card = this.calls.get(id);
    if (card) return card;
    const invalid = kind === 'invalid';
    const args = invalid ? (call.raw || '') : JSON.stringify(call.arguments ?? {}, null, 2);
    const compact = invalid ? '' : JSON.stringify(call.arguments ?? {});
    card = { result: el('div', { class: 'result pending' }, el('span', { class: 'spinner' }), 'running…'), done: false };
    card.node = el('div', { class: `call${invalid ? ' invalid' : ''}`, 'data-call': id },
      el('div', { class: 'call-head' },
        el('span', { class: 'arrow' }, '→'),
        el('span', { class: 'tool' }, invalid ? (call.name || 'unreadable call') : (call.name || '?')),
        invalid ? el('span', { class: 'badge bad' }, 'unreadable') : null,
        !invalid && compact.length <= 100 && !compact.includes('\\n') ? el('code', { class: 'args' }, compact) : null),
      invalid ? el('p', { class: 'error-text' }, call.error || '') : null,
      invalid || compact.length > 100 || compact.includes('\\n') ? textBlock(args, { label: invalid ? 'raw' : 'arguments', cls: 'args-block' }) : null,
      card.result);
    step.calls.append(card.node);
    this.calls.set(id, card);
    return card;
  }

  finishCall(card, record) {
    const result = record.result || {};
    const content = text(result.full_content ?? result.content ?? '');
    const error = Boolean(result.is_error);
    const cut = result.full_content !== null && result.full_content !== undefined;
    card.done = true;
    card.node.classList.toggle('failed', error);
    card.result.className = `result${error ? ' error' : ''}`;
    fill(card.result,
      el('div', { class: 'result-head' },
        el('span', { class: 'arrow' }, error ? '✗' : '←'),
        el('span', {}, error ? 'error' : 'result'),
        el('span', { class: 'muted' }, seconds(record.duration)),
        cut ? el('span', { class: 'badge warn', title: 'The model saw a shortened result' }, 'cut for the model') : null),
      content ? textBlock(content, { cls: error ? 'error-text' : '' }) : el('span', { class: 'muted' }, '(empty)'));
  }

  /** Called once the run is known to be over or still written (`live`). */
  settle(live) {
    this.live = live;
    this.liveDot.hidden = !live;
    if (live) return;
    for (const card of this.calls.values()) {
      if (!card.done) {
        card.result.className = 'result error';
        fill(card.result, el('span', { class: 'arrow' }, '✗'), 'never finished (the run stopped while it ran)');
      }
    }
    for (const card of this.steps.values()) {
      if (card.duration === null) {
        card.node.classList.remove('running');
        card.node.classList.add('unfinished');
        fill(card.timing, 'unfinished');
      }
    }
    const r = this.run;
    if (r.chat) fill(this.hint, 'Go on with: ', el('code', {}, `agentkit chat --resume ${r.id}`));
    else if (r.status !== 'answer' && r.status !== 'running') fill(this.hint, 'Go on with: ', el('code', {}, `agentkit runs resume ${r.id}`));
  }

  tick() {
    if (!this.live) return;
    this.run.duration = Math.max(this.run.duration || 0, Date.now() / 1000 - this.start);
    this.updateStats();
  }

  finish(row) {
    this.run = row;
    this.status.replaceWith(this.status = statusBadge(row.status));
    this.updateStats();
    this.settle(false);
  }

  follow() {
    this.updateStats();
    const nearEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
    if (nearEnd) window.scrollTo(0, document.body.scrollHeight);
  }

  redrawBars() {
    const longest = Math.max(...this.durations.map((d) => d.seconds), 0.001);
    for (const d of this.durations) d.card.bar.style.width = `${Math.max(1, (100 * d.seconds) / longest)}%`;
    fill(this.strip, ...this.durations.map((d) => el('a', {
      class: `strip-step ${d.think ? 'think' : ''}`, href: `#${d.card.node.id}`, title: `step ${d.card.step}: ${seconds(d.seconds)}`,
      onclick: (e) => { e.preventDefault(); d.card.node.scrollIntoView({ behavior: 'smooth', block: 'start' }); },
    })));
    for (const [i, child] of [...this.strip.children].entries()) child.style.flexGrow = String(Math.max(this.durations[i].seconds, longest / 50));
  }
}

function usageText(usage) {
  if (!usage) return '';
  const cached = usage.cached_tokens ? ` (${usage.cached_tokens.toLocaleString()} cached)` : '';
  const guess = usage.estimated ? ' ~' : '';
  return `${guess}${(usage.prompt_tokens || 0).toLocaleString()} + ${(usage.completion_tokens || 0).toLocaleString()} tokens${cached}`;
}

const ASK_OUTCOME = { accept: 'accepted', decline: 'declined', cancel: 'cancelled' };

// One handler per kind of record; `this` is the RunView. Kinds not here show as they are.
const RECORDS = {
  run(r) {
    const config = r.config || {};
    const system = (r.messages || []).filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    fill(this.config,
      system ? textBlock(system, { label: 'system prompt' }) : null,
      textBlock(JSON.stringify(config, null, 2), { label: 'configuration' }));
    const user = (r.messages || []).filter((m) => m.role === 'user').pop();
    if (user && text(user.content) !== r.task) this.place(el('div', { class: 'user' }, el('span', { class: 'who' }, 'user'), textBlock(text(user.content))), r, { top: true });
  },
  run_started(r) {
    const parts = [r.resumed ? `run resumed at step ${r.first_step}` : 'run started'];
    if (r.workspace) parts.push(`workspace ${r.workspace}`);
    if (r.sandbox) parts.push(`sandbox: ${r.sandbox}`);
    this.place(this.note('▶', 'muted', parts.join(' · ')), r, { top: true });
  },
  run_resumed(r) {
    this.open = null;
    this.place(el('div', { class: 'divider' }, `resumed by process ${r.pid ?? '?'} on ${r.host ?? '?'} · ${when(r.time)}`), r, { top: true });
  },
  user_turn(r) {
    this.open = null;
    this.turn += 1;
    const message = r.message || {};
    this.place(el('div', { class: 'user' }, el('span', { class: 'who' }, 'user'), textBlock(text(message.content))), r, { top: true });
  },
  thinking_set(r) {
    this.place(this.note('◐', 'muted', `thinking set to ${r.thinking}`), r, { top: true });
  },
  step_started(r) {
    const d = r.decision || {};
    const card = this.newStep(r.step, d);
    card.mode.textContent = d.think ? (d.budget ? `thinking · budget ${d.budget}` : 'thinking') : 'no thinking';
    card.mode.className = `badge ${d.think ? 'think' : ''}`;
    card.reason.textContent = d.reason || '';
    card.think = Boolean(d.think);
    if (typeof r.time === 'number') card.offset.textContent = `+${seconds(Math.max(0, r.time - this.start))}`;
    this.open = card;
  },
  turn_finished(r) {
    const card = this.stepCard(r);
    const message = r.message || {};
    const reasoning = text(message.reasoning).trim();
    if (reasoning) {
      fill(card.thinking, el('details', { class: 'fold thinking' },
        el('summary', {}, el('span', { class: 'fold-label' }, 'thinking'), el('span', { class: 'preview' }, clip(reasoning, 90)),
          el('span', { class: 'size' }, plural(reasoning.length, 'character'))),
        el('pre', { class: 'text' }, reasoning)));
    }
    const content = text(message.content);
    fill(card.text, content ? el('pre', { class: 'text said' }, content) : '');
    for (const call of r.calls || []) this.callCard(card, call, call.kind);
    if (message.raw) fill(card.raw, textBlock(text(message.raw), { label: 'raw output', cls: 'raw' }));
    card.usage = r.usage;
    card.finish = r.finish_reason;
  },
  tool_call_started(r) {
    const card = this.stepCard(r);
    const call = this.callCard(card, r.call || {}, 'call');
    if (r.reused && r.reused !== (r.call || {}).id) call.node.append(el('p', { class: 'muted small' }, `answered by the outcome of call ${r.reused}`));
  },
  tool_approval(r) {
    const call = this.callCard(this.stepCard(r), { id: r.call_id, name: r.tool }, 'call');
    const by = r.decided_by === 'approver' ? `by the approver after ${seconds(r.waited)}` : 'by policy';
    call.node.insertBefore(el('div', { class: `approval ${r.allowed ? 'ok' : 'bad'}` },
      el('span', { class: 'icon' }, '⚖'),
      el('span', {}, `approval (${r.policy}): `),
      el('span', { class: `badge ${r.allowed ? 'ok' : 'bad'}` }, r.allowed ? 'allowed' : 'refused'),
      el('span', { class: 'muted' }, ` ${by}`)), call.result);
  },
  tool_call_finished(r) {
    const card = this.stepCard(r);
    const call = r.call || {};
    this.finishCall(this.callCard(card, call, call.kind), r);
  },
  step_finished(r) {
    const card = this.stepCard(r);
    card.duration = r.duration || 0;
    card.node.classList.remove('running');
    fill(card.timing,
      el('span', { class: 'took' }, seconds(card.duration)),
      el('span', {}, usageText(r.usage)),
      r.finish_reason ? el('span', { class: 'muted' }, r.finish_reason) : null);
    this.durations.push({ card, seconds: card.duration, think: card.think });
    this.redrawBars();
    if (typeof r.steps_done === 'number') this.run.steps = Math.max(this.run.steps, r.steps_done);
    if (typeof r.tokens === 'number') this.run.tokens = Math.max(this.run.tokens, r.tokens);
    if (this.open === card) this.open = null;
  },
  model_retry(r) {
    const how = r.restart ? 'starting the step again' : r.kept ? `going on from ${plural(r.kept, 'character')} kept` : 'sending again';
    this.place(this.note('↻', 'retry', `model request retried (attempt ${r.attempt}, ${how} after ${seconds(r.wait)}): `,
      el('span', {}, r.reason || '')), r);
  },
  compacted(r) {
    const before = (r.tokens_before || 0).toLocaleString();
    const after = (r.tokens_after || 0).toLocaleString();
    const what = [r.results ? plural(r.results, 'tool result') : null, r.thoughts ? plural(r.thoughts, 'thought') : null].filter(Boolean).join(', ');
    this.place(this.note('⇣', 'compact', `context compacted: ${before} → ${after} tokens`,
      what ? el('span', { class: 'muted' }, ` (${what} shortened)`) : null), r);
  },
  output_rejected(r) {
    this.place(this.note('⚠', 'warn', 'answer rejected: ', r.error || '', textBlock(text(r.reply), { label: 'sent back' })), r);
  },
  server_status(r) {
    const tools = (r.tools || []).join(', ');
    const body = r.ok
      ? [`MCP server ${r.name} ready in ${seconds(r.seconds)}`, tools ? el('span', { class: 'muted' }, ` · tools: ${tools}`) : null]
      : [`MCP server ${r.name} failed to start`, textBlock(text(r.error), { cls: 'error-text', label: 'error' })];
    this.place(this.note('⬢', r.ok ? 'server' : 'server bad', ...body, el('div', { class: 'muted small mono' }, r.target || '')), r);
  },
  mcp_log(r) {
    const who = [r.server, r.logger].filter(Boolean).join(' / ');
    const level = String(r.level || 'info');
    const cls = ['error', 'critical', 'alert', 'emergency'].includes(level) ? 'bad' : level === 'warning' ? 'warn' : '';
    this.place(this.note('✉', 'log', el('span', { class: `badge ${cls}` }, level), ` ${who}: `, textBlock(text(r.data))), r);
  },
  mcp_sampling(r) {
    const verdict = el('span', { class: `badge ${r.approved ? 'ok' : 'bad'}` }, r.approved ? 'approved' : 'refused');
    const after = r.error ? ` · not answered: ${r.error}` : ` · ${usageText(r.usage)}${r.stop_reason ? ` · ${r.stop_reason}` : ''}`;
    this.place(this.note('◆', 'ask', `MCP server ${r.server} asked the model: `, r.request || '', ' ', verdict,
      el('span', { class: 'muted' }, after), r.answer ? textBlock(text(r.answer), { label: 'answer' }) : null), r);
  },
  mcp_elicitation(r) {
    let outcome = ASK_OUTCOME[r.action] || r.action || '?';
    if (r.mode === 'url' && r.url) outcome += ` (${r.url})`;
    const cls = r.action === 'accept' ? 'ok' : 'warn';
    this.place(this.note('◆', 'ask', `MCP server ${r.server} asked: `, r.message || '', ' ', el('span', { class: `badge ${cls}` }, outcome),
      r.action === 'accept' && r.content ? textBlock(JSON.stringify(r.content, null, 2), { label: 'answer' }) : null,
      r.error ? el('span', { class: 'muted' }, ` · ${r.error}`) : null), r);
  },
  run_finished(r) {
    this.open = null;
    const reason = r.stop_reason || 'answer';
    const ok = reason === 'answer';
    const usage = r.usage || {};
    this.place(el('div', { class: `final ${ok ? 'ok' : 'warn'}` },
      el('div', { class: 'final-head' }, el('span', { class: 'icon' }, ok ? '✓' : '■'), ok ? 'Answer' : `Stopped: ${reason}`,
        el('span', { class: 'spacer' }), el('span', { class: 'muted' }, `after ${plural(r.steps || 0, 'step')} · ${usageText(usage)}`)),
      r.output !== null && r.output !== undefined && r.output !== '' ? el('pre', { class: 'text said' }, text(r.output)) : null,
      r.error ? el('pre', { class: 'text error-text' }, r.error) : null), r, { top: true });
  },
  run_failed(r) {
    this.open = null;
    this.place(el('div', { class: 'final bad' },
      el('div', { class: 'final-head' }, el('span', { class: 'icon' }, '✗'), `Failed${r.kind ? ` (${r.kind})` : ''}`),
      el('pre', { class: 'text error-text' }, text(r.error))), r, { top: true });
  },
  run_interrupted(r) {
    this.open = null;
    this.place(el('div', { class: 'final warn' },
      el('div', { class: 'final-head' }, el('span', { class: 'icon' }, '■'), `Interrupted${r.reason ? ` (${r.reason})` : ''}`)), r, { top: true });
  },
};

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  // The token is in the cookie now: keep it out of the address bar, the history and screenshots.
  if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', `/${location.hash}`);
  route();
});

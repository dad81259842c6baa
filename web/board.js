// tend board: draws the board and item pages from the JSON API and redraws them when the
// server says something changed on disk. Text from items goes in as text (textContent); the
// only HTML inserted is the server's sanitized rendering of Markdown.
const token = document.querySelector('meta[name="tend-token"]').content;
const main = document.getElementById('main');
const itemMatch = /^\/item\/([^/]+)$/.exec(location.pathname);
const itemId = itemMatch ? decodeURIComponent(itemMatch[1]) : undefined;
let doneOffset = 0;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

function say(text, kind = 'info') {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function age(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

async function api(path, body) {
  const init = body
    ? {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Tend-Token': token },
        body: JSON.stringify(body),
      }
    : {};
  const res = await fetch(path, init);
  const json = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw Object.assign(new Error(json.fix ? `${json.error} (${json.fix})` : json.error), json);
  return json;
}

async function act(id, version, action) {
  try {
    const { message } = await api(`/api/items/${encodeURIComponent(id)}/actions`, { version, ...action });
    say(message, 'ok');
    await refresh();
    return true;
  } catch (err) {
    say(err.conflict ? `Conflict: ${err.message}` : err.message, err.conflict ? 'conflict' : 'error');
    return false;
  }
}

function priorityField(item) {
  const select = h(
    'select',
    {
      'aria-label': 'priority',
      class: 'priority',
      onchange: () => {
        void act(item.id, item.version, { kind: 'edit', priority: Number(select.value) });
      },
    },
    [1, 2, 3, 4, 5].map((p) => h('option', { value: p, selected: p === item.priority }, `p${p}`)),
  );
  return select;
}

function rejectButton(item) {
  return h(
    'button',
    {
      class: 'reject',
      onclick: () => {
        const reason = prompt(`Reject ${item.id}: what must change?`);
        if (reason && reason.trim()) void act(item.id, item.version, { kind: 'reject', reason });
      },
    },
    'Reject',
  );
}

function actions(item) {
  const out = [];
  if (item.waiting_for_you) {
    out.push(
      h('button', { class: 'approve', onclick: () => act(item.id, item.version, { kind: 'approve' }) }, 'Approve'),
    );
    out.push(rejectButton(item));
  }
  if (item.location === 'blocked' || item.status === 'failed')
    out.push(h('button', { class: 'retry', onclick: () => act(item.id, item.version, { kind: 'retry' }) }, 'Retry'));
  return out;
}

function card(item) {
  const status =
    item.location === 'done'
      ? 'done'
      : item.location === 'blocked'
        ? 'blocked'
        : item.interrupted
          ? 'interrupted'
          : item.status;
  return h(
    'article',
    { class: `card ${status}`, 'data-id': item.id },
    h('a', { href: `/item/${encodeURIComponent(item.id)}`, class: 'title' }, item.title),
    h(
      'div',
      { class: 'meta' },
      item.location === 'done' ? h('span', {}, `p${item.priority}`) : priorityField(item),
      h('span', { class: `status ${status}` }, status),
      item.waiting_for_you ? h('span', { class: 'you' }, 'waiting for you') : null,
      h('span', {}, `att ${item.attempts}`),
      h('span', {}, age(item.age_seconds)),
      h('span', {}, `$${item.cost_usd.toFixed(2)}`),
    ),
    item.labels.length
      ? h(
          'div',
          { class: 'labels' },
          item.labels.map((l) => h('span', { class: 'label' }, l)),
        )
      : null,
    item.blocked_reason ? h('div', { class: 'reason' }, item.blocked_reason) : null,
    item.running
      ? h(
          'div',
          { class: 'running' },
          h(
            'div',
            {},
            `${item.running.agent ?? 'agent'} · ${item.running.attempt} · ${age(item.running.elapsed_seconds)}`,
          ),
          h('pre', {}, item.running.lines.join('\n')),
        )
      : null,
    h('div', { class: 'actions' }, actions(item)),
  );
}

function doneFooter(data) {
  const { count, offset, page } = data.done;
  const shown = data.columns.find((c) => c.location === 'done')?.items.length ?? 0;
  return h(
    'div',
    { class: 'pager' },
    h('span', {}, count ? `${offset + 1}–${offset + shown} of ${count}` : 'none'),
    offset > 0
      ? h(
          'button',
          {
            onclick: () => {
              doneOffset = Math.max(0, offset - page);
              void refresh();
            },
          },
          'newer',
        )
      : null,
    offset + shown < count
      ? h(
          'button',
          {
            onclick: () => {
              doneOffset = offset + page;
              void refresh();
            },
          },
          'older',
        )
      : null,
  );
}

function column(col, data) {
  return h(
    'section',
    { class: col.count ? 'column' : 'column empty', 'data-location': col.location },
    h('h2', {}, col.location, h('span', { class: 'count' }, ` ${col.count}`)),
    col.items.map(card),
    col.location === 'done' ? doneFooter(data) : null,
  );
}

function addForm(pipelines) {
  const form = h(
    'form',
    { class: 'add', id: 'add-form' },
    h('input', { name: 'title', placeholder: 'Title of a new item', required: true, 'aria-label': 'title' }),
    h('textarea', { name: 'body', placeholder: 'Text (Markdown)', rows: 2, 'aria-label': 'text' }),
    h(
      'select',
      { name: 'priority', 'aria-label': 'priority' },
      [1, 2, 3, 4, 5].map((p) => h('option', { value: p, selected: p === 3 }, `p${p}`)),
    ),
    h('input', { name: 'labels', placeholder: 'labels, comma separated', 'aria-label': 'labels' }),
    h(
      'select',
      { name: 'pipeline', 'aria-label': 'pipeline' },
      h('option', { value: '' }, 'pipeline: triage chooses'),
      pipelines.map((p) => h('option', { value: p }, p)),
    ),
    h('button', { type: 'submit' }, 'Add'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = new FormData(form);
    const labels = String(f.get('labels'))
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean);
    try {
      const { message } = await api('/api/items', {
        title: f.get('title'),
        body: f.get('body'),
        priority: Number(f.get('priority')),
        labels,
        pipeline: f.get('pipeline'),
      });
      form.reset();
      say(message, 'ok');
      await refresh();
    } catch (err) {
      say(err.message, 'error');
    }
  });
  return form;
}

function invalidList(invalid) {
  if (invalid.length === 0) return null;
  return h(
    'section',
    { class: 'invalid' },
    h('h2', {}, `invalid (${invalid.length}) — not touched by tend until fixed`),
    invalid.map((i) =>
      h(
        'div',
        { class: 'entry' },
        h('code', {}, i.path),
        h(
          'ul',
          {},
          i.problems.map((p) =>
            h('li', {}, `${p.line ? `line ${p.line}: ` : ''}${p.message}${p.fix ? ` — ${p.fix}` : ''}`),
          ),
        ),
      ),
    ),
  );
}

let addFormEl;
async function drawBoard() {
  const data = await api(`/api/board?doneOffset=${doneOffset}`);
  addFormEl ??= addForm(data.pipelines);
  const run = data.run
    ? h('p', { class: 'dim' }, `tend run is working here (pid ${data.run.pid}, since ${data.run.started})`)
    : null;
  const errors = data.config.errors.map((p) => h('p', { class: 'error' }, `config error: ${p.file}: ${p.message}`));
  const board = h(
    'div',
    { class: 'board' },
    data.columns.map((c) => column(c, data)),
  );
  main.replaceChildren(addFormEl, run ?? '', ...errors, invalidList(data.invalid) ?? '', board);
}

function section(title, ...children) {
  return h('section', { class: 'block' }, h('h2', {}, title), ...children);
}

function rendered(html) {
  // Sanitized by the server (rehype-sanitize); the page's CSP forbids inline script as well.
  const div = h('div', { class: 'markdown' });
  div.innerHTML = html;
  return div;
}

let editor;
function editForm(item) {
  const text = h('textarea', { name: 'body', rows: 12, 'aria-label': 'item text' });
  text.value = item.body;
  const priority = h(
    'select',
    { name: 'priority', 'aria-label': 'priority' },
    [1, 2, 3, 4, 5].map((p) => h('option', { value: p, selected: p === item.priority }, `p${p}`)),
  );
  const form = h(
    'form',
    { class: 'edit' },
    h('label', {}, 'Priority ', priority),
    text,
    h('button', { type: 'submit' }, 'Save'),
  );
  const state = { form, text, version: item.version, dirty: false, id: item.id };
  text.addEventListener('input', () => {
    state.dirty = true;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // The version this form was loaded with: an item changed since is refused, the text kept here.
    const ok = await act(item.id, state.version, { kind: 'edit', priority: Number(priority.value), body: text.value });
    if (ok) editor = undefined;
  });
  return state;
}

function historyTable(history) {
  return h(
    'table',
    { class: 'history' },
    h(
      'tr',
      {},
      ['date', 'commit', 'what', 'agent', 'duration', 'cost'].map((t) => h('th', {}, t)),
    ),
    history.map((e) =>
      h(
        'tr',
        {},
        h('td', {}, e.date),
        h('td', {}, h('code', {}, e.commit.slice(0, 8))),
        h('td', {}, e.subject),
        h('td', {}, e.trailers['Tend-Agent'] ?? ''),
        h('td', {}, e.trailers['Tend-Duration'] ?? ''),
        h('td', {}, e.trailers['Tend-Cost-USD'] ? `$${e.trailers['Tend-Cost-USD']}` : ''),
      ),
    ),
  );
}

async function drawItem() {
  const data = await api(`/api/items/${encodeURIComponent(itemId)}`);
  const item = data.item;
  const parts = [];
  if (item) {
    if (!editor || editor.id !== item.id || !editor.dirty) editor = editForm(item);
    else if (editor.version !== item.version)
      say('This item changed on disk while you were editing; saving will be refused.', 'conflict');
    parts.push(
      h('h1', {}, item.title),
      h(
        'p',
        { class: 'meta' },
        `${item.id} · ${item.location} · ${item.status} · p${item.priority}` +
          ` · attempts ${item.attempts} · $${item.cost_usd.toFixed(2)}`,
      ),
      h('div', { class: 'actions' }, actions({ ...item, waiting_for_you: item.status === 'waiting' })),
      section('Text', rendered(item.html)),
    );
    for (const a of data.artifacts)
      parts.push(section(a.name, rendered(a.html), a.cut ? h('p', { class: 'dim' }, '(cut at 1 MiB)') : null));
    const costs = Object.entries(data.cost_per_phase);
    parts.push(
      section(
        'Cost per phase',
        costs.length
          ? h(
              'table',
              {},
              costs.map(([p, c]) => h('tr', {}, h('td', {}, p), h('td', {}, `$${c.toFixed(2)}`))),
            )
          : h('p', { class: 'dim' }, 'nothing spent yet'),
      ),
    );
    parts.push(section('Edit', editor.form));
  }
  if (data.invalid)
    parts.push(
      section(
        `invalid: ${data.invalid.path}`,
        h(
          'ul',
          {},
          data.invalid.problems.map((p) => h('li', {}, p.message)),
        ),
      ),
    );
  parts.push(
    section('History', data.history.length ? historyTable(data.history) : h('p', { class: 'dim' }, 'no commits yet')),
  );
  if (data.diff)
    parts.push(
      section(
        `Diff ${data.diff.base}...${data.diff.branch}`,
        h('pre', { class: 'diff' }, data.diff.text || '(no changes)'),
      ),
    );
  main.replaceChildren(...parts);
}

let drawing = Promise.resolve();
function refresh() {
  drawing = drawing.then(() => (itemId ? drawItem() : drawBoard())).catch((err) => say(err.message, 'error'));
  return drawing;
}

function listen() {
  const live = document.getElementById('live');
  const events = new EventSource('/api/events');
  events.addEventListener('hello', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  events.addEventListener('change', () => void refresh());
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
}

// Agents' output is not watched (it would wake every page at every line): a running item's
// lines are fetched again every few seconds while the board shows one.
setInterval(() => {
  if (!itemId && document.querySelector('.card.running')) void refresh();
}, 3000);
listen();
void refresh();

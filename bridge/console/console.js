// The operator console. Design: one page, a panel per tab, each loaded when shown; every call goes through
// `api()`, which sends the session's CSRF token on POSTs and sends the person back to the login page when the
// session has ended. Everything a sender wrote is put in the page with textContent, never as HTML: messages in
// review are written by strangers, some of them attackers.

const $ = (id) => document.getElementById(id);
let me = null;

async function api(path, body) {
  const init = { credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.headers['x-csrf-token'] = me ? me.csrf : '';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.assign('/admin/login');
    throw new Error('logged out');
  }
  if (!response.ok) {
    throw new Error((await response.text()).trim() || `the bridge answered ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function say(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

const when = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const usd = (v) => `$${v.toFixed(2)}`;
const ofCap = (spent, cap) => (cap == null ? `${usd(spent)} (no cap)` : `${usd(spent)} of ${usd(cap)}`);

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  row.append(td);
  return td;
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

const panels = {
  async overview() {
    const o = await api('/admin/api/overview');
    const n = o.this_node;
    $('ov-queue').textContent = `${o.queue.pending} pending, oldest ${Math.round(o.queue.oldest_age_secs)} s`;
    $('ov-review').textContent = `${o.queue.review}`;
    $('ov-spend').textContent =
      `today ${ofCap(o.spend.today_usd, o.spend.day_cap_usd)}; month ${ofCap(o.spend.month_usd, o.spend.month_cap_usd)}`;
    const secs = (v) => (v == null ? 'no replies yet' : `≤ ${v} s`);
    $('ov-latency').textContent = `p50 ${secs(n.reply_latency_p50_secs)}, p95 ${secs(n.reply_latency_p95_secs)}`;
    const mix = Object.entries(n.verdicts).map(([k, v]) => `${k} ${v}`);
    $('ov-verdicts').textContent = mix.length ? mix.join(', ') : 'none yet';
    $('ov-escalation').textContent =
      n.escalation_rate == null ? 'nothing analysed yet' : `${(n.escalation_rate * 100).toFixed(1)} % of verdicts`;
    const failures = Object.entries(n.delivery_failures).map(([code, v]) => `${code}: ${v}`);
    $('ov-failures').textContent = failures.length ? failures.join(', ') : 'none';
    $('ov-paused').textContent = n.sending_paused.length
      ? `paused for ${n.sending_paused.join(', ')}: the provider refused the credentials`
      : 'working';
    const max = Math.max(1, ...o.received_per_hour.map(([, c]) => c));
    $('ov-hours').replaceChildren(
      ...o.received_per_hour.map(([hour, count]) => {
        const li = document.createElement('li');
        li.title = `${when(hour)} UTC: ${count}`;
        const bar = document.createElement('span');
        bar.style.height = `${(count / max) * 100}%`;
        li.append(bar);
        return li;
      }),
    );
  },

  async review() {
    const rows = await api(`/admin/api/review?state=${$('review-state').value}`);
    $('review-empty').hidden = rows.length > 0;
    $('review-rows').replaceChildren(
      ...rows.map((j) => {
        const tr = document.createElement('tr');
        tr.dataset.id = j.id;
        const pick = document.createElement('input');
        pick.type = 'checkbox';
        pick.value = j.id;
        pick.setAttribute('aria-label', `select message ${j.id}`);
        cell(tr, '').append(pick);
        cell(tr, `${j.id}`);
        cell(tr, j.channel);
        cell(tr, when(j.received_at_ms));
        cell(tr, `${j.attempts}`);
        cell(tr, j.reason);
        if (me.role === 'operator') cell(tr, '').append(button('Read', () => read(j.id)));
        return tr;
      }),
    );
  },

  async users() {},

  async keys() {
    const keys = await api('/admin/api/keys');
    $('key-rows').replaceChildren(
      ...keys.map((k) => {
        const tr = document.createElement('tr');
        cell(tr, k.name);
        cell(tr, k.active ? 'active' : `revoked ${when(k.revoked_at_ms)}`);
        cell(tr, when(k.created_at_ms));
        const last = cell(tr, '');
        if (k.active && me.role === 'operator') {
          last.append(button('Revoke', () => act(() => api('/admin/api/keys/revoke', { name: k.name }), `Revoked ${k.name}.`, 'keys')));
        }
        return tr;
      }),
    );
  },

  async devices() {
    const devices = await api('/admin/api/devices');
    $('device-rows').replaceChildren(
      ...devices.map((d) => {
        const tr = document.createElement('tr');
        cell(tr, d.name);
        cell(tr, d.active ? 'active' : 'revoked');
        cell(tr, when(d.created_at_ms));
        cell(tr, d.last_seen_ms == null ? 'never' : when(d.last_seen_ms));
        const last = cell(tr, '');
        if (d.active && me.role === 'operator') {
          const revoke = () => api('/admin/api/devices/revoke', { name: d.name });
          last.append(button('Revoke', () => act(revoke, `Revoked ${d.name}.`, 'devices')));
        }
        return tr;
      }),
    );
  },

  async audit() {
    const entries = await api('/admin/api/audit?limit=500');
    $('audit-rows').replaceChildren(
      ...entries.map((e) => {
        const tr = document.createElement('tr');
        [when(e.at), e.actor, e.action, e.target, e.detail].forEach((t) => cell(tr, t));
        return tr;
      }),
    );
  },
};

async function show(name) {
  document.querySelectorAll('[role=tab]').forEach((t) => t.setAttribute('aria-selected', `${t.dataset.panel === name}`));
  document.querySelectorAll('[role=tabpanel]').forEach((p) => (p.hidden = p.id !== name));
  try {
    await panels[name]();
  } catch (e) {
    say(e.message, true);
  }
}

/// Run an action, say how it went, and reload `panel`.
async function act(run, done, panel) {
  try {
    const result = await run();
    say(typeof done === 'function' ? done(result) : done);
  } catch (e) {
    say(e.message, true);
  }
  if (panel) await panels[panel]().catch((e) => say(e.message, true));
}

async function read(id) {
  const m = await api(`/admin/api/jobs/${id}`);
  const box = $('review-message');
  const heading = document.createElement('h2');
  heading.textContent = `Message ${m.id} (${m.channel}, ${m.state}), reply to ${m.reply_to ?? 'nobody'}`;
  const text = document.createElement('pre');
  text.textContent = m.text;
  const why = document.createElement('p');
  why.textContent = `Why: ${m.reason ?? 'not recorded'}. Went through: ${m.events.join(' → ')}.`;
  box.replaceChildren(heading, why, text);
  if (m.reply) {
    const reply = document.createElement('pre');
    reply.textContent = `Reply (${m.sent_parts} of ${m.reply.length} parts sent):\n${m.reply.join('\n')}`;
    box.append(reply);
  }
  box.hidden = false;
  box.dataset.id = m.id;
  $('review-reply').hidden = !['review', 'failed'].includes(m.state);
}

function selected() {
  return [...document.querySelectorAll('#review-rows input:checked')].map((i) => Number(i.value));
}

function settle(action) {
  const ids = selected();
  if (!ids.length) return say('Select messages first.', true);
  const note = $('review-note').value.trim() || null;
  act(
    () => api('/admin/api/jobs/settle', { action, ids, note }),
    (r) => `${action === 'requeue' ? 'Requeued' : 'Resolved'} ${r.moved.length}` +
      (r.skipped.length ? `; not in review any more: ${r.skipped.join(', ')}` : '.'),
    'review',
  );
}

function exported(list) {
  const text = JSON.stringify(list, null, 2);
  $('user-result').textContent = text;
  const link = $('user-download');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  link.hidden = false;
  return `Exported ${list.length} address(es); recorded in the audit log.`;
}

async function start() {
  try {
    me = await api('/admin/api/me');
  } catch {
    return;
  }
  $('who').textContent = `${me.admin} (${me.role})`;
  document.body.dataset.role = me.role;
  if (me.role !== 'operator') document.querySelectorAll('[data-needs=operator]').forEach((e) => (e.hidden = true));
  document.querySelectorAll('[role=tab]').forEach((t) => t.addEventListener('click', () => show(t.dataset.panel)));
  $('logout').addEventListener('click', async () => {
    await api('/admin/api/logout', {}).catch(() => {});
    location.assign('/admin/login');
  });
  $('review-refresh').addEventListener('click', () => show('review'));
  $('review-state').addEventListener('change', () => show('review'));
  $('review-requeue').addEventListener('click', () => settle('requeue'));
  $('review-resolve').addEventListener('click', () => settle('resolve'));
  $('reply-send').addEventListener('click', () => {
    const id = Number($('review-message').dataset.id);
    act(
      () => api('/admin/api/jobs/reply', { id, text: $('reply-text').value }),
      (r) => {
        $('reply-text').value = '';
        $('review-reply').hidden = true;
        return `Reply to ${r.id} queued (${r.parts} part(s)).`;
      },
      'review',
    );
  });
  $('user-export').addEventListener('click', () =>
    act(() => api('/admin/api/users/export', { address: $('user-address').value }), exported));
  $('user-erase').addEventListener('click', () => {
    $('user-confirm-text').textContent = `Erase everything kept about ${$('user-address').value}? This cannot be undone.`;
    $('user-confirm').hidden = false;
  });
  $('user-erase-cancel').addEventListener('click', () => ($('user-confirm').hidden = true));
  $('user-erase-confirm').addEventListener('click', () => {
    $('user-confirm').hidden = true;
    act(
      () => api('/admin/api/users/erase', { address: $('user-address').value }),
      (r) => r.map((e) => `${e.address}: erased ${e.records} records`).join('; '),
    );
  });
  $('key-create').addEventListener('click', () =>
    act(
      () => api('/admin/api/keys/create', { name: $('key-name').value }),
      (r) => {
        $('key-created').textContent = `Key ${r.name}: ${r.key} (shown only this once; store it now)`;
        $('key-created').hidden = false;
        return `Created ${r.name}.`;
      },
      'keys',
    ));
  $('device-pair').addEventListener('click', () =>
    act(
      () => api('/admin/api/devices/pair', { name: $('device-name').value }),
      (r) => {
        $('device-paired').textContent =
          `Device ${r.device}: token ${r.token} (shown only this once). On the desktop: redflag sync pair ` +
          `${location.origin} ${r.token}; the hub's key fingerprint to compare: ${r.fingerprint}`;
        $('device-paired').hidden = false;
        return `Paired ${r.device}.`;
      },
      'devices',
    ));
  $('audit-refresh').addEventListener('click', () => show('audit'));
  $('audit-download').addEventListener('click', async () => {
    const entries = await api('/admin/api/audit?limit=10000');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([JSON.stringify(entries, null, 2)], { type: 'application/json' }));
    a.download = 'redflag-audit.json';
    a.click();
  });
  show('overview');
}

start();

// Beckon agent console: canned replies — saved answers an agent inserts by typing "/" and a
// shortcut in a chat's composer — and the Replies page where agents keep their own and admins
// keep the team's shared ones.
//
// Why it is its own file: one concept, beside the chats (console.js) and the other screens
// (pages.js). It shares console.js's helpers through window.BeckonConsole and gives console.js
// `canned.attach(input)` for each composer. Replies are text: inserted into the composer as
// text, to be edited or sent as the agent likes; nothing is ever built as markup.
(function () {
  'use strict';

  const B = window.BeckonConsole;
  const { h, clear, api, toast, labelledField } = B;
  const $ = (id) => document.getElementById(id);
  let me = null;
  let replies = []; // [{id, shortcut, text, shared, editable}], by shortcut
  let uid = 0;

  async function load() {
    try {
      replies = (await api('GET', '/v1/agent/canned-replies')).canned_replies || [];
    } catch (e) {
      replies = [];
      toast(`Could not load the canned replies: ${e.message}`, 'error');
    }
    renderPage();
  }

  B.hooks.start.push((agent) => { me = agent; load(); });
  B.hooks.stop.push(() => { me = null; replies = []; editing = null; renderPage(); });
  B.hooks.frame.push((f) => { if (f.type === 'welcome' && f.agent) me = Object.assign({}, me, f.agent); });

  // The replies for "/query": shortcuts that start with it first, then those whose shortcut or
  // text contains it; at most eight.
  function matching(query) {
    const q = query.toLowerCase();
    const first = replies.filter((r) => r.shortcut.startsWith(q));
    const then = replies.filter((r) => !r.shortcut.startsWith(q) && (r.shortcut.includes(q) || r.text.toLowerCase().includes(q)));
    return first.concat(then).slice(0, 8);
  }

  // ---------------------------------------------------------------------------------------------
  // The "/" suggestions of one composer: a listbox above it (the textarea is its combobox),
  // arrows to move, Enter or Tab to insert, Escape to close, a click to insert.

  function attach(input) {
    const listId = `canned-${++uid}`;
    const list = h('ul', { id: listId, class: 'canned-list', role: 'listbox', 'aria-label': 'Canned replies', hidden: true });
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', listId);
    input.setAttribute('aria-expanded', 'false');
    let items = [];
    let active = 0;

    function close() {
      if (list.hidden) return;
      list.hidden = true;
      items = [];
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
    }
    function draw() {
      clear(list);
      items.forEach((r, i) => {
        const li = h('li', { id: `${listId}-${i}`, class: 'canned-option', role: 'option', 'aria-selected': String(i === active) },
          h('span', { class: 'canned-shortcut' }, `/${r.shortcut}`),
          r.shared ? h('span', { class: 'tag tag--small' }, 'Shared') : null,
          h('span', { class: 'canned-preview' }, r.text.length > 90 ? `${r.text.slice(0, 90)}…` : r.text));
        // mousedown, not click: the textarea keeps focus (no blur closing the list first).
        li.addEventListener('mousedown', (ev) => { ev.preventDefault(); choose(i); });
        list.append(li);
      });
      input.setAttribute('aria-activedescendant', `${listId}-${active}`);
    }
    function update() {
      const m = /^\/(\S*)$/.exec(input.value);
      items = m ? matching(m[1]) : [];
      if (!items.length) { close(); return; }
      active = Math.min(active, items.length - 1);
      list.hidden = false;
      input.setAttribute('aria-expanded', 'true');
      draw();
    }
    function choose(i) {
      const r = items[i];
      close();
      if (!r) return;
      input.value = r.text;
      input.setSelectionRange(r.text.length, r.text.length);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.focus();
    }
    input.addEventListener('input', () => { active = 0; update(); });
    input.addEventListener('blur', close);
    // Registered before the composer's own keys (Enter sends): while the list is open, these
    // keys are the list's.
    input.addEventListener('keydown', (ev) => {
      if (list.hidden || ev.isComposing) return;
      let handled = true;
      if (ev.key === 'ArrowDown') { active = (active + 1) % items.length; draw(); }
      else if (ev.key === 'ArrowUp') { active = (active - 1 + items.length) % items.length; draw(); }
      else if (ev.key === 'Enter' || ev.key === 'Tab') choose(active);
      else if (ev.key === 'Escape') close();
      else handled = false;
      if (handled) { ev.preventDefault(); ev.stopImmediatePropagation(); }
    });
    return list;
  }

  // ---------------------------------------------------------------------------------------------
  // The Replies page.

  let editing = null; // the reply being edited in the form, or null (a new one)

  function renderPage() {
    const view = $('view-replies');
    if (!view) return;
    if (!view.firstChild) build(view);
    const list = $('replies-list');
    clear(list);
    for (const r of replies) {
      const edit = r.editable ? h('button', { type: 'button', class: 'btn btn--secondary btn--small' }, 'Edit') : null;
      const del = r.editable ? h('button', { type: 'button', class: 'btn btn--danger-outline btn--small' }, 'Delete') : null;
      if (edit) edit.addEventListener('click', () => startEdit(r));
      if (del) del.addEventListener('click', () => removeReply(r, del));
      const title = h('h3', { class: 'admin-item-title' }, `/${r.shortcut}`);
      if (edit) edit.setAttribute('aria-label', `Edit /${r.shortcut}`);
      if (del) del.setAttribute('aria-label', `Delete /${r.shortcut}`);
      list.append(h('li', { class: 'admin-item', 'data-reply-id': r.id },
        h('div', { class: 'admin-item-head' }, title,
          h('span', { class: `tag tag--small ${r.shared ? '' : 'tag--plain'}` }, r.shared ? 'Shared' : 'Personal'),
          h('span', { class: 'admin-item-spacer' }), edit, del),
        h('p', { class: 'canned-text' }, r.text)));
    }
    $('replies-empty').hidden = replies.length !== 0;
    const shared = $('reply-shared-field');
    if (shared) shared.hidden = !me || me.role !== 'admin' || !!editing;
  }

  function build(view) {
    const shortcut = h('input', { type: 'text', maxlength: '33', autocomplete: 'off', spellcheck: 'false' });
    const text = h('textarea', { rows: 4, maxlength: '4000' });
    const shared = h('input', { type: 'checkbox' });
    const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Save reply');
    const cancel = h('button', { type: 'button', class: 'btn btn--secondary', hidden: true }, 'Cancel');
    const form = h('form', { id: 'reply-form', class: 'inline-form reply-form', novalidate: true, 'aria-labelledby': 'reply-form-title' },
      h('h2', { id: 'reply-form-title', class: 'admin-item-title' }, 'New reply'),
      labelledField({}, 'Shortcut', shortcut, 'Letters, digits, - or _. Type / and the shortcut in a chat to insert the reply.'),
      labelledField({}, 'Reply', text),
      h('p', { id: 'reply-shared-field' }, h('label', { class: 'check' }, shared, 'Shared with the whole team')),
      h('div', { class: 'form-actions' }, submit, cancel));
    view.append(h('div', { class: 'view-inner' },
      h('header', { class: 'view-head' },
        h('h1', { id: 'replies-heading' }, 'Canned replies'),
        h('p', { class: 'view-sub' }, 'Saved answers: type / in a chat to insert one.')),
      form,
      h('ul', { id: 'replies-list', class: 'admin-list' }),
      h('p', { id: 'replies-empty', class: 'empty-state' }, 'No canned replies yet.')));

    const fieldError = (input, msg) => {
      const err = $(`${input.id}-error`);
      err.textContent = msg || '';
      err.hidden = !msg;
      input.setAttribute('aria-invalid', String(!!msg));
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const s = shortcut.value.trim().replace(/^\//, '');
      fieldError(shortcut, /^[A-Za-z0-9_-]{1,32}$/.test(s) ? '' : 'Use 1–32 letters, digits, - or _ (no spaces).');
      fieldError(text, text.value.trim() ? '' : 'Write the reply.');
      const bad = form.querySelector('[aria-invalid="true"]');
      if (bad) { bad.focus(); return; }
      submit.disabled = true;
      try {
        if (editing) {
          await api('PUT', `/v1/agent/canned-replies/${editing.id}`, { shortcut: s, text: text.value });
          toast(`Saved /${s.toLowerCase()}.`);
        } else {
          await api('POST', '/v1/agent/canned-replies', { shortcut: s, text: text.value, shared: shared.checked });
          toast(`Saved /${s.toLowerCase()}. Type it in a chat to insert the reply.`);
        }
        reset();
        await load();
      } catch (e) {
        // The server names the field: "shortcut: …", "text: …", or a taken shortcut.
        if (/^text:/.test(e.message)) fieldError(text, e.message.replace(/^text: /, 'Reply: '));
        else fieldError(shortcut, /taken/.test(e.message) ? 'You already have a reply with this shortcut.' : e.message.replace(/^shortcut: /, ''));
        form.querySelector('[aria-invalid="true"]')?.focus();
      } finally {
        submit.disabled = false;
      }
    });
    cancel.addEventListener('click', reset);
    function reset() {
      editing = null;
      form.reset();
      fieldError(shortcut, '');
      fieldError(text, '');
      $('reply-form-title').textContent = 'New reply';
      submit.textContent = 'Save reply';
      cancel.hidden = true;
      renderPage();
    }
    startEdit = (r) => {
      editing = r;
      shortcut.value = r.shortcut;
      text.value = r.text;
      $('reply-form-title').textContent = `Edit /${r.shortcut}`;
      submit.textContent = 'Save changes';
      cancel.hidden = false;
      renderPage();
      shortcut.focus();
    };
  }
  /** @type {(reply: any) => void} */
  let startEdit = () => {};

  async function removeReply(r, button) {
    if (!window.confirm(`Delete the reply /${r.shortcut}?`)) return;
    button.disabled = true;
    try {
      await api('DELETE', `/v1/agent/canned-replies/${r.id}`);
      toast(`Deleted /${r.shortcut}.`);
      await load();
    } catch (e) {
      button.disabled = false;
      toast(`Could not delete: ${e.message}`, 'error');
    }
  }

  B.canned = { attach };
})();

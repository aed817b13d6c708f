// Beckon agent console: files in chats — the paperclip beside each composer (or a pasted or
// dropped file) sends one, and a message that carries a file shows it: images as a preview,
// anything else as a download with its name and size.
//
// Why it is its own file: one concept, used by console.js for every chat (`files.attach(rec,
// input)` returns the button to place, `files.body(m)` the inside of a file's bubble) and by the
// history's transcripts. Files are uploaded over HTTP (docs/protocol.md); the message each one
// becomes arrives on the socket like any other. The server checks every file by its content, so
// the picker's `accept` list is only a convenience.
(function () {
  'use strict';

  const B = window.BeckonConsole;
  const { h } = B;
  const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,.txt,.csv,.log,.pdf,'
    + '.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp';
  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

  // A paperclip (Feather icons, MIT), drawn rather than an emoji a system may lack.
  function clipIcon() {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    const attrs = { viewBox: '0 0 24 24', width: '18', height: '18', fill: 'none', stroke: 'currentColor', 'stroke-width': '2',
      'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false', class: 'clip-icon' };
    for (const [k, v] of Object.entries(attrs)) svg.setAttribute(k, v);
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', 'M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48');
    svg.append(path);
    return svg;
  }

  function size(n) {
    if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
    if (n >= 1024) return `${Math.ceil(n / 1024)} KB`;
    return `${n} bytes`;
  }

  function newId() {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return 'f-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // The inside of a file's bubble: a preview (images) or a download link, both to the server's
  // copy, which it serves only to agents who may read the conversation.
  function body(m) {
    const a = m.attachment;
    const url = `/v1/agent/attachments/${encodeURIComponent(a.id)}`;
    const label = `${a.name} (${size(a.size)})`;
    if (IMAGE_TYPES.includes(a.content_type)) {
      return h('a', { class: 'file file--image', href: url, target: '_blank', rel: 'noopener', title: label },
        h('img', { src: url, alt: a.name, loading: 'lazy' }),
        h('span', { class: 'file-name' }, label));
    }
    return h('a', { class: 'file', href: url, download: a.name }, clipIcon(), h('span', { class: 'file-name' }, label));
  }

  // Sends `file` in `rec`'s chat; a line in the log says it is on its way, and what went wrong
  // if the server refused it (the server's own words: too large, not a kind of file it takes).
  async function send(rec, file) {
    const log = rec.view && rec.view.log;
    const line = h('div', { class: 'msg msg--agent msg--pending', 'data-pending': 'true' },
      h('p', { class: 'bubble' }, clipIcon(), ` ${file.name} (${size(file.size)})`),
      h('p', { class: 'msg-meta' }, 'Sending…'));
    if (log) { log.append(line); log.scrollTop = log.scrollHeight; }
    const q = new URLSearchParams({ name: file.name, client_msg_id: newId() });
    try {
      const res = await fetch(`/v1/agent/conversations/${rec.id}/attachments?${q}`, {
        method: 'POST', credentials: 'same-origin', body: file,
      });
      if (!res.ok) {
        let message = `The server answered ${res.status}.`;
        try { message = (await res.json()).error.message; } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      line.remove();
    } catch (e) {
      line.className = 'msg msg--agent msg--failed';
      line.removeAttribute('data-pending');
      const dismiss = h('button', { type: 'button', class: 'btn btn--ghost btn--small' }, 'Dismiss');
      dismiss.addEventListener('click', () => line.remove());
      line.lastChild.replaceWith(h('p', { class: 'msg-meta', role: 'alert' },
        `Not sent: ${e.message || 'the server could not be reached'} `, dismiss));
    }
  }

  // The paperclip for one chat's composer, and pasting or dropping a file into the composer.
  function attach(rec, input) {
    const picker = h('input', { type: 'file', accept: ACCEPT, multiple: true, hidden: true, class: 'file-picker' });
    const button = h('button', { type: 'button', class: 'btn btn--ghost btn--icon file-toggle', title: 'Attach a file' },
      clipIcon(), h('span', { class: 'sr-only' }, 'Attach a file'));
    button.addEventListener('click', () => picker.click());
    const sendAll = (files) => { for (const f of Array.from(files || [])) send(rec, f); };
    picker.addEventListener('change', () => { sendAll(picker.files); picker.value = ''; input.focus(); });
    input.addEventListener('paste', (ev) => {
      const files = ev.clipboardData && ev.clipboardData.files;
      if (files && files.length) { ev.preventDefault(); sendAll(files); }
    });
    input.addEventListener('dragover', (ev) => { if (ev.dataTransfer && ev.dataTransfer.types.includes('Files')) ev.preventDefault(); });
    input.addEventListener('drop', (ev) => {
      if (ev.dataTransfer && ev.dataTransfer.files.length) { ev.preventDefault(); sendAll(ev.dataTransfer.files); }
    });
    return h('span', { class: 'file-attach' }, picker, button);
  }

  B.files = { attach, body, size };
})();

// Beckon agent console: an emoji picker beside each chat's composer — the common faces, hands
// and symbols of support conversations, inserted at the caret as plain text.
//
// Why it is its own file: one concept, used by console.js for every composer
// (`emoji.attach(input)` returns the button to place). No emoji font or image is loaded: the
// characters are the agent's and visitor's system's own.
(function () {
  'use strict';

  const B = window.BeckonConsole;
  const { h } = B;
  const EMOJI = [
    ['😀', 'grinning face'], ['😊', 'smiling face'], ['🙂', 'slightly smiling face'], ['😉', 'winking face'],
    ['😄', 'big smile'], ['😅', 'sweat smile'], ['😂', 'tears of joy'], ['🤔', 'thinking face'],
    ['😮', 'surprised face'], ['😔', 'pensive face'], ['😢', 'crying face'], ['🙏', 'thank you'],
    ['👍', 'thumbs up'], ['👎', 'thumbs down'], ['👌', 'OK hand'], ['👋', 'waving hand'],
    ['👏', 'clapping hands'], ['🙌', 'raised hands'], ['💪', 'flexed biceps'], ['🤝', 'handshake'],
    ['❤️', 'red heart'], ['⭐', 'star'], ['🎉', 'party popper'], ['✨', 'sparkles'],
    ['✅', 'check mark'], ['❌', 'cross mark'], ['⚠️', 'warning'], ['❓', 'question mark'],
    ['📦', 'package'], ['🚚', 'delivery truck'], ['💳', 'credit card'], ['📧', 'email'],
    ['📞', 'telephone'], ['🕒', 'clock'], ['🔒', 'lock'], ['🔧', 'wrench'],
  ];
  let uid = 0;

  // The picker for one composer: a button that opens a grid of emoji; arrows move, Enter or a
  // click inserts at the caret (the grid stays open for another), Escape closes.
  function attach(input) {
    const gridId = `emoji-${++uid}`;
    const button = h('button', { type: 'button', class: 'btn btn--ghost btn--icon emoji-toggle', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': gridId, title: 'Emoji' },
      h('span', { 'aria-hidden': 'true' }, '🙂'), h('span', { class: 'sr-only' }, 'Emoji'));
    const grid = h('div', { id: gridId, class: 'emoji-grid', role: 'group', 'aria-label': 'Emoji', hidden: true });
    const cells = EMOJI.map(([ch, name]) => {
      const b = h('button', { type: 'button', class: 'emoji', 'aria-label': name, title: name, tabindex: '-1' }, ch);
      b.addEventListener('click', () => insert(ch));
      return b;
    });
    grid.append(...cells);
    let at = 0;

    function open(on) {
      grid.hidden = !on;
      button.setAttribute('aria-expanded', String(on));
      if (on) { cells.forEach((c, i) => { c.tabIndex = i === at ? 0 : -1; }); cells[at].focus(); }
    }
    function insert(ch) {
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? start;
      input.value = input.value.slice(0, start) + ch + input.value.slice(end);
      const caret = start + ch.length;
      input.setSelectionRange(caret, caret);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
    button.addEventListener('click', () => open(grid.hidden));
    grid.addEventListener('keydown', (ev) => {
      const cols = 6;
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
      if (ev.key in moves) {
        ev.preventDefault();
        at = Math.min(cells.length - 1, Math.max(0, at + moves[ev.key]));
        cells.forEach((c, i) => { c.tabIndex = i === at ? 0 : -1; });
        cells[at].focus();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        open(false);
        input.focus();
      }
    });
    grid.addEventListener('focusout', (ev) => {
      if (!grid.contains(ev.relatedTarget) && ev.relatedTarget !== button) open(false);
    });
    return h('span', { class: 'emoji-picker' }, button, grid);
  }

  B.emoji = { attach };
})();

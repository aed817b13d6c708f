/*
 * Beckon chat window - served as /widget/chat.js, loaded on demand by widget.js.
 *
 * Why this file exists: most visitors never chat, so the chat window and the pre-chat survey
 * are not part of the script every page loads. widget.js fetches this file the first time a
 * chat window is needed (the visitor opens the chat, accepts an invite, or a conversation is
 * restored after a reload) and this file registers itself on the loader's private global.
 *
 * It only draws: the conversation state, the socket, message deduplication, resending and the
 * lcw:* events all belong to widget.js, which calls back here when something changed. Every
 * piece of text that comes from the server, an agent, the visitor or the widget settings is
 * set with textContent, never as HTML.
 */
(function (window, document) {
  'use strict';
  var core = window.__beckonWidget;
  if (!core) return;

  var CSS =
    '.win{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 40px);' +
      'height:min(560px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;color:#1a1a1a;' +
      'border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.28);overflow:hidden;font-size:15px;line-height:1.4;' +
      'animation:bk-in .2s ease-out;pointer-events:auto}' +
    '.head{display:flex;align-items:center;gap:4px;padding:12px 8px 12px 16px;background:var(--bk-accent);color:#fff}' +
    '.head div{flex:1;min-width:0}' +
    '.head h2{margin:0;font-size:16px;font-weight:600}' +
    '.status{margin:2px 0 0;font-size:13px;opacity:.9;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}' +
    '.icon{width:36px;height:36px;border:0;border-radius:6px;background:none;color:#fff;font-size:20px}' +
    '.icon:focus-visible{outline-color:#fff}' +
    '.body{flex:1;overflow-y:auto;padding:12px 16px;overscroll-behavior:contain}' +
    '.greeting{margin:0 0 12px;color:#444}' +
    '.notice{margin:0 0 12px;color:#b3261e}' +
    '.log{display:flex;flex-direction:column;gap:8px}' +
    '.msg{max-width:85%;padding:8px 12px;border-radius:12px;background:#f0f2f5;align-self:flex-start;' +
      'white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.msg.visitor{align-self:flex-end;background:var(--bk-accent);color:#fff}' +
    '.msg.system{align-self:center;background:none;color:#555;font-size:13px;font-style:italic;text-align:center}' +
    '.msg .who{display:block;font-size:12px;font-weight:600;color:#555}' +
    '.msg .text{margin:0}' +
    '.msg.pending{opacity:.65}' +
    '.msg .meta{display:block;font-size:12px;text-align:right}' +
    '.msg.failed{background:#fdecea;color:#8a1c12}' +
    '.link{border:0;background:none;padding:0;color:inherit;text-decoration:underline}' +
    '.msg .text a{color:inherit;text-decoration:underline;overflow-wrap:anywhere}' +
    '.typing{min-height:20px;margin:0;padding:0 16px;font-size:13px;color:#555;font-style:italic}' +
    '.ended{padding:10px 16px;border-top:1px solid #e3e3e3;text-align:center}' +
    '.ended p{margin:0 0 8px}' +
    '.confirm{padding:12px 16px;border-top:1px solid #e3e3e3;background:#fafafa}' +
    '.confirm p{margin:0 0 4px;font-weight:600}' +
    '.confirm .sub{font-weight:400;font-size:13px;color:#555;margin-bottom:10px}' +
    '.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e3e3e3}' +
    '.clip{border:0;background:none;color:#555;padding:0 2px;cursor:pointer}' +
    '.file{display:inline-flex;flex-direction:column;align-items:flex-start;gap:4px;color:inherit;text-decoration:underline}' +
    '.file svg{width:15px;height:15px;vertical-align:-2px;margin-right:4px}' +
    '.file img{display:block;max-width:100%;max-height:200px;border-radius:8px;background:#fff}' +
    'textarea,input,select{font:inherit;color:inherit;border:1px solid #8a8a8a;border-radius:8px;padding:8px}' +
    '.composer textarea{flex:1;resize:none;height:42px;max-height:120px}' +
    'textarea:focus,input:focus,select:focus{outline:2px solid var(--bk-accent);outline-offset:1px}' +
    'button:disabled{opacity:.5;cursor:default}' +
    '.prechat .q{margin:0 0 14px;display:flex;flex-direction:column;gap:4px}' +
    '.prechat .q.consent{flex-direction:row;flex-wrap:wrap;align-items:flex-start;gap:8px}' +
    '.prechat .q.consent input{margin-top:4px}' +
    '.prechat .q.consent label{flex:1}' +
    '.prechat label{font-weight:600;font-size:14px}' +
    '.prechat .err{flex-basis:100%;margin:0;color:#b3261e;font-size:13px}' +
    '.prechat .err:empty{display:none}' +
    '.prechat [aria-invalid=true]{border-color:#b3261e}' +
    '.prechat .summary{color:#b3261e;margin:0 0 10px}' +
    '.prechat .summary:empty{display:none}' +
    '.prechat .intro{margin:0 0 14px;color:#444}' +
    '.info{margin:0 0 12px;padding:8px 12px;border-radius:8px;background:#eef3fc;color:#1a1a1a;font-size:14px}' +
    '.rather{margin:8px 0 0;text-align:center;font-size:13px}' +
    '.rate{margin:0 0 10px}' +
    '.mailform{margin:6px 0 0;justify-content:center}' +
    '.mailform input{flex:1;min-width:0}' +
    '.mailnote{margin:4px 0 0;font-size:13px}' +
    '.mailnote:empty{display:none}' +
    '.rate .q{margin:0 0 6px;font-weight:600}' +
    '.stars{display:flex;justify-content:center;gap:4px;margin:0 0 8px}' +
    '.star{border:0;background:none;font-size:26px;line-height:1;padding:2px 4px;color:#b0b0b0;cursor:pointer}' +
    '.rate textarea{width:100%;box-sizing:border-box;resize:vertical;margin:0 0 8px}' +
    '.rate .err{color:#b3261e;margin:0 0 6px;font-size:13px}' +
    '@media (max-width:480px){.win{right:0;bottom:0;width:100vw;max-width:none;height:100%;border-radius:0}' +
      '.launcher[aria-expanded=true]{display:none}}';

  core.register(function (core) {
    var state = core.state;
    var win = null, title, status, body, greeting, notice, prechat, log, typing, ended, composer, input, sendBtn;
    var leaveForm, leftInfo, rather; // leaving a message: the form, where the answer comes, the offer to
    var leaveFor = null; // the `leaving` object the form was built for
    var confirmEnd, keepBtn; // "End this chat?" and its Cancel button
    var endStars, endScore = 0; // an optional rating given while ending
    var opener = null; // what had focus when the visitor opened the window: it gets focus back
    var rendered = new WeakMap(); // message entry -> its element
    var picker, clip; // the file picker and its paperclip button
    var fileUrls = {}; // attachment id -> a blob: URL of its bytes (fetched once)
    var prechatFor = null; // the `starting` object the survey form was built for

    // The window's own words in the widget's language (widget.js picks it: core.lang).
    var WORDS = {
      en: {
        minimise: 'Minimise chat',
        closeChat: 'Close chat',
        beforeStart: 'Before we start',
        messages: 'Chat messages',
        leaveForm: 'Leave a message',
        rather: 'Rather not wait? Leave your email and we\u2019ll get back to you.',
        newChat: 'Start a new chat',
        ended: 'This chat has ended.',
        cancel: 'Cancel',
        endChat: 'End chat',
        endQ: 'End this chat?',
        endSub: 'The conversation closes for you and the agent.',
        typeHere: 'Type your message\u2026',
        typeLabel: 'Type your message',
        send: 'Send',
        answerQs: 'Please answer a few questions',
        leaveStatus: 'Leave us a message',
        sent: 'Message sent',
        notStarted: 'Chat not started',
        unreachable: 'Cannot reach the chat service, retrying\u2026',
        connecting: 'Connecting\u2026',
        chatEnded: 'Chat ended',
        reconnecting: 'Reconnecting\u2026',
        waiting: 'Waiting for an agent\u2026',
        chattingWith: 'Chatting with {0}',
        connected: 'Connected',
        alsoTo: 'Answers also go to {0}.',
        byEmail: 'Thanks! We\u2019ll answer you by email at {0}. You can close this window.',
        here: 'Thanks! We\u2019ll answer you here: come back to this page to read it.',
        isTyping: '{0} is typing\u2026',
        agent: 'Agent',
        sending: 'Sending\u2026',
        notSent: 'Not sent. ',
        retry: 'Retry',
        choose: 'Choose\u2026',
        startChat: 'Start chat',
        tick: 'Please tick this box to continue.',
        answerThis: 'Please answer this question.',
        pleaseAnswer: 'Please answer: {0}',
        waitingIntro: 'Leave your email: the first agent free will answer you there. Your messages so far are kept.',
        closedIntroMail: 'Nobody can chat right now. Leave us a message and we\u2019ll answer by email.',
        closedIntroHere: 'Nobody can chat right now. Leave us a message and we\u2019ll answer here: come back to this page to read it.',
        name: 'Name',
        email: 'Email',
        message: 'Message',
        sendEmail: 'Send my email',
        sendMessage: 'Send message',
        keepWaiting: 'Keep waiting',
        rateQ: 'How was this chat?',
        stars: '{0} out of 5',
        rateComment: 'Anything to add? (optional)',
        rateSend: 'Send rating',
        rateThanks: 'Thanks for your feedback!',
        download: 'Download the transcript',
        emailIt: 'Email me the transcript',
        emailSend: 'Send',
        emailSent: 'Sent to {0}.',
        transcriptOf: 'Chat of {0}',
        you: 'You',
        needEmail: 'Please enter your email: we answer there.',
        badEmail: 'This does not look like an email address.',
        needMessage: 'Please write your message.',
        pleaseCheck: 'Please check: {0}',
        attach: 'Attach a file',
        file_too_large: 'This file is too large to send.',
        unsupported_file_type: 'This kind of file cannot be sent: images, PDF, documents and text can.',
        too_many_files: 'No more files can be sent in this chat.',
        rate_limited: 'Too many files at once: try again in a moment.',
        empty_file: 'This file is empty.',
        fileFailed: 'The file could not be sent.',
        title: 'Chat'
      },
      fr: {
        minimise: 'R\u00e9duire la discussion',
        closeChat: 'Fermer la discussion',
        beforeStart: 'Avant de commencer',
        messages: 'Messages de la discussion',
        leaveForm: 'Laisser un message',
        rather: 'Vous pr\u00e9f\u00e9rez ne pas attendre ? Laissez votre e-mail, nous vous r\u00e9pondrons.',
        newChat: 'Nouvelle discussion',
        ended: 'Cette discussion est termin\u00e9e.',
        cancel: 'Annuler',
        endChat: 'Terminer',
        endQ: 'Terminer cette discussion ?',
        endSub: 'La conversation se ferme pour vous et pour le conseiller.',
        typeHere: 'Votre message\u2026',
        typeLabel: 'Votre message',
        send: 'Envoyer',
        answerQs: 'Quelques questions avant de commencer',
        leaveStatus: 'Laissez-nous un message',
        sent: 'Message envoy\u00e9',
        notStarted: 'Discussion non d\u00e9marr\u00e9e',
        unreachable: 'Service de discussion injoignable, nouvel essai\u2026',
        connecting: 'Connexion\u2026',
        chatEnded: 'Discussion termin\u00e9e',
        reconnecting: 'Reconnexion\u2026',
        waiting: 'En attente d\u2019un conseiller\u2026',
        chattingWith: 'En discussion avec {0}',
        connected: 'Connect\u00e9',
        alsoTo: 'Les r\u00e9ponses sont aussi envoy\u00e9es \u00e0 {0}.',
        byEmail: 'Merci ! Nous vous r\u00e9pondrons par e-mail \u00e0 {0}. Vous pouvez fermer cette fen\u00eatre.',
        here: 'Merci ! Nous vous r\u00e9pondrons ici : revenez sur cette page pour lire la r\u00e9ponse.',
        isTyping: '{0} \u00e9crit\u2026',
        agent: 'Conseiller',
        sending: 'Envoi\u2026',
        notSent: 'Non envoy\u00e9. ',
        retry: 'R\u00e9essayer',
        choose: 'Choisir\u2026',
        startChat: 'Commencer',
        tick: 'Cochez cette case pour continuer.',
        answerThis: 'Merci de r\u00e9pondre \u00e0 cette question.',
        pleaseAnswer: 'Merci de r\u00e9pondre : {0}',
        waitingIntro: 'Laissez votre e-mail : le premier conseiller disponible vous y r\u00e9pondra. Vos messages sont conserv\u00e9s.',
        closedIntroMail: 'Personne n\u2019est disponible pour le moment. Laissez-nous un message, nous vous r\u00e9pondrons par e-mail.',
        closedIntroHere: 'Personne n\u2019est disponible pour le moment. Laissez-nous un message, nous vous r\u00e9pondrons ici : revenez sur cette page pour le lire.',
        name: 'Nom',
        email: 'E-mail',
        message: 'Message',
        sendEmail: 'Envoyer mon e-mail',
        sendMessage: 'Envoyer le message',
        keepWaiting: 'Continuer d\u2019attendre',
        rateQ: 'Comment s\u2019est pass\u00e9e cette discussion ?',
        stars: '{0} sur 5',
        rateComment: 'Un commentaire ? (facultatif)',
        rateSend: 'Envoyer ma note',
        rateThanks: 'Merci pour votre avis !',
        download: 'T\u00e9l\u00e9charger la conversation',
        emailIt: 'Recevoir la conversation par e-mail',
        emailSend: 'Envoyer',
        emailSent: 'Envoy\u00e9e \u00e0 {0}.',
        transcriptOf: 'Discussion du {0}',
        you: 'Vous',
        needEmail: 'Indiquez votre e-mail : nous y r\u00e9pondrons.',
        badEmail: 'Cette adresse e-mail ne semble pas valide.',
        needMessage: '\u00c9crivez votre message.',
        pleaseCheck: 'Merci de v\u00e9rifier : {0}',
        attach: 'Joindre un fichier',
        file_too_large: 'Ce fichier est trop volumineux pour \u00eatre envoy\u00e9.',
        unsupported_file_type: 'Ce type de fichier ne peut pas \u00eatre envoy\u00e9 : images, PDF, documents et texte sont accept\u00e9s.',
        too_many_files: 'Plus aucun fichier ne peut \u00eatre envoy\u00e9 dans cette discussion.',
        rate_limited: 'Trop de fichiers \u00e0 la fois : r\u00e9essayez dans un instant.',
        empty_file: 'Ce fichier est vide.',
        fileFailed: 'Le fichier n\u2019a pas pu \u00eatre envoy\u00e9.',
        title: 'Discussion'
      }
    };
    function t(key) {
      var text = (WORDS[core.lang] || WORDS.en)[key];
      if (text == null) text = WORDS.en[key];
      for (var i = 1; i < arguments.length; i++) text = text.split('{' + (i - 1) + '}').join(String(arguments[i]));
      return text;
    }

    // The server's rule for an email address (beckon-domain email.rs): one @, a dotted domain
    // with no empty label, no spaces or header-breaking characters. Checked here first so the
    // visitor reads the problem at the field; the server checks again.
    function looksLikeEmail(v) {
      var at = v.lastIndexOf('@'), domain = v.slice(at + 1);
      return at > 0 && v.length <= 254 && !/[\s<>,;"\\]/.test(v) && v.indexOf('@') === at &&
        domain.indexOf('.') > 0 && domain.split('.').every(function (l) { return l && l[0] !== '-' && l[l.length - 1] !== '-'; });
    }

    function el(tag, attrs, text) {
      var e = document.createElement(tag);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text != null) e.textContent = text;
      return e;
    }
    // Message text with its web addresses as links: built as text nodes and <a> elements (never
    // HTML), http(s) only, opened in a new tab without giving it this page (rel=noopener).
    var URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
    function linkified(text) {
      var frag = document.createDocumentFragment(), last = 0, m;
      URL_RE.lastIndex = 0;
      while ((m = URL_RE.exec(text))) {
        var raw = m[0].replace(/[.,;:!?]+$/, '');
        if (/\)$/.test(raw) && raw.indexOf('(') < 0) raw = raw.slice(0, -1);
        var href = /^www\./i.test(raw) ? 'https://' + raw : raw, ok = false;
        try { ok = /^https?:$/.test(new URL(href).protocol); } catch (e) { ok = false; }
        if (!ok) continue;
        frag.appendChild(document.createTextNode(text.slice(last, m.index)));
        frag.appendChild(el('a', { href: href, target: '_blank', rel: 'noopener noreferrer nofollow ugc' }, raw));
        last = m.index + raw.length;
        URL_RE.lastIndex = last;
      }
      frag.appendChild(document.createTextNode(text.slice(last)));
      return frag;
    }
    function add(parent) {
      for (var i = 1; i < arguments.length; i++) parent.appendChild(arguments[i]);
      return parent;
    }

    function build() {
      if (win) return;
      var root = core.root;
      root.appendChild(el('style', {}, CSS));
      win = el('section', { 'class': 'win', role: 'dialog', 'aria-labelledby': 'bk-title', 'aria-modal': 'false', hidden: '' });
      title = el('h2', { id: 'bk-title' });
      status = el('p', { 'class': 'status' });
      var minimize = el('button', { 'class': 'icon', type: 'button', 'aria-label': t('minimise'), 'data-action': 'minimize' }, '\u2013');
      var close = el('button', { 'class': 'icon', type: 'button', 'aria-label': t('closeChat'), 'data-action': 'close' }, '\u00d7');
      minimize.addEventListener('click', core.minimize);
      close.addEventListener('click', askToEnd);
      add(win, add(el('header', { 'class': 'head' }), add(el('div'), title, status), minimize, close));

      body = el('div', { 'class': 'body' });
      greeting = el('p', { 'class': 'greeting' });
      notice = el('p', { 'class': 'notice', role: 'alert' }); // why a chat did not start
      prechat = el('form', { 'class': 'prechat', novalidate: '', 'aria-label': t('beforeStart'), hidden: '' });
      log = el('div', { 'class': 'log', role: 'log', 'aria-live': 'polite', 'aria-label': t('messages') });
      leaveForm = el('form', { 'class': 'prechat', novalidate: '', 'aria-label': t('leaveForm'), hidden: '' });
      leftInfo = el('p', { 'class': 'info', role: 'status', hidden: '' });
      rather = el('p', { 'class': 'rather', hidden: '' });
      var leaveLink = el('button', { 'class': 'link', type: 'button' }, t('rather'));
      leaveLink.addEventListener('click', core.offerLeaveMessage);
      rather.appendChild(leaveLink);
      add(win, add(body, greeting, notice, leftInfo, prechat, leaveForm, log, rather));

      typing = el('p', { 'class': 'typing', 'aria-live': 'polite' });
      ended = el('div', { 'class': 'ended', hidden: '' });
      var again = el('button', { 'class': 'link', type: 'button' }, t('newChat'));
      again.addEventListener('click', core.newChat);
      // The transcript already says who ended it ("Alex ended the chat."): this only says so.
      var download = el('button', { 'class': 'link', type: 'button' }, t('download'));
      download.addEventListener('click', downloadTranscript);
      emailLink = el('button', { 'class': 'link', type: 'button' }, t('emailIt'));
      emailLink.addEventListener('click', function () { emailForm.hidden = false; emailInput.focus(); });
      emailForm = el('form', { 'class': 'mailform row', novalidate: '', hidden: '' });
      emailInput = el('input', { type: 'email', maxlength: '254', autocomplete: 'email', 'aria-label': t('email') });
      emailSend = el('button', { 'class': 'btn primary', type: 'submit' }, t('emailSend'));
      emailNote = el('p', { role: 'status', 'class': 'mailnote' });
      add(emailForm, emailInput, emailSend);
      emailForm.addEventListener('submit', function (e) {
        e.preventDefault();
        var addr = emailInput.value.trim();
        if (!looksLikeEmail(addr)) { emailNote.textContent = t('badEmail'); emailInput.focus(); return; }
        core.emailTranscript(addr);
      });
      add(ended, buildRating(), el('p', { role: 'status' }, t('ended')),
        add(el('p', { 'class': 'links' }), again, document.createTextNode(' \u00b7 '), download, emailLink), emailForm, emailNote);

      confirmEnd = el('div', { 'class': 'confirm', role: 'alertdialog', 'aria-labelledby': 'bk-end-q', 'aria-describedby': 'bk-end-d', hidden: '' });
      keepBtn = el('button', { 'class': 'btn', type: 'button' }, t('cancel'));
      var endBtn = el('button', { 'class': 'btn primary', type: 'button' }, t('endChat'));
      // An answered chat may be rated on the way out (optional): the stars sit above the buttons.
      endStars = el('div', { 'class': 'stars', role: 'group', 'aria-label': t('rateQ') });
      for (var k = 1; k <= 5; k++) {
        (function (n) {
          var b = el('button', { 'class': 'star', type: 'button', 'aria-pressed': 'false', 'aria-label': t('stars', n) }, '\u2605');
          b.addEventListener('click', function () {
            endScore = endScore === n ? 0 : n;
            Array.prototype.forEach.call(endStars.children, function (s, i) {
              s.setAttribute('aria-pressed', String(i + 1 === endScore));
              s.style.color = i < endScore ? '#e3a008' : '';
            });
          });
          endStars.appendChild(b);
        })(k);
      }
      add(confirmEnd, el('p', { id: 'bk-end-q' }, t('endQ')),
        el('p', { 'class': 'sub', id: 'bk-end-d' }, t('endSub')), endStars,
        add(el('div', { 'class': 'row' }), keepBtn, endBtn));
      keepBtn.addEventListener('click', keepChatting);
      // Closing the window hides this too.
      endBtn.addEventListener('click', function () { var n = endScore; endScore = 0; core.endRated(n || null); });

      composer = el('form', { 'class': 'composer' });
      input = el('textarea', { id: 'bk-input', rows: '1', maxlength: '10000', placeholder: t('typeHere') });
      sendBtn = el('button', { 'class': 'btn primary', type: 'submit' }, t('send'));
      // Files: the paperclip, or a file pasted into the message box. The server decides what it
      // takes (by content); `accept` only narrows the picker.
      picker = el('input', { type: 'file', hidden: '', multiple: '',
        accept: 'image/*,.pdf,.txt,.csv,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp' });
      clip = add(el('button', { 'class': 'clip', type: 'button', 'aria-label': t('attach'), title: t('attach') }), clipIcon());
      clip.addEventListener('click', function () { picker.click(); });
      picker.addEventListener('change', function () { sendFiles(picker.files); picker.value = ''; input.focus(); });
      input.addEventListener('paste', function (e) {
        var f = e.clipboardData && e.clipboardData.files;
        if (f && f.length) { e.preventDefault(); sendFiles(f); }
      });
      // A file dropped on the chat window is sent too (while a chat is open).
      win.addEventListener('dragover', function (e) {
        if (!clip.disabled && e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0) e.preventDefault();
      });
      win.addEventListener('drop', function (e) {
        var f = e.dataTransfer && e.dataTransfer.files;
        if (!clip.disabled && f && f.length) { e.preventDefault(); sendFiles(f); }
      });
      add(composer, el('label', { 'class': 'sr', 'for': 'bk-input' }, t('typeLabel')), picker, clip, input, sendBtn);
      composer.addEventListener('submit', function (e) {
        e.preventDefault();
        if (core.send(input.value)) input.value = '';
        input.focus();
      });
      input.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit ? composer.requestSubmit() : sendBtn.click(); }
      });
      input.addEventListener('input', function () { if (input.value) core.typing(); });
      add(win, typing, ended, composer, confirmEnd);
      win.addEventListener('keydown', function (e) {
        if (e.key !== 'Escape') return;
        if (!confirmEnd.hidden) keepChatting(); else core.minimize();
      });
      root.appendChild(win);
      core.subscribe(render);
    }

    // The window's x: a chat in progress (or being started) is ended only once the visitor
    // confirms; anything else (an ended chat, an unsent survey) just closes.
    function chatInProgress() {
      var c = state.conversation, s = state.starting;
      if (s) return !(s.prechat && !s.sent);
      return !!c && c.state !== 'ended' && c.state !== 'abandoned';
    }
    function askToEnd() {
      var answered = !!(state.conversation && state.conversation.accepted_at);
      if (endStars) endStars.hidden = !answered;
      var c = state.conversation;
      if (state.leaving && !state.leaving.sent) return core.cancelLeave();
      if (c && c.reply_email && !c.agent && c.state === 'queued') return core.minimize();
      if (!chatInProgress()) return core.closeChat();
      confirmEnd.hidden = false;
      keepBtn.focus();
    }
    function keepChatting() {
      confirmEnd.hidden = true;
      (input.disabled ? win.querySelector('[data-action=close]') : input).focus();
    }

    // The visitor's copy of the chat: what they saw, as a text file made here (nothing is asked
    // of the server; agents' notes never reached this page).
    function downloadTranscript() {
      var c = state.conversation;
      var fmt = function (at) {
        try { return new Date(at).toLocaleString(core.locale, { dateStyle: 'medium', timeStyle: 'short' }); } catch (e) { return new Date(at).toISOString(); }
      };
      var lines = [(core.adminText('title') || t('title')) + ' \u2014 ' + t('transcriptOf', c ? fmt(c.created_at) : ''), ''];
      state.messages.forEach(function (m) {
        if (m.status === 'failed') return;
        var who = m.kind === 'visitor' ? t('you') + ': ' : m.kind === 'agent' ? (m.name || t('agent')) + ': ' : '\u2014 ';
        lines.push('[' + fmt(m.created_at || Date.now()) + '] ' + who + (m.attachment ? '\ud83d\udcce ' : '') + m.text);
      });
      var blob = new Blob([lines.join('\n') + '\n'], { type: 'text/plain;charset=utf-8' });
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'chat-' + (c ? c.id : 'transcript') + '.txt';
      core.root.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    }

    // ---- rating the chat (CSAT): 1–5 stars, then an optional comment --------------------------
    var rateEl, rateStars = [], rateText, rateSend, rateErr, rateThanks, rateScore = 0;
    var emailLink, emailForm, emailInput, emailSend, emailNote; // the transcript by email
    function buildRating() {
      rateEl = el('div', { 'class': 'rate', role: 'group', 'aria-labelledby': 'bk-rate-q', hidden: '' });
      var starsEl = el('div', { 'class': 'stars' });
      for (var i = 1; i <= 5; i++) {
        (function (n) {
          var b = el('button', { 'class': 'star', type: 'button', 'aria-pressed': 'false', 'aria-label': t('stars', n) }, '\u2605');
          b.addEventListener('click', function () { rateScore = n; renderRating(); rateText.focus(); });
          rateStars.push(b);
          starsEl.appendChild(b);
        })(i);
      }
      rateText = el('textarea', { rows: '2', maxlength: '1000', 'aria-label': t('rateComment'), placeholder: t('rateComment'), hidden: '' });
      rateErr = el('p', { 'class': 'err', role: 'alert' });
      rateSend = el('button', { 'class': 'btn primary', type: 'button', hidden: '' }, t('rateSend'));
      rateSend.addEventListener('click', function () { if (rateScore) core.rate(rateScore, rateText.value.trim()); });
      add(rateEl, el('p', { 'class': 'q', id: 'bk-rate-q' }, t('rateQ')), starsEl, rateText, rateErr, add(el('div', { 'class': 'row' }), rateSend));
      rateThanks = el('p', { role: 'status', hidden: '' }, t('rateThanks'));
      return add(el('div'), rateEl, rateThanks);
    }
    function renderMailing(c) {
      var m = state.mailing;
      emailLink.hidden = !state.mail || !!(m && m.sentTo);
      if (!state.mail || !c) emailForm.hidden = true;
      if (!emailInput.value && c && c.reply_email) emailInput.value = c.reply_email;
      emailSend.disabled = !!(m && m.sending);
      if (m && m.sentTo) { emailForm.hidden = true; emailNote.textContent = t('emailSent', m.sentTo); }
      else if (m && m.error) emailNote.textContent = m.error;
      else if (!m) emailNote.textContent = '';
    }

    function renderRating() {
      var c = state.conversation;
      var ended = !!c && (c.state === 'ended' || c.state === 'abandoned');
      var answered = ended && !!c.accepted_at;
      rateEl.hidden = !answered || c.rating != null;
      rateThanks.hidden = !answered || c.rating == null;
      rateStars.forEach(function (b, i) { b.setAttribute('aria-pressed', String(i + 1 === rateScore)); b.style.color = i < rateScore ? '#e3a008' : ''; });
      rateText.hidden = rateSend.hidden = !rateScore;
      rateSend.disabled = !!(state.rating && state.rating.sending);
      rateErr.textContent = (state.rating && state.rating.error) || '';
      if (!ended) rateScore = 0;
    }

    function statusText() {
      var c = state.conversation, s = state.starting;
      if (s && s.prechat && !s.sent) return t('answerQs');
      if (state.leaving) return t('leaveStatus');
      if (c && c.reply_email && c.state === 'queued') return t('sent');
      if (!c && !s && state.startError) return t('notStarted');
      if (!c || s) return state.failed ? t('unreachable') : t('connecting');
      if (c.state === 'ended' || c.state === 'abandoned') return t('chatEnded');
      if (!state.connected) return t('reconnecting');
      if (c.state === 'queued') return state.queueInfo || t('waiting');
      return c.agent && c.agent.name ? t('chattingWith', c.agent.name) : t('connected');
    }

    function render() {
      if (!win) return;
      var c = state.conversation, s = state.starting;
      var isEnded = !!c && !s && (c.state === 'ended' || c.state === 'abandoned');
      title.textContent = core.adminText('title') || t('title');
      status.textContent = statusText();
      greeting.textContent = core.adminText('greeting');
      greeting.hidden = !greeting.textContent || state.messages.length > 0;
      notice.textContent = !c && !s ? state.startError || '' : '';
      notice.hidden = !notice.textContent;

      var surveying = !!(s && s.prechat && !s.sent);
      if (surveying && prechatFor !== s) buildPrechat(s);
      prechat.hidden = !surveying;
      var leaving = state.leaving;
      if (leaving && leaveFor !== leaving) buildLeaveForm(leaving);
      if (leaving) renderLeaveForm(leaving);
      leaveForm.hidden = !leaving;
      if (!leaving) leaveFor = null;
      log.hidden = surveying || (!!leaving && !c);
      var left = !!(c && c.reply_email && !isEnded);
      leftInfo.hidden = !left || !!leaving;
      leftInfo.textContent = !left ? '' : c.agent ? t('alsoTo', c.reply_email)
        : state.mail ? t('byEmail', c.reply_email) : t('here');
      rather.hidden = !(c && c.state === 'queued' && !c.reply_email && !c.agent && !s && !leaving);
      composer.hidden = surveying || isEnded || !!leaving;
      ended.hidden = !isEnded;
      renderRating();
      renderMailing(c);
      if (!chatInProgress()) confirmEnd.hidden = true;
      sendBtn.disabled = input.disabled = clip.disabled = !c || !!s || isEnded;

      var agentName = (c && c.agent && c.agent.name) || t('agent');
      typing.textContent = state.agentTyping && !isEnded ? t('isTyping', agentName) : '';
      renderMessages();
    }

    function messageEl(m) {
      var node = rendered.get(m);
      if (!node) {
        node = el('div', { 'class': 'msg ' + (m.kind || 'system') });
        if (m.kind === 'agent') node.appendChild(el('span', { 'class': 'who' }, m.name || t('agent')));
        node.appendChild(m.attachment ? el('p', { 'class': 'text' }) : add(el('p', { 'class': 'text' }), linkified(m.text)));
        node.appendChild(el('span', { 'class': 'meta' }));
        rendered.set(m, node);
      }
      // A file: shown once its id is known (a file being uploaded shows its name until then).
      var a = m.attachment, textEl = node.querySelector('.text');
      if (a && textEl.getAttribute('data-file') !== String(a.id)) {
        textEl.setAttribute('data-file', String(a.id));
        textEl.textContent = '';
        textEl.appendChild(fileView(a));
      }
      var meta = node.lastChild;
      var st = m.status || 'sent';
      if (node.getAttribute('data-status') !== st) {
        node.setAttribute('data-status', st);
        node.className = 'msg ' + (m.kind || 'system') + (st === 'sent' ? '' : ' ' + st);
        meta.textContent = '';
        if (st === 'pending') meta.textContent = t('sending');
        if (st === 'failed') {
          // A refused file says why, and is offered again only when trying later may help.
          var why = m.error && WORDS.en[m.error] ? t(m.error) + ' ' : m.error ? t('fileFailed') + ' ' : t('notSent');
          meta.appendChild(document.createTextNode(why));
          if (!m.error || m.error === 'rate_limited') {
            var retry = el('button', { 'class': 'link', type: 'button' }, t('retry'));
            retry.addEventListener('click', function () { core.retry(m); });
            meta.appendChild(retry);
          }
        }
      }
      if (m.seq != null) node.setAttribute('data-seq', m.seq);
      return node;
    }

    function renderMessages() {
      var nearBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 80;
      var list = state.messages, keep = [];
      for (var i = 0; i < list.length; i++) {
        var node = messageEl(list[i]);
        keep.push(node);
        if (log.children[i] !== node) log.insertBefore(node, log.children[i] || null);
      }
      while (log.children.length > keep.length) log.removeChild(log.lastChild);
      if (nearBottom) body.scrollTop = body.scrollHeight;
    }

    // ---- files ---------------------------------------------------------------------------------
    var IMAGES = { 'image/png': 1, 'image/jpeg': 1, 'image/gif': 1, 'image/webp': 1 };
    function fileSize(n) {
      return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : n >= 1024 ? Math.ceil(n / 1024) + ' KB' : n + ' B';
    }
    // A paperclip (Feather icons, MIT), drawn rather than an emoji a system may lack.
    function clipIcon() {
      var NS = 'http://www.w3.org/2000/svg', svg = document.createElementNS(NS, 'svg'), path = document.createElementNS(NS, 'path');
      var attrs = { viewBox: '0 0 24 24', width: '20', height: '20', fill: 'none', stroke: 'currentColor', 'stroke-width': '2',
        'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false' };
      for (var k in attrs) svg.setAttribute(k, attrs[k]);
      path.setAttribute('d', 'M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48');
      svg.appendChild(path);
      return svg;
    }
    function sendFiles(list) {
      for (var i = 0; i < list.length; i++) core.sendFile(list[i]);
    }
    // The file's bytes as a blob: URL, fetched with the visitor's token (the server gives a
    // file only to the visitor whose chat it is). The blob's type is set here: an image type
    // for previews, otherwise one no browser displays, so a file can never run as a page.
    function fileUrl(a) {
      if (!fileUrls[a.id]) {
        fileUrls[a.id] = fetch(core.orgUrl + '/v1/visitor/attachments/' + encodeURIComponent(a.id), {
          headers: { Authorization: 'Bearer ' + core.token() }
        }).then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.arrayBuffer();
        }).then(function (b) {
          return URL.createObjectURL(new Blob([b], { type: IMAGES[a.content_type] ? a.content_type : 'application/octet-stream' }));
        });
        fileUrls[a.id].catch(function () { delete fileUrls[a.id]; });
      }
      return fileUrls[a.id];
    }
    function fileView(a) {
      var label = a.name + ' (' + fileSize(a.size) + ')';
      if (!a.id) return add(el('span', { 'class': 'file' }), clipIcon(), el('span', null, label));
      var link = el('a', { 'class': 'file', href: '#', download: a.name });
      if (IMAGES[a.content_type]) {
        var img = el('img', { alt: a.name });
        link.appendChild(img);
        fileUrl(a).then(function (u) { img.src = link.href = u; }, function () {});
      }
      link.appendChild(add(el('span', null), clipIcon(), el('span', null, label)));
      link.addEventListener('click', function (e) {
        if (link.getAttribute('href') !== '#') return;
        e.preventDefault();
        fileUrl(a).then(function (u) { link.href = u; link.click(); }, function () {});
      });
      return link;
    }

    // ---- pre-chat survey ------------------------------------------------------------------------
    function translatedQuestion(id) {
      var tr = state.widget.translations && state.widget.translations[core.lang];
      return tr && tr.prechat && tr.prechat[id];
    }
    function buildPrechat(starting) {
      prechatFor = starting;
      prechat.textContent = '';
      var summary = el('p', { 'class': 'summary', role: 'alert' });
      prechat.appendChild(summary);
      var fields = starting.prechat.map(function (q, i) {
        var id = 'bk-q' + i, errId = id + '-err';
        var wrap = el('div', { 'class': 'q ' + q.kind });
        var required = q.required || q.kind === 'consent';
        // The admin's translation for the widget's language, if any: shown; the answer is still
        // stored under the question's own label and choice (agents read one language).
        var tr = translatedQuestion(q.id) || {};
        var shown = tr.label || q.label;
        var label = el('label', { 'for': id }, shown + (required ? ' *' : ''));
        var field;
        if (q.kind === 'multi_line') field = el('textarea', { rows: '3', maxlength: '4000' });
        else if (q.kind === 'option_set') {
          field = el('select');
          field.appendChild(el('option', { value: '' }, t('choose')));
          (q.choices || []).forEach(function (choice, n) {
            field.appendChild(el('option', { value: choice }, (tr.choices && tr.choices[n]) || choice));
          });
        } else if (q.kind === 'consent') field = el('input', { type: 'checkbox' });
        else field = el('input', { type: 'text', maxlength: '4000' });
        field.id = id;
        field.setAttribute('aria-describedby', errId);
        if (required) field.setAttribute('aria-required', 'true');
        var err = el('p', { 'class': 'err', id: errId });
        if (q.kind === 'consent') add(wrap, field, label, err); else add(wrap, label, field, err);
        prechat.appendChild(wrap);
        return { q: q, field: field, err: err, required: required, shown: shown };
      });
      var submit = el('button', { 'class': 'btn primary', type: 'submit' }, t('startChat'));
      prechat.appendChild(add(el('div', { 'class': 'row' }), submit));
      prechat.onsubmit = function (e) {
        e.preventDefault();
        var answers = {}, missing = [];
        fields.forEach(function (f) {
          var consent = f.q.kind === 'consent';
          var value = consent ? f.field.checked : f.field.value.trim();
          var bad = f.required && !value;
          f.err.textContent = bad ? (consent ? t('tick') : t('answerThis')) : '';
          f.field.setAttribute('aria-invalid', String(bad));
          if (bad) missing.push(f);
          else if (value !== '' && value !== false) answers[f.q.label] = value;
        });
        if (missing.length) {
          summary.textContent = t('pleaseAnswer', missing.map(function (f) { return f.shown; }).join(', '));
          missing[0].field.focus();
          return;
        }
        summary.textContent = '';
        core.submitStart(answers);
        input.focus();
      };
    }

    // ---- leaving a message ----------------------------------------------------------------------
    // Name, email and message, when nobody can chat now (out of hours, or a visitor who would
    // rather not wait: their waiting chat's words stand, so the message may be left empty).
    // Survey answers of a refused start come along: the name and email are filled in from them.
    function buildLeaveForm(leaving) {
      leaveFor = leaving;
      leaveForm.textContent = '';
      var waiting = !!(state.conversation && state.conversation.state === 'queued');
      var known = leaving.prechat || {};
      var guessName = '', guessEmail = '';
      Object.keys(known).forEach(function (label) {
        var v = typeof known[label] === 'string' ? known[label].trim() : '';
        if (!guessEmail && looksLikeEmail(v)) guessEmail = v;
        else if (!guessName && /name|nom|nombre/i.test(label)) guessName = v;
      });
      var summary = el('p', { 'class': 'summary', role: 'alert' });
      var intro = el('p', { 'class': 'intro' }, waiting ? t('waitingIntro') : state.mail ? t('closedIntroMail') : t('closedIntroHere'));
      function field(key, label, tag, attrs, required) {
        var id = 'bk-leave-' + key, errId = id + '-err';
        var f = el(tag, attrs);
        f.id = id;
        f.setAttribute('aria-describedby', errId);
        if (required) f.setAttribute('aria-required', 'true');
        var err = el('p', { 'class': 'err', id: errId });
        leaveForm.appendChild(add(el('div', { 'class': 'q' }), el('label', { 'for': id }, label + (required ? ' *' : '')), f, err));
        return { field: f, err: err, label: label };
      }
      add(leaveForm, summary, intro);
      var name = field('name', t('name'), 'input', { type: 'text', maxlength: '100', autocomplete: 'name' }, false);
      var email = field('email', t('email'), 'input', { type: 'email', maxlength: '254', autocomplete: 'email' }, true);
      var text = field('text', t('message'), 'textarea', { rows: '4', maxlength: '10000' }, !waiting);
      name.field.value = guessName;
      email.field.value = guessEmail;
      var submit = el('button', { 'class': 'btn primary', type: 'submit' }, waiting ? t('sendEmail') : t('sendMessage'));
      var cancel = el('button', { 'class': 'btn', type: 'button' }, waiting ? t('keepWaiting') : t('cancel'));
      cancel.addEventListener('click', core.cancelLeave);
      leaveForm.appendChild(add(el('div', { 'class': 'row' }), cancel, submit));
      leaveForm.onsubmit = function (e) {
        e.preventDefault();
        var bad = [];
        var addr = email.field.value.trim();
        email.err.textContent = !addr ? t('needEmail')
          : looksLikeEmail(addr) ? '' : t('badEmail');
        text.err.textContent = !waiting && !text.field.value.trim() ? t('needMessage') : '';
        [email, text].forEach(function (f) {
          var isBad = !!f.err.textContent;
          f.field.setAttribute('aria-invalid', String(isBad));
          if (isBad) bad.push(f);
        });
        if (bad.length) {
          summary.textContent = t('pleaseCheck', bad.map(function (f) { return f.label; }).join(', '));
          bad[0].field.focus();
          return;
        }
        summary.textContent = '';
        core.leaveMessage({ name: name.field.value.trim(), email: addr, text: text.field.value });
      };
      leaveForm.summary = summary;
      leaveForm.submitBtn = submit;
    }
    function renderLeaveForm(leaving) {
      leaveForm.submitBtn.disabled = !!leaving.sent;
      if (leaving.error && leaveForm.summary.textContent !== leaving.error) leaveForm.summary.textContent = leaving.error;
    }

    function show(mode, user) {
      if (mode !== 'closed') build();
      if (!win) return;
      var root = core.root;
      var wasOpen = !win.hidden;
      var focusInside = win.contains(root.activeElement);
      if (mode === 'open' && !wasOpen && user) {
        var active = root.activeElement || document.activeElement;
        opener = active && active !== document.body && active !== root.host ? active : null;
      }
      win.hidden = mode !== 'open';
      if (mode !== 'open') confirmEnd.hidden = true;
      render();
      if (mode === 'open' && user) {
        var first = !leaveForm.hidden ? leaveForm.querySelector('input,textarea')
          : prechat.hidden ? null : prechat.querySelector('input,textarea,select');
        (first || input).focus();
      }
      // Minimised or closed with focus inside: back to what opened it (the launcher when that
      // is gone, an accepted invite say), never to the page's body.
      if (mode !== 'open' && focusInside) {
        var back = opener && opener.isConnected && !opener.hidden && !win.contains(opener) ? opener
          : root.querySelector('.launcher:not([hidden])');
        if (back) back.focus();
      }
      if (mode === 'closed') prechatFor = null;
    }

    return { show: show };
  });
})(window, document);

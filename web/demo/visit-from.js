/*
 * The demo's "visiting from" switch (scenario 6, visitors from India).
 *
 * Why it exists: on your own machine Beckon sees you at 127.0.0.1, which is in no country, so a
 * country rule could never invite you. Under `beckon demo` only, a visitor at a local address may
 * borrow a sample public address: this sets the `beckon_demo_ip` cookie and reloads, and the
 * server looks that address up in its GeoIP database as it would a real visitor's
 * (crates/beckon-server/src/demo/visit_from.rs). It has nothing to do with the widget.
 */
(function () {
  'use strict';
  var COOKIE = 'beckon_demo_ip';
  var group = document.getElementById('visit-from');
  var now = document.getElementById('visit-from-now');
  if (!group || !now) return;

  function current() {
    var m = document.cookie.match(/(?:^|;\s*)beckon_demo_ip=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : '';
  }
  var chosen = current();
  var buttons = group.querySelectorAll('button[data-ip]');
  var label = 'your own address';
  for (var i = 0; i < buttons.length; i++) {
    var b = buttons[i];
    var on = b.getAttribute('data-ip') === chosen;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (on) label = b.getAttribute('data-label');
    b.addEventListener('click', function (e) {
      var ip = /** @type {HTMLElement} */ (e.currentTarget).getAttribute('data-ip');
      document.cookie = COOKIE + '=' + encodeURIComponent(ip) + '; path=/; SameSite=Lax; max-age=' + (ip ? 86400 : 0);
      location.reload();
    });
  }
  now.textContent = 'Beckon places you by ' + label + (chosen ? ' (' + chosen + ')' : '') + '.';
})();

// The scenario pages must hold the seed's sample code verbatim (scenario 5: only the stray ")"
// removed). Guards against "fixing" a sample to make a test pass. The two labelled variants
// (scenario2-delay-global, scenario5-absolute) are checked to differ only as they say.
'use strict';
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');

const SEED = path.resolve(__dirname, '..', '..', '..', 'shared', 'seed', '000_008c0fe2a0fbcf97.txt');
const PAGES = path.resolve(__dirname, '..', 'pages');

test('scenario pages contain the seed samples verbatim', () => {
  test.skip(!fs.existsSync(SEED), `seed not found at ${SEED}`);
  const seed = fs.readFileSync(SEED, 'utf8');
  const blocks = seed.match(/<script id="Proactivechattrigger">[\s\S]*?<\/script>/g);
  expect(blocks).toHaveLength(7);
  blocks.forEach((block, i) => {
    let expected = block;
    if (i + 1 === 5) expected = block.replace('if( window.document.referrer == lastVisitedPage) )', 'if( window.document.referrer == lastVisitedPage)');
    const pages = i + 1 === 2 ? ['scenario2.html', 'scenario2-delay-global.html'] : [`scenario${i + 1}.html`];
    for (const name of pages) {
      expect(fs.readFileSync(path.join(PAGES, name), 'utf8').includes(expected), name).toBe(true);
    }
  });
  const cookies = seed.slice(seed.indexOf('<!-- Operations on cookies'), seed.indexOf('<script id="Proactivechattrigger">', seed.indexOf('<!-- Operations on cookies'))).trim();
  expect(fs.readFileSync(path.join(PAGES, 'scenario2.html'), 'utf8')).toContain(cookies);
  expect(fs.readFileSync(path.join(PAGES, 'scenario2-delay-global.html'), 'utf8')).toContain(cookies);
  const s8 = seed.slice(seed.indexOf('window.addEventListener("lcw:ready", function handleLivechatReadyEvent(){\n Microsoft'));
  expect(fs.readFileSync(path.join(PAGES, 'scenario8.html'), 'utf8')).toContain(s8.slice(0, s8.indexOf('});\n') + 3));
  // The scenario 5 variant differs from the corrected sample only in lastVisitedPage.
  const s5 = blocks[4].replace('if( window.document.referrer == lastVisitedPage) )', 'if( window.document.referrer == lastVisitedPage)')
    .replace('"www.contoso.com/FAQ"', '"http://www.contoso.com/FAQ"');
  expect(fs.readFileSync(path.join(PAGES, 'scenario5-absolute.html'), 'utf8')).toContain(s5);
});

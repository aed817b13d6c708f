// The scenario pages must hold the seed's sample code verbatim (scenario 5: only the stray ")"
// removed). Guards against "fixing" a sample to make a test pass. The two labelled variants
// (scenario2-delay-global, scenario5-absolute) are checked to differ only as they say, and the
// demo site's copies (web/demo/scenario-N.html) may change only the lines they label
// "// demo:" (a placeholder the sample leaves to the reader). The seed lives beside the project
// (../shared/seed/); without it the check fails rather than passing unchecked.
'use strict';
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');

const SEED = path.resolve(__dirname, '..', '..', '..', 'shared', 'seed', '000_008c0fe2a0fbcf97.txt');
const PAGES = path.resolve(__dirname, '..', 'pages');
const DEMO = path.resolve(__dirname, '..', '..', 'web', 'demo');

function seedBlocks() {
  expect(fs.existsSync(SEED), `the seed document is missing at ${SEED}`).toBe(true);
  const seed = fs.readFileSync(SEED, 'utf8');
  const blocks = seed.match(/<script id="Proactivechattrigger">[\s\S]*?<\/script>/g);
  expect(blocks).toHaveLength(7);
  return { seed, blocks: blocks.map((b, i) => (i + 1 === 5 ? b.replace('if( window.document.referrer == lastVisitedPage) )', 'if( window.document.referrer == lastVisitedPage)') : b)) };
}

test('scenario pages contain the seed samples verbatim', () => {
  const { seed, blocks } = seedBlocks();
  blocks.forEach((expected, i) => {
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

test('the demo site\u2019s scenario pages hold the seed samples, changing only lines marked "// demo:"', () => {
  const { blocks } = seedBlocks();
  blocks.forEach((expected, i) => {
    const page = fs.readFileSync(path.join(DEMO, `scenario-${i + 1}.html`), 'utf8');
    const start = page.indexOf('<script id="Proactivechattrigger">');
    expect(start, `scenario-${i + 1}.html has the sample's script`).toBeGreaterThanOrEqual(0);
    const got = page.slice(start, page.indexOf('</script>', start) + '</script>'.length).split('\n');
    const want = expected.split('\n');
    expect(got.length, `scenario-${i + 1}.html: as many lines as the sample`).toBe(want.length);
    want.forEach((line, k) => {
      if (got[k] !== line) expect(got[k], `scenario-${i + 1}.html line ${k + 1} differs from the sample without a "// demo:" label`).toContain('// demo:');
    });
  });
});

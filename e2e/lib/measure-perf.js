// Measures the widget's weight and load cost (issue 3 / issue 7 goals) against the real server
// in Debian's Chromium, and prints the figures e2e/PERF.md reports:
//   - gzipped bytes of /widget.js (all a page downloads before the visitor opens the chat) and
//     of /widget/chat.js (the rest of the widget), as the server sends them;
//   - lcw:ready after widget.js arrived (performance timestamps inside the page);
//   - main-thread time the widget costs on load, from a Chromium trace (devtools.timeline):
//     the evaluation of widget.js plus every task the widget's own code ran (its timers, its
//     WebSocket and DOM event handlers) until the welcome frame has been handled;
//   - layout shift on the host page (PerformanceObserver 'layout-shift').
// Usage (from e2e/): node lib/measure-perf.js [runs]   (E2E_BECKON_BIN picks the binary;
// PERF_DETAIL=1 also prints, for the last run, each task counted and what ran in it)
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { chromium } = require('playwright-core');
const { startServer } = require('./server');

const RUNS = Number(process.argv[2] || 10);

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function site(beckonUrl) {
  const html = fs.readFileSync(path.join(__dirname, '..', 'pages', 'perf.html'), 'utf8').replaceAll('{{BECKON_URL}}', beckonUrl);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Main-thread time of the widget in a devtools.timeline trace.
function widgetMainThread(trace) {
  const events = JSON.parse(trace.toString('utf8')).traceEvents || [];
  const isWidget = (url) => typeof url === 'string' && /\/widget(\/chat)?\.js/.test(url);
  // Wall time by default; PERF_CPU=1 uses the thread's CPU time (`tdur`), which leaves out the
  // time the main thread was descheduled (on a 2-core machine, much of the run-to-run noise).
  const ms = process.env.PERF_CPU ? (e) => (e.tdur ?? e.dur ?? 0) / 1000 : (e) => (e.dur || 0) / 1000;
  // The renderer main thread: where widget.js was evaluated.
  const evals = events.filter((e) => e.name === 'EvaluateScript' && isWidget(e.args && e.args.data && e.args.data.url));
  if (!evals.length) throw new Error('no EvaluateScript of widget.js in the trace');
  const { pid, tid } = evals[0];
  const main = events.filter((e) => e.pid === pid && e.tid === tid && e.ph === 'X');
  const compile = main.filter((e) => (e.name === 'v8.compile' || e.name === 'V8.CompileCode' || e.name === 'v8.parseOnBackground') &&
    isWidget(e.args && e.args.data && e.args.data.url));
  // Tasks (RunTask) whose script work is the widget's: a FunctionCall / TimerFire / event whose
  // source is widget.js, found inside the task. The HTML parser task that evaluates widget.js
  // also parses the host page, so for it only the EvaluateScript itself counts.
  const tasks = main.filter((e) => e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask');
  const calls = main.filter((e) => e.name === 'FunctionCall' && isWidget(e.args && e.args.data && (e.args.data.url || (e.args.data.frame && e.args.data.url))));
  const inside = (outer, inner) => inner.ts >= outer.ts && inner.ts + (inner.dur || 0) <= outer.ts + (outer.dur || 0);
  const widgetTasks = tasks.filter((t) => calls.some((c) => inside(t, c)) && !evals.some((ev) => inside(t, ev)));
  const scriptOnly = evals.reduce((s, e) => s + ms(e), 0) + calls.reduce((s, e) => s + ms(e), 0);
  const withTasks = evals.reduce((s, e) => s + ms(e), 0) + widgetTasks.reduce((s, e) => s + ms(e), 0);
  // Per task: what ran in it (events dispatched, widget functions, style and layout), for
  // PERF_DETAIL=1.
  const detail = widgetTasks.map((t) => {
    const within = main.filter((e) => e !== t && inside(t, e));
    const sum = (names) => within.filter((e) => names.includes(e.name)).reduce((s, e) => s + ms(e), 0);
    const events = [...new Set(within.filter((e) => e.name === 'EventDispatch').map((e) => e.args.data.type))];
    const fns = [...new Set(calls.filter((c) => inside(t, c)).map((c) => c.args.data.functionName || '(anonymous)'))];
    return {
      ms: +ms(t).toFixed(2),
      events: events.join(','),
      widgetFns: fns.join(','),
      widgetScriptMs: +calls.filter((c) => inside(t, c)).reduce((s, e) => s + ms(e), 0).toFixed(2),
      allScriptMs: +sum(['FunctionCall', 'EvaluateScript', 'v8.run']).toFixed(2),
      styleLayoutMs: +sum(['UpdateLayoutTree', 'Layout', 'RecalculateStyles']).toFixed(2),
      paintMs: +sum(['Paint', 'PrePaint', 'Layerize', 'UpdateLayer', 'CompositeLayers', 'Commit']).toFixed(2),
      longest: within.filter((e) => e.dur >= 300).sort((a, b) => b.dur - a.dur).slice(0, 8)
        .map((e) => `${e.name} ${ms(e).toFixed(2)}`).join('; '),
    };
  });
  return {
    detail,
    evaluate: evals.reduce((s, e) => s + ms(e), 0),
    compile: compile.reduce((s, e) => s + ms(e), 0),
    functionCalls: calls.length,
    scriptOnly,
    tasks: widgetTasks.length,
    withTasks,
  };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const max = (xs) => Math.max(...xs);

async function main() {
  const beckon = await startServer();
  const page0 = await site(beckon.url);
  const pageUrl = `http://localhost:${page0.address().port}/perf.html`;
  try {
    const sizes = {};
    for (const p of ['/widget.js', '/widget/chat.js']) {
      const gz = await get(beckon.url + p, { 'accept-encoding': 'gzip' });
      const raw = zlib.gunzipSync(gz.body);
      sizes[p] = { gzip: gz.body.length, raw: raw.length, encoding: gz.headers['content-encoding'] };
    }
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const ready = [], evaluate = [], scriptOnly = [], withTasks = [], shifts = [], tasks = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const welcomed = new Promise((resolve) => page.on('websocket', (ws) => ws.on('framereceived', (f) => {
        if (String(f.payload).includes('"type":"welcome"')) resolve();
      })));
      await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'v8', 'blink.user_timing'] });
      await page.goto(pageUrl);
      await page.waitForFunction(() => window.perf.ready !== null);
      await welcomed;
      // Let the welcome's handler and the next frame run before stopping the trace.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100))));
      const trace = await browser.stopTracing();
      const m = await page.evaluate(() => {
        const res = performance.getEntriesByType('resource').find((e) => /\/widget\.js$/.test(e.name));
        return { loaded: res.responseEnd, ready: window.perf.ready, shift: window.perf.shifts.reduce((s, e) => s + e.value, 0) };
      });
      const t = widgetMainThread(trace);
      if (process.env.PERF_DETAIL && i > 0) console.log(JSON.stringify(t.detail.map((d) => [d.widgetFns, d.ms, d.widgetScriptMs, d.styleLayoutMs])), t.evaluate.toFixed(2));
      if (i > 0) { // the first run warms the server and the browser's caches of the binary
        ready.push(m.ready - m.loaded); shifts.push(m.shift);
        evaluate.push(t.evaluate); scriptOnly.push(t.scriptOnly); withTasks.push(t.withTasks); tasks.push(t.tasks);
      }
      await context.close();
    }
    await browser.close();
    const f = (x) => x.toFixed(1);
    console.log(JSON.stringify({ sizes, runs: RUNS - 1 }, null, 2));
    console.log(`widget.js gzipped: ${sizes['/widget.js'].gzip} B; chat.js gzipped: ${sizes['/widget/chat.js'].gzip} B; total ${sizes['/widget.js'].gzip + sizes['/widget/chat.js'].gzip} B`);
    console.log(`lcw:ready after widget.js arrived: median ${f(median(ready))} ms, max ${f(max(ready))} ms`);
    console.log(`widget.js evaluation: median ${f(median(evaluate))} ms, max ${f(max(evaluate))} ms`);
    console.log(`widget script (evaluation + its function calls): median ${f(median(scriptOnly))} ms, max ${f(max(scriptOnly))} ms`);
    console.log(`widget main thread (evaluation + whole tasks it ran, ${median(tasks)} tasks): median ${f(median(withTasks))} ms, max ${f(max(withTasks))} ms`);
    console.log(`layout shift: max ${max(shifts)}`);
  } finally {
    page0.close();
    await beckon.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

// Starts the real Beckon server (`beckon demo`) for one test: a fresh SQLite database in a
// temporary folder, port 0, and the readiness line on stdout as the signal — never a sleep.
// The binary is built once by global-setup.js; E2E_BECKON_BIN points at another build if wanted
// (not BECKON_*: the server reads every BECKON_* variable as configuration and rejects unknown ones).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');

const ROOT = path.resolve(__dirname, '..', '..');
const BINARY = process.env.E2E_BECKON_BIN || path.join(ROOT, 'target', 'debug', 'beckon');
const START_TIMEOUT_MS = 30_000;

/**
 * Starts `beckon demo`. Options: `bind` (default 127.0.0.1:0), `dir` (reuse a database folder,
 * e.g. to restart on the same data), `logFile` (server stderr goes there), `widgetAuth` (the
 * demo widget's visitor-authentication setting, docs/visitor-auth.md: stored with the
 * `beckon widget-auth` CLI before the server that the test uses starts), `databaseUrl` (another
 * database than the folder's SQLite file, e.g. a PostgreSQL one shared by several nodes), `args`
 * (more command-line arguments) and `env` (more environment variables).
 * Resolves to {url, port, login: {email, password}, widgetKey, dir, stop()}.
 */
async function startServer(options = {}) {
  if (options.widgetAuth) {
    // The demo widget exists once `beckon demo` has seeded the database: seed, stop, configure.
    const dir = options.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'beckon-e2e-'));
    const { widgetAuth, ...rest } = options;
    const seeding = await startServer({ ...rest, dir });
    await seeding.stop();
    widgetAuthCli(dir, seeding.widgetKey, widgetAuth);
    const server = await startServer({ ...rest, dir });
    const stop = server.stop;
    server.stop = async (o = {}) => {
      await stop(o);
      if (!options.dir && !o.keepData) fs.rmSync(dir, { recursive: true, force: true });
    };
    return server;
  }
  const dir = options.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'beckon-e2e-'));
  const bind = options.bind || '127.0.0.1:0';
  const args = ['demo', '--bind', bind, '--database-url', options.databaseUrl || databaseUrl(dir), ...(options.args || [])];
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...(options.env || {}) };
  const child = spawn(BINARY, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env });
  const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : null;
  let stderrTail = '';
  child.stderr.on('data', (d) => {
    if (log) log.write(d);
    stderrTail = (stderrTail + d).slice(-3000);
  });

  const info = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`beckon did not print its listening line within ${START_TIMEOUT_MS} ms; stdout so far:\n${out}`)), START_TIMEOUT_MS);
    function fail(err) { clearTimeout(timer); child.kill('SIGKILL'); reject(err); }
    child.once('error', (e) => fail(new Error(`cannot start ${BINARY}: ${e.message} (build it with \`cargo build -p beckon\`)`)));
    child.once('exit', (code) => fail(new Error(`beckon exited with code ${code} before listening; stdout:\n${out}\nstderr (end):\n${stderrTail}`)));
    child.stdout.on('data', (d) => {
      out += d;
      if (log) log.write(d);
      const listening = out.match(/^beckon listening on (http:\/\/\S+)\s*$/m);
      if (!listening) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const login = out.match(/sign in as (\S+) \/ (\S+?)\)/);
      const key = out.match(/data-app-id="([^"]+)"/);
      resolve({
        url: listening[1].replace(/\/+$/, ''),
        login: login ? { email: login[1], password: login[2] } : null,
        widgetKey: key ? key[1] : 'beckon-demo',
      });
    });
  });

  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    ...info,
    port: Number(new URL(info.url).port),
    dir,
    /** Stops the server (SIGTERM: graceful shutdown; SIGKILL if it hangs). */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      if (log) log.end();
      if (!keepData && !options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
    /** Kills the server at once, as a crash would. */
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The database URL of a server folder (as startServer uses it). */
function databaseUrl(dir) {
  return `sqlite://${path.join(dir, 'beckon.db')}`;
}

/** `beckon widget-auth WIDGET auth.json --database-url …` (or `--off` when setting is null). */
function widgetAuthCli(dir, widgetKey, setting) {
  const args = ['widget-auth', widgetKey];
  if (setting === null) args.push('--off');
  else {
    const file = path.join(dir, 'widget-auth.json');
    fs.writeFileSync(file, JSON.stringify(setting, null, 2));
    args.push(file);
  }
  args.push('--database-url', databaseUrl(dir));
  return execFileSync(BINARY, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A local TCP port with nothing listening on it (bound, then released). */
function deadPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

module.exports = { startServer, deadPort, widgetAuthCli, BINARY, ROOT };

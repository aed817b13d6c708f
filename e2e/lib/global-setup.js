// Builds the server once before the tests (the widget files are compiled into the binary, so a
// stale binary would test a stale widget). E2E_BECKON_BIN=path skips the build and uses that binary.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const { BINARY, ROOT } = require('./server');

module.exports = async function globalSetup() {
  if (process.env.E2E_BECKON_BIN) {
    if (!fs.existsSync(BINARY)) throw new Error(`E2E_BECKON_BIN=${BINARY} does not exist`);
    return;
  }
  execFileSync('cargo', ['build', '-p', 'beckon'], { cwd: ROOT, stdio: 'inherit' });
};

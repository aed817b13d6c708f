// Lint rules for the widget, the console and the demo's scripts (scripts/test-all runs them).
// eslint's recommended rules; unused parameters may be named `_…`, and a `catch (e)` need not
// use `e` (the scripts often only need to know that something failed).
'use strict';
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { ignores: ['node_modules/'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'script', globals: { ...globals.browser } },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }] },
  },
  { files: ['eslint.config.js'], languageOptions: { globals: { ...globals.node } } },
];

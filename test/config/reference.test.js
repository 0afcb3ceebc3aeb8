'use strict';
// docs/configuration.md is generated from the schema (npm run docs:config);
// this fails when a schema change was not followed by regenerating it.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { render, OUT } = require('../../scripts/config-reference');

test('docs/configuration.md is up to date with the configuration schema', () => {
  const committed = fs.readFileSync(OUT, 'utf8');
  assert.ok(committed === render(), 'docs/configuration.md is out of date: run npm run docs:config');
});

test('every configuration key has a description', () => {
  const rows = render().split('\n').filter((l) => l.startsWith('| `'));
  assert.ok(rows.length > 40);
  for (const row of rows) {
    const description = row.split(' | ').at(-1).replace(/ \|$/, '').trim();
    assert.ok(description.length > 0, `no description: ${row}`);
  }
});

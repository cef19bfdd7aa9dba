// The vendored third-party code under web/vendor/ is the upstream package, unmodified: each
// file is byte-identical to the same file of the pinned npm package (whose tarball `npm ci`
// checks against the SHA-512 in package-lock.json). Needs no server or browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

// Vendored directory → npm package, and which of its files are copied where.
const VENDORED = [
  {
    dir: 'web/vendor/uplot',
    name: 'uplot',
    files: { 'uPlot.esm.js': 'dist/uPlot.esm.js', 'uPlot.min.css': 'dist/uPlot.min.css', LICENSE: 'LICENSE' },
  },
];

for (const v of VENDORED) {
  test(`${v.dir} is ${v.name} as published, unmodified`, () => {
    const pinned = pkg.devDependencies[v.name];
    assert.match(pinned, /^\d+\.\d+\.\d+$/, `${v.name} is pinned to an exact version in package.json`);
    const installed = JSON.parse(readFileSync(join(here, 'node_modules', v.name, 'package.json'), 'utf8'));
    assert.equal(installed.version, pinned, `the installed ${v.name} is the pinned one (run npm ci in tests/browser)`);
    const readme = readFileSync(join(root, v.dir, 'README.md'), 'utf8');
    assert.ok(readme.includes(`${v.name}@${pinned}`), `${v.dir}/README.md names ${v.name}@${pinned}`);
    for (const [ours, theirs] of Object.entries(v.files)) {
      const a = readFileSync(join(root, v.dir, ours));
      const b = readFileSync(join(here, 'node_modules', v.name, theirs));
      assert.ok(a.equals(b), `${v.dir}/${ours} differs from ${v.name}@${pinned}/${theirs}`);
    }
  });
}

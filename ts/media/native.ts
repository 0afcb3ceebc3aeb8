/** Loads the napi-rs addon built from native/node (see scripts/build-native.js). */
import * as path from 'node:path';
import type * as Binding from '../../native/node/binding';

export type NativeBinding = typeof Binding;

let cached: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (!cached) {
    // dist/*.js and ts/media/*.ts both sit two levels below the package root
    // relative to native/ once bundled; resolve from the package root.
    const root = findPackageRoot(__dirname);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(path.join(root, 'native', 'node', 'binding.js')) as NativeBinding;
  }
  return cached;
}

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path.join(dir, 'package.json')) as { name?: string };
      if (pkg.name === 'esbc') return dir;
    } catch {
      /* keep walking up */
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`esbc package root not found above ${start}`);
    dir = parent;
  }
}

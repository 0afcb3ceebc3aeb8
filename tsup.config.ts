import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'ts/index.ts', cli: 'ts/cli.ts' },
  format: ['cjs'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'ts/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: false,
});

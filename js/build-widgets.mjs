// Bundle every anywidget ESM source js/widgets/<name>.ts (or .js) into
// jupyter_cvops/static/<name>.js with esbuild, then write the
// jupyter_cvops/static/.built stamp (also when there is no widget source yet).
//
// Usage: node js/build-widgets.mjs [--minify] [--watch]
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'js', 'widgets');
const outDir = join(root, 'jupyter_cvops', 'static');
const minify = process.argv.includes('--minify');
const watch = process.argv.includes('--watch');

const entryPoints = (existsSync(srcDir) ? readdirSync(srcDir, { withFileTypes: true }) : [])
  .filter(e => e.isFile() && /\.(ts|js)$/.test(e.name) && !/\.d\.ts$/.test(e.name) && !e.name.startsWith('_'))
  .map(e => join(srcDir, e.name))
  .sort();

mkdirSync(outDir, { recursive: true });
for (const entry of readdirSync(outDir)) {
  if (/\.(js|css|map)$/.test(entry)) {
    rmSync(join(outDir, entry));
  }
}

/** @type {import('esbuild').BuildOptions} */
const options = {
  entryPoints,
  outdir: outDir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify,
  sourcemap: minify ? false : 'inline',
  legalComments: 'none',
  logLevel: 'info'
};

function stamp(outputs) {
  const stampFile = join(outDir, '.built');
  const body = { built_at: new Date().toISOString(), minify, bundles: outputs.sort() };
  writeFileSync(stampFile, JSON.stringify(body, null, 2) + '\n');
}

if (entryPoints.length === 0) {
  stamp([]);
  console.log('build-widgets: no widget sources in js/widgets; wrote stamp only');
} else if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: 'stamp', setup: b => b.onEnd(() => stamp(entryPoints.map(bundleName))) }]
  });
  await ctx.watch();
} else {
  await esbuild.build(options);
  stamp(entryPoints.map(bundleName));
}

function bundleName(entry) {
  return entry.slice(srcDir.length + 1).replace(/\.(ts|js)$/, '.js');
}

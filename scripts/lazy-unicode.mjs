/**
 * An esbuild plugin for the CLI bundle: yargs' help layout (string-width, twice) builds an
 * `Intl.Segmenter` and Unicode-property regular expressions when its modules load, which every
 * command paid at start-up although only `--help` and usage errors measure text. Here they are made
 * on first use instead. Measured on Node 20 (2 cores, alternating, 8 runs each): loading the bundle
 * ~72 → ~46 ms.
 *
 * Only dependencies' ES modules are touched, and only top-level `const` regular expressions with a
 * `\p{…}` escape and argument-less `new Intl.Segmenter()`: each becomes a stand-in that makes the real
 * object on first touch and forwards every use to it (methods run on the real object, so `lastIndex`
 * and `String.prototype.replace` behave as before). test/lazy-unicode.test.ts compares the widths with
 * the untouched modules.
 */
import { readFile } from 'node:fs/promises';

const HELPER = 'sqlmig:lazy';

/** Top-level `const name = /…/flags;`: a regular-expression literal as the whole initialiser, alone on its line. */
const REGEX_CONST = /^const (\w+) = (\/(?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n[])+\/[dgimsuvy]*);$/gm;
const SEGMENTER = /\bnew Intl\.Segmenter\(\)/g;

/** The module's text with its eager Unicode objects made lazy, or null when it has none. */
export function makeUnicodeLazy(source) {
  if (!/^(?:import|export)\s/m.test(source)) return null; // an ES module: an import can be added on top
  let changed = false;
  const text = source
    .replace(REGEX_CONST, (line, name, literal) => {
      if (!literal.includes('\\p{')) return line; // only Unicode property escapes cost much to build
      changed = true;
      return `const ${name} = __sqlmigLazy(() => ${literal});`;
    })
    .replace(SEGMENTER, () => { changed = true; return '__sqlmigLazy(() => new Intl.Segmenter())'; });
  return changed ? `import { lazy as __sqlmigLazy } from '${HELPER}';\n${text}` : null;
}

/** What the helper module exports: a stand-in that makes its object on first touch and forwards to it. */
export const LAZY_HELPER = `
export function lazy(make) {
  let real;
  const target = () => (real ??= make());
  return new Proxy({}, {
    get(_, key) {
      const object = target();
      const value = Reflect.get(object, key, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
    set(_, key, value) { return Reflect.set(target(), key, value); },
    has(_, key) { return Reflect.has(target(), key); },
    getPrototypeOf() { return Reflect.getPrototypeOf(target()); },
  });
}
`;

export const lazyUnicode = {
  name: 'lazy-unicode',
  setup(build) {
    build.onResolve({ filter: /^sqlmig:lazy$/ }, () => ({ path: HELPER, namespace: 'sqlmig-lazy' }));
    build.onLoad({ filter: /.*/, namespace: 'sqlmig-lazy' }, () => ({ contents: LAZY_HELPER, loader: 'js' }));
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.m?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('\\p{') && !source.includes('Intl.Segmenter')) return undefined;
      const contents = makeUnicodeLazy(source);
      return contents === null ? undefined : { contents, loader: 'js' };
    });
  },
};

// @ts-check
/**
 * `import-floors`: keeps lib/ layered. Every relative import is resolved against the importing
 * file; when both ends are in lib/, the imported folder must sit on a lower floor than the
 * importer's. An import that lands in lambdas/ is refused from anywhere in lib/.
 *
 * Options: `{ floors: string[][] }`, lowest floor first; each name is a folder of lib/ or a
 * top-level file of lib/ without its extension (`app` for lib/app.ts).
 */
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file's folder's parent. */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('eslint').Rule.RuleModule} */
export const importFloors = {
  meta: {
    type: 'problem',
    docs: { description: 'lib/ folders import only from lower floors, and never from lambdas/' },
    schema: [
      {
        type: 'object',
        properties: { floors: { type: 'array', items: { type: 'array', items: { type: 'string' } } } },
        required: ['floors'],
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        "lib/{{from}} (floor {{fromFloor}}) imports lib/{{to}} (floor {{toFloor}}): a folder imports only from floors below its own ({{allowed}}). Move the shared part down, or see LIB_FLOORS in eslint.config.mjs.",
      lambdas: 'lib/{{from}} imports {{target}}: nothing in lib/ imports lambdas/, the handlers are built on lib/.',
      unplaced: 'lib/{{name}} has no floor: add it to LIB_FLOORS in eslint.config.mjs.',
    },
  },
  create(context) {
    /** @type {string[][]} */
    const floors = context.options[0].floors;
    /** @type {Map<string, number>} */
    const floorOf = new Map(floors.flatMap((names, level) => names.map((n) => /** @type {[string, number]} */ ([n, level]))));
    const lib = resolve(root, 'lib');
    const lambdas = resolve(root, 'lambdas');
    const file = context.filename;

    /** The lib/ entry a path is in (`pipeline` for lib/pipeline/x.ts, `app` for lib/app.ts), or undefined outside lib/. */
    const entryOf = (/** @type {string} */ path) => {
      const rel = relative(lib, path);
      if (rel.startsWith('..') || rel === '') return undefined;
      const first = rel.split(sep)[0] ?? '';
      return first.replace(/\.[cm]?[jt]sx?$/, '');
    };
    const from = entryOf(file);
    if (from === undefined) return {};

    /** @param {import('estree').Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = resolve(dirname(file), source);
      if (target === lambdas || target.startsWith(lambdas + sep)) {
        context.report({ node, messageId: 'lambdas', data: { from, target: relative(root, target) } });
        return;
      }
      const to = entryOf(target);
      if (to === undefined || to === from) return;
      const fromFloor = floorOf.get(from);
      if (fromFloor === undefined) {
        context.report({ node, messageId: 'unplaced', data: { name: from } });
        return;
      }
      const toFloor = floorOf.get(to);
      if (toFloor === undefined) {
        context.report({ node, messageId: 'unplaced', data: { name: to } });
        return;
      }
      if (toFloor >= fromFloor) {
        const allowed = floors.slice(0, fromFloor).flat().join(', ') || 'none';
        context.report({ node, messageId: 'upward', data: { from, to, fromFloor: String(fromFloor), toFloor: String(toFloor), allowed } });
      }
    };

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => check(node, node.source?.value),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source.value : undefined),
    };
  },
};

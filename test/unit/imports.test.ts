// No import cycle in src/, type-only imports included: every relative import, re-export and
// dynamic import of every src/**/*.ts is read with TypeScript's own parser, and each strongly
// connected component of that graph is named as a path (a.ts -> b.ts -> a.ts).

import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

/** Module path -> the modules it imports, both relative to the repository root. */
type Graph = Map<string, string[]>;

/** Every .ts file under `dir`, as paths relative to the repository root. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(ROOT, path)] : [];
  });
}

/**
 * The module specifiers `source` names: `import ... from`, `import type ... from`, a bare
 * `import '...'`, `export ... from`, `import('...')` as a call and `import('...').T` as a type.
 * (A worker's URL, `new URL('./worker.js', import.meta.url)`, is not an import: the worker
 * loads it in a thread of its own.)
 */
function specifiers(file: string, source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) found.push(argument.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true));
  return found;
}

/** The graph of relative imports between `files` (`source` reads one). Packages are left out. */
function importGraph(files: string[], source: (file: string) => string): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    const targets = specifiers(file, source(file))
      .filter((specifier) => specifier.startsWith('.'))
      // NodeNext: a .ts module is imported by the name it is compiled to, ./x.js.
      .map((specifier) => join(dirname(file), specifier.replace(/\.js$/, '.ts')))
      .filter((target) => files.includes(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The cycles of `graph`: its strongly connected components of more than one module, or of one
 * that imports itself (Tarjan's algorithm), each as its modules sorted.
 */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The shortest chain of imports from `from` to `to` within `component` (there is one). */
function chain(graph: Graph, component: string[], from: string, to: string): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    for (const next of graph.get(queue[i]!)!) {
      if (!component.includes(next) || cameFrom.has(next)) continue;
      cameFrom.set(next, queue[i]!);
      if (next === to) {
        const path = [to];
        while (path[0] !== from || path.length === 1) path.unshift(cameFrom.get(path[0]!)!);
        return path.slice(1);
      }
      queue.push(next);
    }
  }
  throw new Error(`no path from ${from} to ${to}`);
}

/**
 * A cycle, written as imports that visit each of its modules and come back to the first:
 * "a.ts -> b.ts -> a.ts". Each arrow is a real import, so the path says what to cut.
 */
function describe(graph: Graph, component: string[]): string {
  const path = [component[0]!];
  for (const next of component.slice(1)) if (!path.includes(next)) path.push(...chain(graph, component, path.at(-1)!, next));
  path.push(...chain(graph, component, path.at(-1)!, component[0]!));
  return path.join(' -> ');
}


t.test('no import cycle in src/, type-only imports included', async (t) => {
  const files = sourceFiles(SRC);
  t.ok(files.length > 30, `read ${files.length} modules`);
  const graph = importGraph(files, (file) => readFileSync(join(ROOT, file), 'utf8'));
  t.same(
    cycles(graph).map((component) => describe(graph, component)),
    [],
    'no cycle: types that two modules both need go in a module both import',
  );
});

t.test('what the check finds, on small graphs given as sources', async (t) => {
  const check = (sources: Record<string, string>) => {
    const graph = importGraph(Object.keys(sources), (file) => sources[file]!);
    return cycles(graph).map((component) => describe(graph, component));
  };
  t.same(check({ 'a.ts': "import { b } from './b.js';", 'b.ts': "import { c } from './c.js';", 'c.ts': '' }), [], 'a chain');
  t.same(
    check({ 'a.ts': "import type { B } from './b.js';", 'b.ts': "import type { A } from './a.js';" }),
    ['a.ts -> b.ts -> a.ts'],
    'two modules importing only types of each other',
  );
  t.same(check({ 'a.ts': "export { b } from './b.js';", 'b.ts': "export * from './a.js';" }), ['a.ts -> b.ts -> a.ts'], 're-exports');
  t.same(
    check({ 'a.ts': "const { b } = await import('./b.js');", 'b.ts': "let a: import('./a.js').A;" }),
    ['a.ts -> b.ts -> a.ts'],
    'a dynamic import and an import type',
  );
  t.same(check({ 'x/a.ts': "import '../a.js';", 'a.ts': "import './x/a.js';" }), ['a.ts -> x/a.ts -> a.ts'], 'side-effect imports, across folders');
  t.same(check({ 'a.ts': "import { a } from './a.js';" }), ['a.ts -> a.ts'], 'a module importing itself');
  t.same(
    check({
      'a.ts': "import './b.js'; import './d.js';",
      'b.ts': "import './c.js';",
      'c.ts': "import './a.js';",
      'd.ts': "import './a.js';",
      'e.ts': "import './f.js';",
      'f.ts': "import './e.js';",
    }),
    ['a.ts -> b.ts -> c.ts -> a.ts -> d.ts -> a.ts', 'e.ts -> f.ts -> e.ts'],
    'one path through every module of a component, and each component on its own',
  );
  t.same(
    check({ 'a.ts': "// import { b } from './b.js';\nconst s = \"import('./b.js')\";", 'b.ts': "import { a } from './a.js';\nimport 'node:fs';" }),
    [],
    'not in comments or strings, and packages are not modules of src/',
  );
});

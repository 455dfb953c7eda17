/**
 * Lists the longest functions in `lib/` (and `plans/`), for keeping functions small:
 * every function declaration, method, and function or arrow expression longer than
 * a few lines, by line count, longest first.
 *
 *     deno run -A bench/function_lengths.ts [--top 10] [DIR ...]
 *
 * @module
 */

// A measuring tool, not part of kfplan: its one dependency is pinned here.
// deno-lint-ignore no-import-prefix
import ts from "npm:typescript@5.9.3";
import { join, relative } from "node:path";

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) yield* files(path);
    else if (e.isFile && path.endsWith(".ts")) yield path;
  }
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  if (
    (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) &&
    node.name
  ) return node.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) {
    return parent.name.getText(source);
  }
  if (parent && ts.isPropertyAssignment(parent)) {
    return parent.name.getText(source);
  }
  return "(anonymous)";
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 10;
  const dirs = args.length > 0 ? args : ["lib", "plans"];
  const found: { lines: number; where: string; name: string }[] = [];
  for (const dir of dirs) {
    for await (const path of files(dir)) {
      const text = await Deno.readTextFile(path);
      const source = ts.createSourceFile(
        path,
        text,
        ts.ScriptTarget.Latest,
        true,
      );
      const visit = (node: ts.Node): void => {
        if (
          ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
          ts.isFunctionExpression(node) || ts.isArrowFunction(node)
        ) {
          const start = source.getLineAndCharacterOfPosition(
            node.getStart(source),
          );
          const end = source.getLineAndCharacterOfPosition(node.getEnd());
          found.push({
            lines: end.line - start.line + 1,
            where: `${relative(Deno.cwd(), path)}:${start.line + 1}`,
            name: nameOf(node, source),
          });
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
  }
  found.sort((a, b) => b.lines - a.lines);
  for (const f of found.slice(0, top)) {
    console.log(`${String(f.lines).padStart(5)}  ${f.name}  ${f.where}`);
  }
}

if (import.meta.main) main(Deno.args);

/**
 * Custom plan policies are CEL expressions (https://cel.dev) over the `terraform show -json`
 * document, evaluated with @marcbachmann/cel-js: a maintained pure-JavaScript implementation with
 * no dependencies, which runs in Lambda and in the runner's Node alike (see docs/policies.md).
 */
import { parse, type ParseResult } from '@marcbachmann/cel-js';

/** Where a CEL expression stops compiling: 1-based line and column, and why. */
export interface CelProblem {
  readonly line: number;
  readonly column: number;
  /** The parser's own words, without its source excerpt. */
  readonly reason: string;
}

/** The line and column (1-based) of `offset` in `text`. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

interface CelErrorShape {
  readonly summary?: unknown;
  readonly message?: unknown;
  readonly range?: { readonly start?: unknown } | undefined;
}

/** Why a CEL error happened and where, from the library's error (summary and source range). */
function problemOf(expression: string, err: unknown): CelProblem {
  const e = (err ?? {}) as CelErrorShape;
  const reason = typeof e.summary === 'string' ? e.summary : typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  const start = typeof e.range?.start === 'number' ? e.range.start : 0;
  return { ...positionOf(expression, start), reason };
}

/** A compiled CEL expression, or why it does not compile. */
export type CelCompiled = { readonly ok: true; readonly program: ParseResult } | { readonly ok: false; readonly problem: CelProblem };

/** Compiles (parses) a CEL expression. Pure; never throws. */
export function compileCel(expression: string): CelCompiled {
  try {
    return { ok: true, program: parse(expression) };
  } catch (err) {
    return { ok: false, problem: problemOf(expression, err) };
  }
}

/** One line saying why an expression does not compile: `line 1, column 45: Unexpected token: RPAREN`. */
export function celProblemText(problem: CelProblem): string {
  return `line ${problem.line}, column ${problem.column}: ${problem.reason}`;
}

/** What a compiled expression answered, or why it could not be evaluated. */
export type CelOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: CelProblem };

/** Evaluates a compiled expression with `context` (the variable `plan`). Never throws. */
export function runCel(expression: string, program: ParseResult, context: Record<string, unknown>): CelOutcome {
  try {
    return { ok: true, value: program(context) };
  } catch (err) {
    return { ok: false, problem: problemOf(expression, err) };
  }
}

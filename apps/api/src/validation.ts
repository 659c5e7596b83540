import type { z } from 'zod';
import { ApiError, type FieldError } from '@inferq/core/errors';

const dotted = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/** zod issues as field errors; unknown keys are named one by one so the client sees which field to drop. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): FieldError[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: dotted([...prefix, ...issue.path, key]), message: 'unknown field' }))
      : [{ path: dotted([...prefix, ...issue.path]), message: issue.message }],
  );
}

/** Parses `value` or throws a 400 naming each offending field (paths start with `prefix`). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: readonly PropertyKey[] = []): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error.issues, prefix);
  const summary = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
  throw new ApiError('invalid_request', `The request is invalid: ${summary}`, errors);
}

import { createRequire } from 'node:module';

/** The result of asl-validator (v4, CommonJS, untyped). */
interface AslValidation {
  isValid: boolean;
  errorsText: (separator?: string) => string;
}

type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => AslValidation;

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as AslValidator;

/**
 * Validates a definition with asl-validator, paths and ARNs included. Returns the error text, or
 * an empty string when the definition is valid. The validator is given a copy because it adds
 * QueryLanguage to every state it checks.
 */
export function aslErrors(definition: unknown): string {
  const copy: unknown = JSON.parse(JSON.stringify(definition));
  const result = aslValidator(copy, { checkPaths: true, checkArn: true });
  return result.isValid ? '' : result.errorsText('\n');
}

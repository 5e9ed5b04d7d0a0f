import { createRequire } from 'node:module';

/**
 * asl-validator for many definitions. The validator builds a new Ajv instance and compiles every
 * ASL schema on each call (about 0.3 s); for hundreds of fuzzed definitions this reuses the first
 * instance: the Ajv constructor asl-validator calls is replaced, for this test module only, by one
 * that returns the instance it made first. Schemas and formats are the same on every call (the
 * options are), so the answers are the same, only faster.
 *
 * One quirk of asl-validator is set aside: its schema for strings inside arrays of a payload
 * template ("not JSONata", `^(?!\{% )(.+)(?! %\})$`) requires at least one character, so it
 * rejects `"Headers": {"X-A": [""]}`, which is valid JSON that Step Functions passes on (an empty
 * header or query value). Such strings are replaced by a placeholder before validation.
 */

interface AslValidation {
  isValid: boolean;
  errorsText: (separator?: string) => string;
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => AslValidation;

const require = createRequire(import.meta.url);
interface AjvInstance {
  addKeyword(definition: string | { keyword: string | string[] }): AjvInstance;
  getKeyword(name: string): unknown;
}
const ajvModule = require('ajv') as { default: new (options: unknown) => AjvInstance };
const OriginalAjv = ajvModule.default;
let shared: AjvInstance | undefined;
function SharedAjv(options: unknown): AjvInstance {
  if (shared) return shared;
  const instance = new OriginalAjv(options);
  // ajv-formats adds its keywords on every call; Ajv refuses a keyword twice.
  const addKeyword = instance.addKeyword.bind(instance);
  instance.addKeyword = (definition) => {
    const names = typeof definition === 'string' ? [definition] : [definition.keyword].flat();
    return names.every((name) => instance.getKeyword(name)) ? instance : addKeyword(definition);
  };
  shared = instance;
  return instance;
}
SharedAjv.prototype = OriginalAjv.prototype;
ajvModule.default = SharedAjv as unknown as typeof OriginalAjv;
const aslValidator = require('asl-validator') as AslValidator;

const EMPTY_IN_ARRAY = '(empty string)';

function withoutEmptyArrayStrings(value: unknown, inArray = false): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutEmptyArrayStrings(v, true));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, withoutEmptyArrayStrings(v)]),
    );
  }
  return inArray && value === '' ? EMPTY_IN_ARRAY : value;
}

/** asl-validator's errors for a definition (paths and ARNs checked), or '' when valid. */
export function aslErrors(definition: unknown): string {
  const copy = withoutEmptyArrayStrings(JSON.parse(JSON.stringify(definition)));
  const result = aslValidator(copy, { checkPaths: true, checkArn: true });
  return result.isValid ? '' : result.errorsText('\n');
}

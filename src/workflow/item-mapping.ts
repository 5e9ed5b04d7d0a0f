import type { ItemMapping } from '../api/downloader-spec.js';
import { ITEM_TYPES, normalizeItemType } from '../api/downloader-spec.js';
import type { JsonValue, PayloadTemplate } from './asl.js';
import { DEFINITION_ERROR_REASONS, DefinitionError } from './definition-error.js';
import { PLAIN_SCOPE, resolvePath, type PathScope } from './request-context.js';

/**
 * Turns `spec.item` (attribute -> {DynamoDB type: JSONPath or literal}) into the `Item` of a
 * `dynamodb:putItem` task, in DynamoDB's attribute-value format.
 *
 * A value starting with `$` is a JSONPath into the state input (the download result, or the
 * selected fields when `spec.select` is set); anything else is a literal. DynamoDB takes numbers
 * as strings (`{"N": "123"}`) while JSON bodies usually carry them as numbers, so an N path is
 * wrapped in `States.Format('{}', path)`: users never write States.Format themselves.
 *
 * Paths are read in a PathScope (see request-context.ts): as written for a single request, or
 * under the page or list element, with `$.request.*` for the request an item came from.
 */

/** A DynamoDB attribute type an item may use. */
export type ItemType = (typeof ITEM_TYPES)[number];

const NUMBER_LITERAL = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

/** Whether an item or select value is a JSONPath rather than a literal. */
export function isJsonPath(value: string): boolean {
  return value.startsWith('$');
}

function isItemType(value: string): value is ItemType {
  return (ITEM_TYPES as readonly string[]).includes(value);
}

function invalid(attribute: string, problem: string): DefinitionError {
  return new DefinitionError(
    DEFINITION_ERROR_REASONS.invalidItemMapping,
    `spec.item.${attribute}: ${problem}`,
  );
}

function pathAttribute(type: ItemType, path: string, attribute: string): PayloadTemplate {
  switch (type) {
    case 'N':
      // States.Format renders a JSON number (or a numeric string) as the string DynamoDB wants.
      return { 'N.$': `States.Format('{}', ${path})` };
    case 'S':
    case 'B':
    case 'BOOL':
      return { [`${type}.$`]: path };
    case 'NULL':
      throw invalid(attribute, 'NULL takes the literal true, not a path');
  }
}

function literalAttribute(type: ItemType, literal: string, attribute: string): PayloadTemplate {
  switch (type) {
    case 'S':
    case 'B':
      return { [type]: literal };
    case 'N':
      if (!NUMBER_LITERAL.test(literal)) throw invalid(attribute, `${literal} is not a number`);
      return { N: literal };
    case 'BOOL':
      if (literal !== 'true' && literal !== 'false') {
        throw invalid(attribute, 'a BOOL literal must be true or false');
      }
      return { BOOL: literal === 'true' };
    case 'NULL':
      if (literal !== 'true') throw invalid(attribute, 'NULL takes the literal true');
      return { NULL: true };
  }
}

/**
 * The DynamoDB attribute value template for one item entry, such as `{"S.$": "$.Headers.Date[0]"}`
 * or `{"BOOL": true}`. Throws DefinitionError when the entry is not exactly one known type with a
 * well-formed value (admission checks the same, so this only guards against a bypassed schema).
 */
export function attributeTemplate(
  attribute: string,
  entry: Record<string, string>,
  scope: PathScope = PLAIN_SCOPE,
): PayloadTemplate {
  const types = Object.keys(entry);
  const [written] = types;
  const type = written === undefined ? undefined : normalizeItemType(written);
  if (types.length !== 1 || type === undefined) {
    throw invalid(attribute, `needs exactly one DynamoDB type, found ${types.length}`);
  }
  if (!isItemType(type)) {
    throw invalid(attribute, `unknown DynamoDB type ${type}; use one of ${ITEM_TYPES.join(', ')}`);
  }
  const value = entry[written ?? type] ?? '';
  return isJsonPath(value)
    ? pathAttribute(type, resolvePath(value, scope, `spec.item.${attribute}`), attribute)
    : literalAttribute(type, value, attribute);
}

/**
 * The `Item` parameter of the putItem task, its paths read in `scope`. Attributes are sorted by
 * name so that the same mapping always renders the same definition, whatever order the API
 * server returned it in.
 */
export function itemTemplate(item: ItemMapping, scope: PathScope = PLAIN_SCOPE): PayloadTemplate {
  const template: Record<string, JsonValue> = {};
  for (const attribute of Object.keys(item).sort()) {
    template[attribute] = attributeTemplate(attribute, item[attribute] ?? {}, scope);
  }
  return template;
}

/**
 * The `ResultSelector` of the download task for `spec.select`: each name becomes a field of the
 * state output, `"name.$": "<path>"`. Sorted by name for a stable definition.
 */
export function selectTemplate(select: Record<string, string>): PayloadTemplate {
  const template: Record<string, JsonValue> = {};
  for (const name of Object.keys(select).sort()) {
    const path = select[name] ?? '';
    if (!isJsonPath(path)) {
      throw new DefinitionError(
        DEFINITION_ERROR_REASONS.invalidSelect,
        `spec.select.${name}: ${JSON.stringify(path)} is not a JSONPath starting with $`,
      );
    }
    template[`${name}.$`] = path;
  }
  return template;
}

import { Type, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox';

/**
 * Small builders over TypeBox for schemas that Kubernetes accepts as structural OpenAPI v3.
 *
 * TypeBox's own `Union` of literals and `Record` produce `anyOf` and `patternProperties`, which
 * a CRD schema may not use; these helpers produce `enum` and `additionalProperties` instead while
 * keeping the static TypeScript type.
 */

/** A CEL rule checked by the API server at admission (`x-kubernetes-validations`). */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath-like field the error is reported on, relative to the node carrying the rule. */
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Options accepted by every builder: a description is required so `kubectl explain` reads well. */
export interface FieldOptions extends SchemaOptions {
  description: string;
  'x-kubernetes-validations'?: CelRule[];
}

/** A string restricted to the given values, rendered as an OpenAPI `enum`. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: FieldOptions,
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** A map from string keys to `value`, rendered as `additionalProperties`. */
export function MapOf<T extends TSchema>(
  value: T,
  options: FieldOptions,
): TUnsafe<Record<string, T['static']>> {
  return Type.Unsafe<Record<string, T['static']>>({
    ...options,
    type: 'object',
    additionalProperties: value,
  });
}

/**
 * An RFC 3339 timestamp. The value is a string on the wire; `format: date-time` lets printer
 * columns of type `date` and `kubectl explain` show it as a time.
 */
export function Timestamp(options: FieldOptions) {
  return Type.String({ ...options, format: 'date-time' });
}

/** Removes what TypeBox adds for itself (symbols and `$id`s), leaving plain OpenAPI. */
export function toOpenApi(schema: TSchema): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => (key === '$id' ? undefined : value)),
  ) as Record<string, unknown>;
}

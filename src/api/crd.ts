import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { API_VERSION, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './downloader.js';
import { DownloaderSpecSchema } from './downloader-spec.js';
import { DownloaderStatusSchema } from './downloader-status.js';
import { toOpenApi } from './schema-kit.js';

type OpenApi = Record<string, unknown>;

/**
 * Fields with a default are optional to the user, though the API server always returns them
 * set. The TypeScript types describe what the operator reads (so they stay required there); the
 * CRD describes what a user writes, so they leave `required` here.
 */
function relaxDefaulted(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(relaxDefaulted);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as OpenApi;
  const properties = schema.properties as Record<string, OpenApi> | undefined;
  if (properties && Array.isArray(schema.required)) {
    const required = (schema.required as string[]).filter(
      (name) => properties[name]?.default === undefined,
    );
    if (required.length > 0) schema.required = required;
    else delete schema.required;
  }
  Object.values(schema).forEach(relaxDefaulted);
}

function openApiOf(schema: TSchema): OpenApi {
  const result = toOpenApi(schema);
  relaxDefaulted(result);
  return result;
}

/** The root schema of the Downloader resource. */
export function downloaderOpenApiSchema(): OpenApi {
  const root = Type.Object(
    {
      apiVersion: Type.String({ description: `${API_VERSION}` }),
      kind: Type.String({ description: KIND }),
      metadata: Type.Object({}),
      spec: DownloaderSpecSchema,
      status: Type.Optional(DownloaderStatusSchema),
    },
    {
      description:
        'A Downloader pulls data from a third-party HTTP API on a schedule and stores it in ' +
        'DynamoDB, through an API Gateway proxy and a Step Functions state machine that the ' +
        'operator keeps in AWS.',
    },
  );
  const schema = openApiOf(root);
  const properties = schema.properties as Record<string, OpenApi>;
  properties.apiVersion = { type: 'string', description: 'APIVersion of the object.' };
  properties.kind = { type: 'string', description: 'Kind of the object.' };
  properties.metadata = { type: 'object' };
  schema.required = ['spec'];
  return schema;
}

/** The CustomResourceDefinition of Downloader, as applied to the cluster. */
export function downloaderCrd(): OpenApi {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
            },
            {
              name: 'Reason',
              type: 'string',
              priority: 1,
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
            },
            { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule.expression' },
            { name: 'Last Run', type: 'date', jsonPath: '.status.lastExecution.startTime' },
            {
              name: 'Last Status',
              type: 'string',
              priority: 1,
              jsonPath: '.status.lastExecution.status',
            },
            { name: 'Last Success', type: 'date', jsonPath: '.status.lastSuccessTime' },
            {
              name: 'Cost/Month',
              type: 'string',
              priority: 1,
              jsonPath: '.status.estimatedMonthlyCost.monthlyUsd',
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: downloaderOpenApiSchema() },
        },
      ],
    },
  };
}

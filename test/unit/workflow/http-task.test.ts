import type { StateMachineDefinition, TaskState } from '../../../src/workflow/asl.js';
import { buildDefinition, renderDefinition } from '../../../src/workflow/definition.js';
import { DefinitionError } from '../../../src/workflow/definition-error.js';
import {
  classifyExecutionError,
  EXECUTION_FAILURE_REASONS,
} from '../../../src/workflow/execution-errors.js';
import { HTTP_DOWNLOAD_RETRY } from '../../../src/workflow/tasks.js';
import { httpTaskStateMachinePolicy } from '../../../src/workflow/policies.js';
import { aslErrors } from './asl-validate.js';
import { eveSpec, inputFor } from './fixtures.js';

const CONNECTION_ARN =
  'arn:aws:events:us-east-1:123456789012:connection/dl-eve-eve-player-count-1a2b3c4d-conn/0f0e';
const httpTask = { sourceUrl: 'https://esi.evetech.net', connectionArn: CONNECTION_ARN };

function tasks(definition: StateMachineDefinition): TaskState[] {
  const found: TaskState[] = [];
  const visit = (states: Record<string, unknown>) => {
    for (const state of Object.values(states)) {
      const s = state as { Type: string; ItemProcessor?: { States: Record<string, unknown> } };
      if (s.Type === 'Task') found.push(s as unknown as TaskState);
      if (s.ItemProcessor) visit(s.ItemProcessor.States);
    }
  };
  visit(definition.States as Record<string, unknown>);
  return found;
}

const downloads = (definition: StateMachineDefinition) =>
  tasks(definition).filter((task) => task.Resource.endsWith(':invoke'));

describe('buildDefinition with the HTTP Task', () => {
  it('calls the full source URL with http:invoke and the connection, and nothing of API Gateway', () => {
    const spec = eveSpec({ source: { path: '/v2/status?datasource=tranquility' } });
    const definition = buildDefinition(inputFor(spec, { httpTask }));
    expect(aslErrors(definition)).toBe('');
    const [download] = downloads(definition);
    expect(download?.Resource).toBe('arn:aws:states:::http:invoke');
    expect(download?.Parameters).toEqual({
      ApiEndpoint: 'https://esi.evetech.net/v2/status',
      Method: 'GET',
      Authentication: { ConnectionArn: CONNECTION_ARN },
      QueryParameters: { datasource: 'tranquility' },
    });
  });

  it('sends static headers as single strings', () => {
    const spec = eveSpec({ source: { headers: { Accept: 'application/json', 'X-Client': 'dl' } } });
    const [download] = downloads(buildDefinition(inputFor(spec, { httpTask })));
    expect(download?.Parameters?.Headers).toEqual({ Accept: 'application/json', 'X-Client': 'dl' });
  });

  it('refuses a repeated query parameter, which the HTTP Task cannot send', () => {
    const spec = eveSpec({ source: { path: '/v2/status?id=1&id=2' } });
    expect(() => buildDefinition(inputFor(spec, { httpTask }))).toThrow(DefinitionError);
  });

  it('retries on the HTTP Task error names, with the same policy as through the proxy', () => {
    const [download] = downloads(buildDefinition(inputFor(eveSpec(), { httpTask })));
    expect(download?.Retry).toEqual(HTTP_DOWNLOAD_RETRY);
    const names = (download?.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals);
    expect(names).toContain('States.Http.StatusCode.429');
    expect(names).toContain('States.Http.StatusCode.503');
    expect(names).toContain('States.Http.Socket');
    expect(names.filter((name) => name.startsWith('ApiGateway.'))).toEqual([]);
  });

  it('keeps the secret out: only the connection ARN names the credential', () => {
    const spec = eveSpec({
      source: {
        auth: {
          secretRef: { name: 'esi-token', key: 'token' },
          header: 'Authorization',
          prefix: 'Bearer ',
        },
      },
    });
    const text = renderDefinition(buildDefinition(inputFor(spec, { httpTask })));
    expect(text).not.toContain('esi-token');
    expect(text).not.toContain('Bearer');
    expect(text).toContain(CONNECTION_ARN);
  });

  it('formats the endpoint of fan-out paths from the source URL, escaping what States.Format reads', () => {
    const spec = {
      ...eveSpec(),
      fanOut: { paths: ['/v2/a', '/v2/b'], concurrency: 2 },
      item: { pk: { S: '$.request.value' } },
    };
    const target = { ...httpTask, sourceUrl: "https://example.com/it's{x}" };
    const definition = buildDefinition(inputFor(spec, { httpTask: target }));
    expect(aslErrors(definition)).toBe('');
    const [download] = downloads(definition);
    expect(download?.Parameters?.['ApiEndpoint.$']).toBe(
      "States.Format('https://example.com/it\\'s\\{x\\}{}', $.value)",
    );
    expect(download?.Parameters?.ApiEndpoint).toBeUndefined();
  });

  it('sends page numbers and cursors as single query values', () => {
    const paged = {
      ...eveSpec(),
      source: {
        ...eveSpec().source,
        pagination: {
          type: 'PageNumber' as const,
          pageCountHeader: 'X-Pages',
          maxPages: 10,
        },
      },
    };
    const definition = buildDefinition(inputFor(paged, { httpTask }));
    expect(aslErrors(definition)).toBe('');
    const queries = downloads(definition).map((task) => task.Parameters?.QueryParameters);
    expect(queries).toContainEqual({ page: '1' });
    expect(queries).toContainEqual({ 'page.$': "States.Format('{}', $.page)" });

    const linked = {
      ...eveSpec(),
      source: {
        ...eveSpec().source,
        pagination: { type: 'NextLink' as const, nextPath: '$.ResponseBody.next', maxPages: 5 },
      },
    };
    const next = downloads(buildDefinition(inputFor(linked, { httpTask })));
    expect(next.map((task) => task.Parameters?.['ApiEndpoint.$'])).toContain(
      "States.Format('https://esi.evetech.net{}', $.cursor)",
    );
  });
});

describe('classifyExecutionError for the HTTP Task', () => {
  it.each([
    ['States.Http.StatusCode.401', EXECUTION_FAILURE_REASONS.sourceUnauthorized],
    ['States.Http.StatusCode.403', EXECUTION_FAILURE_REASONS.sourceUnauthorized],
    ['States.Http.StatusCode.404', EXECUTION_FAILURE_REASONS.sourceNotFound],
    ['States.Http.StatusCode.429', EXECUTION_FAILURE_REASONS.sourceThrottled],
    ['States.Http.StatusCode.502', EXECUTION_FAILURE_REASONS.sourceServerError],
    ['States.Http.StatusCode.400', EXECUTION_FAILURE_REASONS.sourceRejectedRequest],
    ['States.Http.StatusCode.301', EXECUTION_FAILURE_REASONS.sourceUnexpectedStatus],
    ['States.Http.Socket', EXECUTION_FAILURE_REASONS.sourceUnreachable],
    [
      'Events.ConnectionResource.InvalidConnectionState',
      EXECUTION_FAILURE_REASONS.connectionUnavailable,
    ],
  ])('reports %s as %s', (error, reason) => {
    expect(classifyExecutionError(error, 'cause')?.reason).toBe(reason);
  });

  it('reads a 403 as the source refusing, even with API Gateway words in the body', () => {
    const cause = '{"ResponseBody":{"message":"Missing Authentication Token"},"StatusCode":403}';
    expect(classifyExecutionError('States.Http.StatusCode.403', cause)?.reason).toBe(
      EXECUTION_FAILURE_REASONS.sourceUnauthorized,
    );
  });
});

describe('httpTaskStateMachinePolicy', () => {
  const policy = httpTaskStateMachinePolicy({
    partition: 'aws',
    stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:dl-eve-x',
    sourceUrl: 'https://esi.evetech.net',
    method: 'get',
    connectionArn: CONNECTION_ARN,
    connectionName: 'dl-eve-eve-player-count-1a2b3c4d-conn',
    tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/PlayerCountTable',
  });

  it('lets the role call only below the source URL, with the one method', () => {
    expect(policy.Statement[0]).toEqual({
      Sid: 'InvokeSource',
      Effect: 'Allow',
      Action: 'states:InvokeHTTPEndpoint',
      Resource: 'arn:aws:states:us-east-1:123456789012:stateMachine:dl-eve-x',
      Condition: {
        StringEquals: { 'states:HTTPMethod': 'GET' },
        StringLike: { 'states:HTTPEndpoint': 'https://esi.evetech.net/*' },
      },
    });
  });

  it('reads only its own connection and the secret EventBridge keeps for it', () => {
    const resources = policy.Statement.map((s) => s.Resource);
    expect(resources).toContain(CONNECTION_ARN);
    expect(resources).toContain(
      'arn:aws:secretsmanager:*:*:secret:events!connection/dl-eve-eve-player-count-1a2b3c4d-conn/*',
    );
    expect(policy.Statement.flatMap((s) => [s.Action].flat())).not.toContain('execute-api:Invoke');
  });
});

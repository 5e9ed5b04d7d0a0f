import { classifyExecutionError } from '../../../src/workflow/execution-errors.js';

describe('classifyExecutionError', () => {
  it('gives nothing for an execution without an error', () => {
    expect(classifyExecutionError(undefined, undefined)).toBeUndefined();
    expect(classifyExecutionError('', 'cause')).toBeUndefined();
  });

  it.each([
    ['ApiGateway.401', '{"error":"token expired"}', 'SourceUnauthorized'],
    ['ApiGateway.403', '{"error":"forbidden"}', 'SourceUnauthorized'],
    ['ApiGateway.404', 'Not Found', 'SourceNotFound'],
    ['ApiGateway.429', 'slow down', 'SourceThrottled'],
    ['ApiGateway.500', '', 'SourceServerError'],
    ['ApiGateway.502', '{"message": "Internal server error"}', 'SourceServerError'],
    ['ApiGateway.503', undefined, 'SourceServerError'],
    ['ApiGateway.504', '{"message": "Endpoint request timed out"}', 'SourceServerError'],
    ['ApiGateway.400', 'bad query', 'SourceRejectedRequest'],
    ['ApiGateway.422', 'unprocessable', 'SourceRejectedRequest'],
    ['ApiGateway.301', '', 'SourceUnexpectedStatus'],
    ['ApiGateway.SocketTimeoutException', 'Read timed out', 'SourceUnreachable'],
    ['DynamoDB.ValidationException', 'One or more parameter values were invalid', 'ItemInvalid'],
    ['DynamoDB.AccessDeniedException', 'not authorized to perform PutItem', 'TableAccessDenied'],
    ['DynamoDB.ResourceNotFoundException', 'Requested resource not found', 'TableNotFound'],
    ['DynamoDB.ProvisionedThroughputExceededException', '', 'TableUnavailable'],
    ['DynamoDB.ThrottlingException', '', 'TableUnavailable'],
    ['DynamoDB.RequestLimitExceeded', '', 'TableUnavailable'],
    ['DynamoDB.InternalServerError', '', 'TableUnavailable'],
    ['States.DataLimitExceeded', 'The state/task returned a result too large', 'ResultTooLarge'],
    ['States.Timeout', '', 'TimedOut'],
    ['States.Permissions', '', 'PermissionDenied'],
    ['TIMED_OUT', undefined, 'TimedOut'],
    ['ABORTED', undefined, 'ExecutionAborted'],
    ['Lambda.Unknown', 'something else', 'ExecutionFailed'],
    ['Downloader.PageCountUnreadable', 'The page count ... is not a number', 'PageCountUnreadable'],
    ['Downloader.NextLinkUnsupported', 'The next link is not a path', 'NextLinkUnsupported'],
  ])('classifies %s as its reason', (error, cause, reason) => {
    expect(classifyExecutionError(error, cause)?.reason).toBe(reason);
  });

  it('reports a States.Runtime error in the put-item state as ItemPathMismatch', () => {
    const cause =
      "An error occurred while executing the state 'Persist' (entered at the event id #7). " +
      "The JSONPath '$.ResponseBody.players' specified for the field 'N.$' could not be found " +
      'in the input \'{"StatusCode":200}\'';

    expect(classifyExecutionError('States.Runtime', cause)?.reason).toBe('ItemPathMismatch');
  });

  it('reports a States.Runtime error in the download state as SelectPathMismatch', () => {
    const cause =
      "An error occurred while executing the state 'Download' (entered at the event id #2). " +
      "The JSONPath '$.ResponseBody.nope' specified for the field 'players.$' could not be found";

    expect(classifyExecutionError('States.Runtime', cause)?.reason).toBe('SelectPathMismatch');
  });

  it('reports the local cloud path failure, a generic DynamoDB error, as ItemPathMismatch', () => {
    const cause = 'The JSONPath \'$.players\' could not be found in the input \'{"date": "d"}\'';

    expect(classifyExecutionError('DynamoDB.AmazonDynamoDBException', cause)?.reason).toBe(
      'ItemPathMismatch',
    );
    expect(
      classifyExecutionError(
        'DynamoDB.AmazonDynamoDBException',
        'Start of structure or map found where not expected (Error Code: SerializationException)',
      )?.reason,
    ).toBe('ItemInvalid');
  });

  it('reports a States.Runtime error without a cause as ItemPathMismatch', () => {
    expect(classifyExecutionError('States.Runtime', undefined)?.reason).toBe('ItemPathMismatch');
  });

  it("tells API Gateway's own 403 for a missing route from the source's 403", () => {
    const missingRoute = classifyExecutionError(
      'ApiGateway.403',
      '{"message":"Missing Authentication Token"}',
    );
    const iamDenied = classifyExecutionError(
      'ApiGateway.403',
      '{"Message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: ' +
        'execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:1:abc/prod/GET/v2/status"}',
    );

    expect(missingRoute?.reason).toBe('ProxyNotDeployed');
    expect(iamDenied?.reason).toBe('ProxyAccessDenied');
  });

  it('puts the error name and the cause in the message', () => {
    expect(classifyExecutionError('ApiGateway.404', '{"error":"no such route"}')?.message).toBe(
      'ApiGateway.404: {"error":"no such route"}',
    );
    expect(classifyExecutionError('States.Timeout', undefined)?.message).toBe('States.Timeout');
  });

  it('masks the values it is told to redact, wherever the source echoed them', () => {
    const failure = classifyExecutionError(
      'ApiGateway.400',
      '{"headers":{"Authorization":"Bearer s3cr3t-value"},"again":"s3cr3t-value"}',
      { redact: ['s3cr3t-value', ''] },
    );

    expect(failure?.message).not.toContain('s3cr3t-value');
    expect(failure?.message).toContain('Bearer [redacted]');
  });

  it('shortens a long cause', () => {
    const failure = classifyExecutionError('ApiGateway.500', 'x'.repeat(10_000), {
      maxCauseLength: 100,
    });

    expect(failure?.message).toBe(`ApiGateway.500: ${'x'.repeat(100)}...`);
  });

  it.each([
    ['ReadPageCount', 'PageCountUnreadable'],
    ['ParsePageCount', 'PageCountUnreadable'],
    ['ListPages', 'PageCountUnreadable'],
    ['WriteItems', 'ItemsPathMismatch'],
    ['WriteFirstPageItems', 'ItemsPathMismatch'],
    ['WritePageItems', 'ItemsPathMismatch'],
    ['PutPageItem', 'ItemPathMismatch'],
    ['DownloadFirstPage', 'ItemPathMismatch'],
  ])('reports a States.Runtime error in %s as %s', (state, reason) => {
    const cause =
      `An error occurred while executing the state '${state}' (entered at the event id #7). ` +
      "The JSONPath '$.x' specified for the field 'x.$' could not be found in the input '{}'";

    expect(classifyExecutionError('States.Runtime', cause)?.reason).toBe(reason);
  });

  it('reports the local interpreter error for a list that is not one as ItemsPathMismatch', () => {
    const cause = "An error occurred while executing the state 'WritePageItems'";

    expect(classifyExecutionError('States.QueryEvaluationError', cause)?.reason).toBe(
      'ItemsPathMismatch',
    );
  });
});

import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { NoSuchEntityException } from '@aws-sdk/client-iam';
import {
  awsErrorKind,
  isAccessDenied,
  isConflict,
  isNotFound,
  isThrottling,
  isTransient,
  roleMayBePropagating,
  scrubSecret,
  whileRolePropagates,
} from '../../../src/aws/errors.js';
import { RequeueAfter } from '../../../src/errors.js';
import { awsError } from './fake-client.js';

describe('AWS error classification', () => {
  it.each([
    ['ResourceNotFoundException', 400],
    ['NotFoundException', 404],
    ['NoSuchEntity', 404],
    ['NoSuchEntityException', 404],
    ['StateMachineDoesNotExist', 400],
    ['ExecutionDoesNotExist', 400],
  ])('classifies %s as notFound', (name, status) => {
    expect(isNotFound(awsError(name, status))).toBe(true);
    expect(awsErrorKind(awsError(name, status))).toBe('notFound');
  });

  it('classifies the SDK exception classes by their name', () => {
    const dynamo = new ResourceNotFoundException({ message: 'gone', $metadata: {} });
    const iam = new NoSuchEntityException({ message: 'gone', $metadata: {} });
    expect([isNotFound(dynamo), isNotFound(iam)]).toEqual([true, true]);
  });

  it('does not take a bare 404 for not found (a wrong endpoint answers 404 too)', () => {
    expect(isNotFound(awsError('UnknownOperationException', 404))).toBe(false);
  });

  it.each([
    ['ThrottlingException', 400],
    ['TooManyRequestsException', 429],
    ['Throttling', 400],
    ['RequestLimitExceeded', 400],
    ['ProvisionedThroughputExceededException', 400],
    ['LimitExceededException', 429],
  ])('classifies %s (HTTP %i) as throttling and transient', (name, status) => {
    const err = awsError(name, status);
    expect(isThrottling(err)).toBe(true);
    expect(isTransient(err)).toBe(true);
    expect(awsErrorKind(err)).toBe('throttling');
  });

  it('classifies an error the SDK marks as throttling', () => {
    const err = Object.assign(awsError('SomethingNew'), { $retryable: { throttling: true } });
    expect(awsErrorKind(err)).toBe('throttling');
  });

  it('does not take IAM LimitExceededException (a quota, HTTP 409) for throttling', () => {
    expect(isThrottling(awsError('LimitExceededException', 409))).toBe(false);
  });

  it.each([
    ['AccessDeniedException', 400],
    ['AccessDenied', 403],
    ['UnauthorizedOperation', 403],
    ['ExpiredTokenException', 403],
  ])('classifies %s as accessDenied', (name, status) => {
    expect(isAccessDenied(awsError(name, status))).toBe(true);
    expect(awsErrorKind(awsError(name, status))).toBe('accessDenied');
  });

  it.each([
    'ConflictException',
    'ResourceInUseException',
    'EntityAlreadyExists',
    'EntityAlreadyExistsException',
    'StateMachineAlreadyExists',
    'ExecutionAlreadyExists',
  ])('classifies %s as conflict', (name) => {
    expect(isConflict(awsError(name, 409))).toBe(true);
    expect(awsErrorKind(awsError(name, 409))).toBe('conflict');
  });

  it('classifies server faults, 5xx answers and network failures as transient', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const timeout = Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' });
    const unparsable = Object.assign(new SyntaxError('Unexpected token <'), {
      $metadata: { httpStatusCode: 500 },
    });
    for (const err of [awsError('InternalServerError', 500), reset, timeout, unparsable]) {
      expect(isTransient(err)).toBe(true);
      expect(awsErrorKind(err)).toBe('transient');
    }
  });

  it('calls a client error it does not know "other", and so anything that is not an AWS error', () => {
    expect(awsErrorKind(awsError('ValidationException'))).toBe('other');
    expect(awsErrorKind(new Error('plain'))).toBe('other');
    expect(awsErrorKind(undefined)).toBe('other');
    expect(awsErrorKind('a string')).toBe('other');
  });

  it('never reads the message: a message that names another kind changes nothing', () => {
    const err = awsError('ValidationException', 400, 'ThrottlingException: AccessDenied not found');
    expect(awsErrorKind(err)).toBe('other');
  });

  it('classifies an AWS error wrapped as the cause of another', () => {
    const wrapped = new Error('reading the table', {
      cause: awsError('ResourceNotFoundException'),
    });
    expect(awsErrorKind(wrapped)).toBe('notFound');
  });
});

describe('scrubSecret', () => {
  it('removes the secret from message, Message and stack, keeping name and metadata', () => {
    const err = Object.assign(awsError('BadRequestException', 400, "bad value 'Bearer s3cr3t'"), {
      Message: "bad value 'Bearer s3cr3t'",
      $response: { body: 'Bearer s3cr3t' },
    });
    const scrubbed = scrubSecret(err, 'Bearer s3cr3t');
    expect(scrubbed).toBe(err);
    expect(
      JSON.stringify({ ...scrubbed, message: scrubbed.message, stack: scrubbed.stack }),
    ).not.toContain('s3cr3t');
    expect(scrubbed.message).toBe("bad value '[redacted]'");
    expect(scrubbed.name).toBe('BadRequestException');
    expect(awsErrorKind(scrubbed)).toBe('other');
  });

  it('leaves an error without the secret alone', () => {
    const err = awsError('BadRequestException');
    expect(scrubSecret(err, undefined).message).toBe('BadRequestException (test)');
  });
});

describe('roleMayBePropagating', () => {
  const created = '2026-01-01T00:00:00.000Z';
  const at = (seconds: number) => Date.parse(created) + seconds * 1000;

  it('is true within the window after the role was created', () => {
    expect(roleMayBePropagating(created, at(10))).toBe(true);
  });

  it('is false once the window has passed, or when the creation time is unknown', () => {
    expect(roleMayBePropagating(created, at(61))).toBe(false);
    expect(roleMayBePropagating(undefined, at(1))).toBe(false);
    expect(roleMayBePropagating('not a date', at(1))).toBe(false);
  });
});

describe('whileRolePropagates', () => {
  const created = '2026-01-01T00:00:00.000Z';
  const role = { roleArn: 'arn:aws:iam::123456789012:role/r', roleCreatedAt: created };
  const refusal = {
    errorName: 'AccessDeniedException',
    reason: 'RolePropagating',
    service: 'Step Functions',
  };
  const window = (seconds: number) => ({
    now: () => Date.parse(created) + seconds * 1000,
    windowMs: 60_000,
  });
  const refuse = () => Promise.reject(awsError('AccessDeniedException'));

  it("passes the call's result through", async () => {
    await expect(whileRolePropagates(role, refusal, window(1), async () => 7)).resolves.toBe(7);
  });

  it('turns the refusal of a young role into a requeue with the reason and the role', async () => {
    const err: unknown = await whileRolePropagates(role, refusal, window(10), refuse).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RequeueAfter);
    expect(err).toMatchObject({
      reason: 'RolePropagating',
      message: `Step Functions cannot assume role ${role.roleArn} yet: IAM is still propagating the new role`,
    });
  });

  it('lets the refusal of an older role, or another error, through', async () => {
    await expect(whileRolePropagates(role, refusal, window(61), refuse)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    const other = () => Promise.reject(awsError('ValidationException'));
    await expect(whileRolePropagates(role, refusal, window(10), other)).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

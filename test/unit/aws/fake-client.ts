/**
 * A stand-in for an AWS SDK v3 client in unit tests: `send` looks up a handler by the command's
 * operation name (the class name without "Command") and records every call. Unknown operations
 * fail the test, so a test states every AWS call it expects.
 */
export type Handler = (input: Record<string, unknown>) => unknown;

export interface FakeClient {
  send(command: { input: unknown }): Promise<unknown>;
  /** Operation names in call order. */
  calls: string[];
}

export function fakeClient(handlers: Record<string, Handler>): FakeClient {
  const calls: string[] = [];
  return {
    calls,
    async send(command) {
      const operation = command.constructor.name.replace(/Command$/, '');
      calls.push(operation);
      const handler = handlers[operation];
      if (!handler) throw new Error(`unexpected AWS call ${operation}`);
      return handler(command.input as Record<string, unknown>);
    },
  };
}

/** An error shaped as the SDK throws them: a name, a fault, an HTTP status. */
export function awsError(name: string, status = 400, message = `${name} (test)`): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

import { AWS_DEFAULT_RATE_LIMITS } from '../../../src/aws/pacing.js';
import { ConfigError, loadConfig } from '../../../src/config.js';

describe('the --aws-rate-limits option', () => {
  it('paces at the documented quotas when not given', () => {
    expect(loadConfig([], {}).awsRateLimits).toBe(AWS_DEFAULT_RATE_LIMITS);
  });

  it('reads the flag before the environment variable', () => {
    const config = loadConfig(['--aws-rate-limits', 'states:ListExecutions=5/200'], {
      AWS_RATE_LIMITS: 'off',
    });
    expect(config.awsRateLimits['states:ListExecutions']).toEqual({
      ratePerSecond: 5,
      burst: 200,
    });
    expect(loadConfig([], { AWS_RATE_LIMITS: 'off' }).awsRateLimits).toEqual({});
  });

  it('refuses a malformed setting, naming the flag and the environment variable', () => {
    expect(() => loadConfig(['--aws-rate-limits', 'apigateway:CreateRestApi=fast'], {})).toThrow(
      ConfigError,
    );
    expect(() => loadConfig(['--aws-rate-limits', 'apigateway:CreateRestApi=fast'], {})).toThrow(
      /--aws-rate-limits \(AWS_RATE_LIMITS\): apigateway:CreateRestApi: "fast" is not rate\/burst/,
    );
  });
});

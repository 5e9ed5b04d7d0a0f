import {
  decodePolicyDocument,
  jsonEqual,
  policiesEqual,
} from '../../../src/aws/policy-document.js';

const policy = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: 'arn:aws:dynamodb:*' }],
};

describe('policy documents', () => {
  it('decodes the URL-encoded documents IAM returns, and leaves plain JSON as it is', () => {
    const text = JSON.stringify(policy);
    expect(decodePolicyDocument(encodeURIComponent(text))).toBe(text);
    expect(decodePolicyDocument(text)).toBe(text);
  });

  it('finds a URL-encoded, reformatted copy equal to the original', () => {
    const reformatted = encodeURIComponent(JSON.stringify(policy, null, 4));
    expect(policiesEqual(JSON.stringify(policy), reformatted)).toBe(true);
  });

  it('takes a one-element list as its element, as IAM does', () => {
    const scalar = { ...policy, Statement: { ...policy.Statement[0], Action: 'dynamodb:PutItem' } };
    expect(policiesEqual(JSON.stringify(policy), JSON.stringify(scalar))).toBe(true);
  });

  it('tells apart documents that grant something else', () => {
    const more = {
      ...policy,
      Statement: [{ ...policy.Statement[0], Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'] }],
    };
    expect(policiesEqual(JSON.stringify(policy), JSON.stringify(more))).toBe(false);
  });

  it('compares JSON regardless of whitespace and key order, and text that is not JSON as text', () => {
    expect(jsonEqual('{"a":1,"b":[1,2]}', '{\n  "b": [1, 2],\n  "a": 1\n}')).toBe(true);
    expect(jsonEqual('{"a":1}', '{"a":2}')).toBe(false);
    expect(jsonEqual('not json', 'not json')).toBe(true);
    expect(jsonEqual('not json', 'not json ')).toBe(false);
  });
});

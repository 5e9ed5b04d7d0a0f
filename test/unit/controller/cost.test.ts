import type { DownloaderSpec } from '../../../src/api/downloader-spec.js';
import {
  countTransitions,
  estimateMonthlyCost,
  runsPerMonth,
} from '../../../src/controller/cost.js';

const spec = (expression: string, type: 'STANDARD' | 'EXPRESS' = 'STANDARD'): DownloaderSpec =>
  ({
    source: { url: 'https://esi.evetech.net', path: '/v2/status', method: 'GET' },
    table: { name: 'T', partitionKey: { name: 'pk', type: 'S' }, deletionPolicy: 'Retain' },
    item: { pk: { S: '$.x' } },
    schedule: { expression, timezone: 'UTC', suspend: false },
    workflow: { type },
  }) as DownloaderSpec;

describe('runsPerMonth', () => {
  it.each([
    ['rate(1 minute)', 43_200],
    ['rate(5 minutes)', 8_640],
    ['rate(1 hour)', 720],
    ['rate(2 days)', 15],
    ['at(2030-01-01T00:00:00)', 1],
    ['cron(0 12 * * ? *)', 30],
    ['cron(0/15 * * * ? *)', 2_880],
    ['cron(0 8 ? * MON-FRI *)', (5 * 30) / 7],
    ['cron(0 9 1 * ? *)', 1],
    ['cron(0 10 ? * 6L *)', 30 / 7],
  ])('counts %s as %d runs a month', (expression, runs) => {
    expect(runsPerMonth(expression)).toBeCloseTo(runs, 5);
  });
});

describe('estimateMonthlyCost', () => {
  it('prices the article pipeline every minute as STANDARD at about 2.38 USD, mostly transitions', () => {
    const estimate = estimateMonthlyCost(spec('rate(1 minute)'), 2);
    expect(estimate).toEqual({
      monthlyUsd: '2.38',
      runsPerMonth: 43_200,
      breakdown: { stepFunctions: '2.16', apiGateway: '0.15', dynamodb: '0.03', scheduler: '0.04' },
    });
  });

  it('leaves out API Gateway and adds the connection secret for the HttpTask transport', () => {
    const base = spec('rate(1 minute)');
    const direct = { ...base, source: { ...base.source, transport: 'HttpTask' as const } };
    const estimate = estimateMonthlyCost(direct, 2);
    expect(estimate.breakdown).toEqual({
      stepFunctions: '2.16',
      apiGateway: '0.00',
      dynamodb: '0.03',
      scheduler: '0.04',
      connection: '0.40',
    });
    expect(estimate.monthlyUsd).toBe('2.63');
  });

  it('makes EXPRESS far cheaper for the same short runs', () => {
    const express = estimateMonthlyCost(spec('rate(1 minute)', 'EXPRESS'), 2);
    expect(express.breakdown.stepFunctions).toBe('0.09');
    expect(Number(express.monthlyUsd)).toBeLessThan(0.35);
  });

  it('costs nothing while suspended', () => {
    const suspended = spec('rate(1 minute)');
    suspended.schedule.suspend = true;
    expect(estimateMonthlyCost(suspended, 2).monthlyUsd).toBe('0.00');
  });
});

describe('countTransitions', () => {
  it('counts nested Map states', () => {
    const definition = JSON.stringify({
      StartAt: 'A',
      States: {
        A: { Type: 'Task' },
        B: { Type: 'Map', ItemProcessor: { States: { C: { Type: 'Task' }, D: { Type: 'Task' } } } },
      },
    });
    expect(countTransitions(definition)).toBe(4);
  });
});

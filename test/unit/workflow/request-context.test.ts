import {
  EXECUTION_START_TIME_PATH,
  PLAIN_SCOPE,
  resolvePath,
  type PathScope,
} from '../../../src/workflow/request-context.js';

const PAGE: PathScope = {
  root: '$.response',
  select: { players: '$.ResponseBody.players', first: '$.ResponseBody.items[0]' },
  request: { page: '$.page', value: '$.value' },
};
const ELEMENT: PathScope = { root: '$.element', request: { index: '$.index', page: '$.page' } };

describe('resolvePath', () => {
  it.each<[string, PathScope, string, string]>([
    ['a path, in the single-request scope', PLAIN_SCOPE, '$.ResponseBody.a', '$.ResponseBody.a'],
    ['the start time, anywhere', PLAIN_SCOPE, '$.request.time', EXECUTION_START_TIME_PATH],
    ['a path into the page', PAGE, "$.Headers['X-Pages'][0]", "$.response.Headers['X-Pages'][0]"],
    ['the page number', PAGE, '$.request.page', '$.page'],
    ['the fan-out value', PAGE, '$.request.value', '$.value'],
    ['a select name', PAGE, '$.players', '$.response.ResponseBody.players'],
    ['a select name and more', PAGE, '$.first.id', '$.response.ResponseBody.items[0].id'],
    ['a select name in brackets', PAGE, "$['players']", '$.response.ResponseBody.players'],
    ['a name that is not selected', PAGE, '$.other', '$.response.other'],
    ['the element', ELEMENT, '$', '$.element'],
    ['a field of the element', ELEMENT, '$.price', '$.element.price'],
    ['an element field named request', ELEMENT, "$['request']", "$.element['request']"],
    ['the index', ELEMENT, '$.request.index', '$.index'],
  ])('reads %s', (_name, scope, path, expected) => {
    expect(resolvePath(path, scope, 'spec.item.x')).toBe(expected);
  });

  it('throws InvalidItemMapping, naming the field, for a request field not available', () => {
    expect(() => resolvePath('$.request.value', ELEMENT, 'spec.item.kind')).toThrow(
      expect.objectContaining({
        reason: 'InvalidItemMapping',
        message: expect.stringMatching(/^spec\.item\.kind: \$\.request\.value/),
      }),
    );
  });
});

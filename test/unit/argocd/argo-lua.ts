import { LuaFactory } from 'wasmoon';

/**
 * Runs an Argo CD health script the way Argo CD does, on real Lua (5.4, compiled to WebAssembly):
 * `obj` is the resource decoded from JSON into Lua tables (objects become tables with string
 * keys, arrays sequences from 1, null nil), the script's return value is the health, and the
 * script sees only what Argo CD's sandbox opens for custom checks: the base, package and table
 * libraries and an os library with time and date alone. No string or math library, and strings
 * have no methods, so a script that would fail in Argo CD fails here too.
 *
 * Argo CD's interpreter is gopher-lua (Lua 5.1): this runs the common subset but cannot reject
 * syntax newer than 5.1.
 */

/** What Argo CD keeps of the returned table. */
export interface HealthStatus {
  status: string;
  message?: string;
}

/** Statuses Argo CD accepts; anything else becomes Unknown, as in Argo CD. */
const VALID_STATUSES = new Set([
  'Healthy',
  'Progressing',
  'Degraded',
  'Suspended',
  'Missing',
  'Unknown',
]);

// Removes what Argo CD's sandbox does not open, after the standard libraries are loaded.
const SANDBOX = `
local time, date = os.time, os.date
debug.setmetatable("", nil)
for _, name in ipairs({ "string", "math", "io", "utf8", "coroutine", "debug", "os" }) do
  _G[name] = nil
  package.loaded[name] = nil
end
os = { time = time, date = date }
package.loaded.os = os
dofile, loadfile, require = nil, nil, nil
`;

const factory = new LuaFactory();

/** `value` (parsed JSON) as a Lua expression that builds the same tables. */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a JSON number: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${luaLiteral(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`not JSON: ${typeof value}`);
}

function luaString(text: string): string {
  // Quotes and backslashes escaped, control characters as decimal escapes; the rest reaches Lua
  // as the UTF-8 bytes it is.
  let escaped = '';
  for (const c of text) {
    const code = c.codePointAt(0) ?? 0;
    if (c === '"' || c === '\\') escaped += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) escaped += `\\${String(code).padStart(3, '0')}`;
    else escaped += c;
  }
  return `"${escaped}"`;
}

/** Runs `script` with `obj` in a fresh sandbox and returns the health it reports. */
export async function runHealthScript(script: string, obj: unknown): Promise<HealthStatus> {
  const lua = await factory.createEngine();
  try {
    await lua.doString(SANDBOX);
    // Round-trip through JSON first, as Argo CD's input is always JSON.
    await lua.doString(`obj = ${luaLiteral(JSON.parse(JSON.stringify(obj)))}`);
    const result: unknown = await lua.doString(script);
    if (!result || typeof result !== 'object') {
      throw new Error(`expect table output from Lua script, not ${typeof result}`);
    }
    const { status, message } = result as { status?: unknown; message?: unknown };
    if (typeof status !== 'string' || !VALID_STATUSES.has(status)) {
      return { status: 'Unknown', message: 'Lua returned an invalid health status' };
    }
    return typeof message === 'string' ? { status, message } : { status };
  } finally {
    lua.global.close();
  }
}

// Runs an Argo CD health script under a real Lua interpreter (fengari, a Lua 5.3 VM in JS) the
// way Argo CD does: the resource as the global table `obj`, the script's return value as the health.
// Only the base, string, table and math libraries are opened: what a health script may rely on.
import { createRequire } from 'node:module';

type LuaState = object;
type LuaString = Uint8Array;
type OpenLib = (L: LuaState) => number;

// The slice of fengari's API (a port of Lua's C API) that is used here.
interface Fengari {
  to_luastring(s: string): LuaString;
  lua: {
    LUA_OK: number;
    LUA_TNIL: number;
    LUA_TBOOLEAN: number;
    LUA_TNUMBER: number;
    LUA_TSTRING: number;
    LUA_TTABLE: number;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_pushstring(L: LuaState, s: LuaString): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushboolean(L: LuaState, b: boolean): void;
    lua_pushnil(L: LuaState): void;
    lua_setfield(L: LuaState, index: number, key: LuaString): void;
    lua_rawseti(L: LuaState, index: number, i: number): void;
    lua_setglobal(L: LuaState, name: LuaString): void;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_type(L: LuaState, index: number): number;
    lua_next(L: LuaState, index: number): number;
    lua_pop(L: LuaState, n: number): void;
    lua_pushvalue(L: LuaState, index: number): void;
    lua_tojsstring(L: LuaState, index: number): string;
    lua_tonumber(L: LuaState, index: number): number;
    lua_toboolean(L: LuaState, index: number): boolean;
    lua_gettop(L: LuaState): number;
  };
  lauxlib: {
    luaL_newstate(): LuaState;
    luaL_loadstring(L: LuaState, s: LuaString): number;
    luaL_requiref(L: LuaState, name: LuaString, openf: OpenLib, glb: number): void;
  };
  lualib: {
    luaopen_base: OpenLib;
    luaopen_string: OpenLib;
    luaopen_table: OpenLib;
    luaopen_math: OpenLib;
  };
}

const fengari = createRequire(import.meta.url)('fengari') as Fengari;
const { lua, lauxlib, lualib, to_luastring } = fengari;

export type LuaValue = null | boolean | number | string | LuaValue[] | { [key: string]: LuaValue };

/** What a health script returns, as Argo CD reads it. */
export interface HealthStatus {
  status: string;
  message: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Pushes a JSON value the way Argo CD hands a resource to Lua: objects and arrays become tables. */
function push(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'number') {
    // fengari's integers are 32-bit; an integral value prints like gopher-lua's numbers ("3", not "3.0").
    if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) lua.lua_pushinteger(L, value);
    else lua.lua_pushnumber(L, value);
  } else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, i) => {
      push(L, item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, v] of entries) {
      push(L, v);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  } else {
    throw new TypeError(`Cannot hand a ${typeof value} to Lua.`);
  }
}

/** Reads the value on top of the stack (tables with string keys become objects). */
function read(L: LuaState, index: number): LuaValue {
  const t = lua.lua_type(L, index);
  if (t === lua.LUA_TNIL) return null;
  if (t === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, index);
  if (t === lua.LUA_TNUMBER) return lua.lua_tonumber(L, index);
  if (t === lua.LUA_TSTRING) return lua.lua_tojsstring(L, index);
  if (t === lua.LUA_TTABLE) {
    const out: Record<string, LuaValue> = {};
    lua.lua_pushvalue(L, index);
    lua.lua_pushnil(L);
    while (lua.lua_next(L, -2) !== 0) {
      // Copy the key before converting it, so lua_next keeps its own.
      lua.lua_pushvalue(L, -2);
      const key = lua.lua_tojsstring(L, -1);
      lua.lua_pop(L, 1);
      out[key] = read(L, lua.lua_gettop(L));
      lua.lua_pop(L, 1);
    }
    lua.lua_pop(L, 1);
    return out;
  }
  throw new TypeError(`The script returned a Lua value of type ${t}, which a health check never returns.`);
}

/** Runs the script with `obj` set and returns whatever it returned, converted to JSON. */
export function runLua(script: string, obj: unknown): LuaValue {
  const L = lauxlib.luaL_newstate();
  const libs: [string, OpenLib][] = [
    ['_G', lualib.luaopen_base],
    ['string', lualib.luaopen_string],
    ['table', lualib.luaopen_table],
    ['math', lualib.luaopen_math],
  ];
  for (const [name, open] of libs) {
    lauxlib.luaL_requiref(L, to_luastring(name), open, 1);
    lua.lua_pop(L, 1);
  }
  push(L, obj);
  lua.lua_setglobal(L, to_luastring('obj'));
  if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK) {
    throw new Error(`The Lua script did not compile: ${lua.lua_tojsstring(L, -1)}`);
  }
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
    throw new Error(`The Lua script failed: ${lua.lua_tojsstring(L, -1)}`);
  }
  return read(L, lua.lua_gettop(L));
}

/** Runs an Argo CD health script and checks that it returned {status, message} and nothing else. */
export function runHealthScript(script: string, obj: unknown): HealthStatus {
  const result = runLua(script, obj);
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new Error(`The health script returned ${JSON.stringify(result)} instead of a table.`);
  }
  const { status, message, ...rest } = result;
  if (typeof status !== 'string' || typeof message !== 'string' || Object.keys(rest).length > 0) {
    throw new Error(`The health script returned ${JSON.stringify(result)}: it must be exactly {status, message}, both strings.`);
  }
  return { status, message };
}

/**
 * A JSON Schema (draft-04) check for the keywords the SARIF 2.1.0 schema uses: type, properties,
 * required, additionalProperties, items, minItems, uniqueItems, enum, minimum, maximum, pattern,
 * anyOf, oneOf, $ref to "#/definitions/…", and format "uri"/"uri-reference"/"date-time".
 * Returns the problems, each as "path: what".
 */
type Schema = Record<string, any>;

export function validate(schema: Schema, value: unknown): string[] {
  const root = schema;
  const problems: string[] = [];
  const resolve = (s: Schema): Schema => {
    if (typeof s['$ref'] !== 'string') return s;
    const ref = s['$ref'] as string;
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
    return resolve(ref.slice(2).split('/').reduce((n: any, k) => n[k], root) as Schema);
  };
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  const check = (raw: Schema, v: unknown, path: string, out: string[]): void => {
    const s = resolve(raw);
    const known = new Set(['description', 'default', 'title', 'id', '$schema', 'definitions', '$ref', 'type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'uniqueItems', 'enum', 'minimum', 'maximum', 'pattern', 'anyOf', 'oneOf', 'format']);
    for (const k of Object.keys(s)) if (!known.has(k)) throw new Error(`unsupported keyword ${k} at ${path}`);
    if (s['type']) {
      const types = ([] as string[]).concat(s['type']);
      const t = typeOf(v);
      if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) { out.push(`${path}: expected ${types.join('|')}, got ${t}`); return; }
    }
    if (s['enum'] && !(s['enum'] as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(v))) out.push(`${path}: ${JSON.stringify(v)} not in ${JSON.stringify(s['enum'])}`);
    if (typeof v === 'number') {
      if (s['minimum'] !== undefined && v < s['minimum']) out.push(`${path}: ${v} < minimum ${s['minimum']}`);
      if (s['maximum'] !== undefined && v > s['maximum']) out.push(`${path}: ${v} > maximum ${s['maximum']}`);
    }
    if (typeof v === 'string') {
      if (s['pattern'] && !new RegExp(s['pattern']).test(v)) out.push(`${path}: "${v}" does not match ${s['pattern']}`);
      if (s['format'] === 'uri' && !/^[a-z][a-z0-9+.-]*:/i.test(v)) out.push(`${path}: "${v}" is not an absolute URI`);
      if (s['format'] === 'uri-reference' && /\s/.test(v)) out.push(`${path}: "${v}" is not a URI reference`);
      if (s['format'] === 'date-time' && Number.isNaN(Date.parse(v))) out.push(`${path}: "${v}" is not a date-time`);
    }
    if (Array.isArray(v)) {
      if (s['minItems'] !== undefined && v.length < s['minItems']) out.push(`${path}: fewer than ${s['minItems']} items`);
      if (s['uniqueItems'] && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) out.push(`${path}: items are not unique`);
      if (s['items']) v.forEach((x, i) => check(s['items'], x, `${path}[${i}]`, out));
    }
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>;
      for (const r of (s['required'] as string[] | undefined) ?? []) if (!(r in obj)) out.push(`${path}: missing required ${r}`);
      const props = (s['properties'] ?? {}) as Record<string, Schema>;
      for (const [k, x] of Object.entries(obj)) {
        if (props[k]) check(props[k], x, `${path}.${k}`, out);
        else if (s['additionalProperties'] === false) out.push(`${path}: unexpected property ${k}`);
        else if (typeof s['additionalProperties'] === 'object') check(s['additionalProperties'], x, `${path}.${k}`, out);
      }
    }
    for (const [key, need] of [['anyOf', (n: number) => n >= 1], ['oneOf', (n: number) => n === 1]] as const) {
      if (!s[key]) continue;
      const passing = (s[key] as Schema[]).filter((alt) => { const o: string[] = []; check(alt, v, path, o); return o.length === 0; }).length;
      if (!need(passing)) out.push(`${path}: ${key} matched ${passing} alternatives`);
    }
  };
  check(root, value, '$', problems);
  return problems;
}

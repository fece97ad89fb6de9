/**
 * Island props on the wire: JSON where arrays are tagged so Date, URL, Map,
 * Set, bigint, undefined, non-finite numbers and server-rendered `children`
 * survive the trip. Shared by the server and the browser runtime.
 *
 * @example
 * ```ts
 * const wire = serializeProps("Clock", { at: new Date(0) }, () => "");
 * deserialize(wire, () => null); // { at: Date(0) }
 * ```
 * @module
 */

/** A JSON value as the serializer produces it. */
export type Serialized =
  | null
  | boolean
  | number
  | string
  | Serialized[]
  | { [key: string]: Serialized };

const SIGNAL = Symbol.for("preact-signals");

/**
 * Serializes an island's props. JSX is allowed only as `children`, which
 * `renderSlot` turns into HTML; a function or class instance throws a
 * `TypeError` naming the island and the prop.
 *
 * @example
 * ```ts
 * serializeProps("Counter", { onClick() {} }, () => ""); // throws: Island "Counter": prop "onClick" is a function ...
 * ```
 */
export function serializeProps(
  island: string,
  props: Record<string, unknown>,
  renderSlot: (children: unknown) => string,
): Serialized {
  const out: Record<string, Serialized> = {};
  for (const [key, value] of Object.entries(props)) {
    if (key === "children" && containsVNode(value)) {
      out[key] = ["h", renderSlot(value)];
    } else {
      out[key] = encode(value, { island, path: key, seen: new Set() });
    }
  }
  return out;
}

/**
 * Turns serialized props back into values; `slot` builds the vnode for
 * server-rendered children from their HTML.
 *
 * @example
 * ```ts
 * deserialize(["s", 1, 2], () => null); // Set {1, 2}
 * ```
 */
export function deserialize(
  value: Serialized,
  slot: (html: string) => unknown,
): unknown {
  if (value === null || typeof value !== "object") return value;
  if (!Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, deserialize(v, slot)]),
    );
  }
  const [tag, ...rest] = value;
  const all = () => rest.map((v) => deserialize(v, slot));
  switch (tag) {
    case "u":
      return undefined;
    case "n":
      return rest[0] === "-0" ? -0 : Number(rest[0]);
    case "b":
      return BigInt(rest[0] as string);
    case "a":
      return all();
    case "d":
      return new Date(rest[0] === null ? NaN : rest[0] as string);
    case "l":
      return new URL(rest[0] as string);
    case "s":
      return new Set(all());
    case "m":
      return new Map(pairs(all()));
    case "h":
      return slot(rest[0] as string);
    default:
      throw new TypeError(
        `fresh: unknown serialized tag ${JSON.stringify(tag)}`,
      );
  }
}

/**
 * Whether a value is a Preact vnode (vnodes have `constructor: undefined`).
 *
 * @example
 * ```ts
 * isVNode(h("p", null)); // true
 * ```
 */
export function isVNode(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    value.constructor === undefined &&
    "type" in value && "props" in value;
}

interface Walk {
  island: string;
  path: string;
  seen: Set<object>;
}

function encode(value: unknown, walk: Walk): Serialized {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0)
        ? value
        : ["n", Object.is(value, -0) ? "-0" : String(value)];
    case "undefined":
      return ["u"];
    case "bigint":
      return ["b", value.toString()];
    case "function":
      throw unserializable(walk, "is a function");
    case "symbol":
      throw unserializable(walk, "is a symbol");
  }
  if (value === null) return null;
  return encodeObject(value as object, walk);
}

function encodeObject(value: object, walk: Walk): Serialized {
  if (walk.seen.has(value)) {
    throw unserializable(walk, "refers back to itself (a cycle)");
  }
  walk.seen.add(value);
  try {
    return encodeKnown(value, walk);
  } finally {
    walk.seen.delete(value);
  }
}

function encodeKnown(value: object, walk: Walk): Serialized {
  const at = (path: string, v: unknown) =>
    encode(v, { ...walk, path: `${walk.path}${path}` });
  if (Array.isArray(value)) {
    return [
      "a",
      ...value.map((v, i) => at(`[${i}]`, v)),
    ];
  }
  if (value instanceof Date) {
    return ["d", isNaN(value.getTime()) ? null : value.toISOString()];
  }
  if (value instanceof URL) return ["l", value.href];
  if (value instanceof Set) {
    return [
      "s",
      ...[...value].map((v, i) => at(`[${i}]`, v)),
    ];
  }
  if (value instanceof Map) {
    return [
      "m",
      ...[...value].flatMap((
        [k, v],
        i,
      ) => [at(`<key ${i}>`, k), at(`<value ${i}>`, v)]),
    ];
  }
  if ((value as { brand?: unknown }).brand === SIGNAL) {
    return at("", (value as { peek(): unknown }).peek());
  }
  if (isVNode(value)) {
    throw unserializable(
      walk,
      "is JSX, which an island accepts only as `children`",
    );
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw unserializable(
      walk,
      `is a ${proto?.constructor?.name ?? "class"} instance`,
    );
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, at(`.${k}`, v)]),
  );
}

function unserializable(walk: Walk, what: string): TypeError {
  return new TypeError(
    `Island "${walk.island}": prop "${walk.path}" ${what}, which cannot be sent to the browser. ` +
      "Island props must be primitives, arrays, plain objects, Date, URL, Map, Set, signals or JSX children.",
  );
}

function containsVNode(value: unknown): boolean {
  return isVNode(value) || (Array.isArray(value) && value.some(containsVNode));
}

function pairs(values: unknown[]): [unknown, unknown][] {
  const out: [unknown, unknown][] = [];
  for (let i = 0; i < values.length; i += 2) {
    out.push([values[i], values[i + 1]]);
  }
  return out;
}

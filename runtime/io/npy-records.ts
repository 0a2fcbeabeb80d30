// Structured (record) .npy arrays, e.g. event streams saved with a dtype like
// `[('t', '<f8'), ('channel', '<i4')]`: the reader leaves them as raw records with a field table, and
// runtime/io/events.ts turns them into events.
import type { PyValue } from "./npy-literal.js";
import { type Ctx, SUPPORTED_DESCRS, err, parseDescr } from "./npy-format.js";
import { type DType, HOST_LITTLE_ENDIAN, itemSize } from "./ndarray.js";

/** One field of a structured (record) dtype, e.g. `('t', '<f8')`. */
export interface RecordField {
  name: string;
  dtype: DType;
  /** Byte offset of the field inside a record. */
  offset: number;
  /** Whether the field's bytes are little-endian in the file. */
  littleEndian: boolean;
}

/**
 * A structured .npy array (descr a list of `(name, typestr)`), left as raw records: `count` records of
 * `itemSize` bytes in `data` (C order as stored), which begins at byte `dataStart` of the file.
 */
export interface NpyRecords {
  shape: number[];
  count: number;
  itemSize: number;
  fields: RecordField[];
  data: Uint8Array;
  dataStart: number;
}

/** The fields of a structured descr such as `[('t', '<f8'), ('channel', '<i4')]`; `('', '|V4')` is padding. */
export function recordDescr(
  v: Extract<PyValue, { kind: "list" }>,
  ctx: Ctx,
  at: (v: PyValue) => number,
  src: (v: PyValue) => string,
): { fields: RecordField[]; size: number } {
  const fields: RecordField[] = [];
  let offset = 0;
  for (const item of v.items) {
    const shapeOk = item.kind === "tuple" && (item.items.length === 2 || (item.items.length === 3 && item.items[2]!.kind === "tuple" && (item.items[2] as { items: PyValue[] }).items.length === 0));
    if (!shapeOk || item.kind !== "tuple" || item.items[0]!.kind !== "str" || item.items[1]!.kind !== "str") {
      throw err(ctx, at(item), "unsupported structured dtype field", "a field like ('name', '<f8')", src(item));
    }
    const name = (item.items[0] as { value: string }).value;
    const typestr = (item.items[1] as { value: string }).value;
    const pad = /^\|V(\d+)$/.exec(typestr);
    if (pad && name === "") {
      offset += Number(pad[1]);
      continue;
    }
    const d = parseDescr(typestr);
    if (!d) throw err(ctx, at(item.items[1]!), `unsupported dtype ${JSON.stringify(typestr)} for field ${JSON.stringify(name)}`, SUPPORTED_DESCRS, src(item.items[1]!));
    if (fields.some((f) => f.name === name)) throw err(ctx, at(item), `structured dtype has the field ${JSON.stringify(name)} twice`, "each field name once", src(item));
    const little = d.swap ? !HOST_LITTLE_ENDIAN : HOST_LITTLE_ENDIAN;
    fields.push({ name, dtype: d.dtype, offset, littleEndian: little });
    offset += itemSize(d.dtype);
  }
  return { fields, size: offset };
}


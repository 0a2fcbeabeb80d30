// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read and written without NumPy.
// See https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
//
// The format's rooms: npy-read.ts checks and parses a file (every malformed input is an NmcError naming the
// file and byte), npy-literal.ts parses the header's Python dict literal (never an eval), npy-records.ts
// handles structured (record) dtypes, npy-write.ts writes exactly what NumPy's np.save writes, and
// npy-format.ts holds what they share. This module is the one entry point callers import.
export { type NpyRecords, type RecordField } from "./npy-records.js";
export { parseNpy, parseNpyAny, readNpy } from "./npy-read.js";
export { encodeNpy, encodeNpz, writeNpy, writeNpz } from "./npy-write.js";

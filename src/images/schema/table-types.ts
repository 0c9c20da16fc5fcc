/** Shapes of the generated schema tables (tables.ts). */

/** Field types, numbered as in google/protobuf/descriptor.proto (FieldDescriptorProto.Type). */
export const T = {
  DOUBLE: 1,
  FLOAT: 2,
  INT64: 3,
  UINT64: 4,
  INT32: 5,
  FIXED64: 6,
  FIXED32: 7,
  BOOL: 8,
  STRING: 9,
  MESSAGE: 11,
  BYTES: 12,
  UINT32: 13,
  ENUM: 14,
  SFIXED32: 15,
  SFIXED64: 16,
  SINT32: 17,
  SINT64: 18,
} as const;
export type T = (typeof T)[keyof typeof T];

/** Labels, as in descriptor.proto. */
export const L = { OPTIONAL: 1, REQUIRED: 2, REPEATED: 3 } as const;

export const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(T).map(([k, v]) => [v, k.toLowerCase()]),
);

export interface CritOptionsTable {
  hex?: boolean;
  ipadd?: boolean;
  dev?: boolean;
  odev?: boolean;
  flags?: string;
  dict?: string;
  conv?: string;
}

export interface FieldExtras {
  /** Full name of the message or enum type. */
  ref?: string;
  opts?: CritOptionsTable;
  /** proto2 `[default = ...]`, as written in the .proto. */
  default?: string;
  packed?: boolean;
}

/** [number, name, type, label, extras?] */
export type FieldTable = readonly [number, string, number, number, FieldExtras?];
export type MessageTable = readonly FieldTable[];
export type EnumTable = readonly (readonly [string, number])[];

/**
 * The symbolic values the pickle scanner keeps on its stack instead of real objects: what was pushed (strings,
 * numbers, containers, globals) and what would have been called, recorded as an "object" with its callable, its
 * arguments and any state or items a BUILD, SETITEM or APPEND later gave it. Nothing is ever constructed.
 */

export type PickleValue =
  | { kind: 'none' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: number | bigint }
  | { kind: 'float'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'bytes'; length: number }
  | { kind: 'global'; module: string; name: string }
  | { kind: 'tuple' | 'list' | 'set'; items: PickleValue[] }
  | { kind: 'dict'; entries: Array<[PickleValue, PickleValue]> }
  | {
      kind: 'object';
      callable: PickleValue;
      args: PickleValue;
      state?: PickleValue;
      items?: PickleValue[];
      entries?: Array<[PickleValue, PickleValue]>;
    }
  | { kind: 'persid'; id: PickleValue }
  | { kind: 'opaque' };

/** Items kept per container; longer lists are counted by the walk but not retained. */
export const MAX_ITEMS = 10_000;

/** A stack shape the pickle machine would reject; the scanner turns it into a stop reason. */
export class Malformed extends Error {}

export function pushBounded<T>(into: T[], item: T): void {
  if (into.length < MAX_ITEMS) into.push(item);
}

export function append(target: PickleValue, item: PickleValue): void {
  if (target.kind === 'list' || target.kind === 'set') pushBounded(target.items, item);
  else if (target.kind === 'object') pushBounded((target.items ??= []), item);
  else throw new Malformed(`APPEND to a ${target.kind}`);
}

export function setItems(target: PickleValue, flat: PickleValue[]): void {
  if (flat.length % 2 !== 0) throw new Malformed('odd number of dict items');
  let entries: Array<[PickleValue, PickleValue]>;
  if (target.kind === 'dict') entries = target.entries;
  else if (target.kind === 'object') entries = target.entries ??= [];
  else throw new Malformed(`SETITEM on a ${target.kind}`);
  for (let i = 0; i < flat.length; i += 2) pushBounded(entries, [flat[i] as PickleValue, flat[i + 1] as PickleValue]);
}

/** Dotted name of a global value ("collections.OrderedDict"), or undefined for anything else. */
export function globalName(value: PickleValue | undefined): string | undefined {
  return value?.kind === 'global' ? `${value.module}.${value.name}` : undefined;
}

/** The class or function an object was built from, as a dotted name. */
export function calleeName(value: PickleValue | undefined): string | undefined {
  return value?.kind === 'object' ? globalName(value.callable) : undefined;
}

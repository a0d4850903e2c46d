import { describe, expect, it } from 'vitest';
import { ID_PREFIXES, idPattern, isId, newId, type IdKind } from './ids.js';

describe('typed ids', () => {
  it('generates ids that match their own kind only', () => {
    const kinds = Object.keys(ID_PREFIXES) as IdKind[];
    expect(new Set(Object.values(ID_PREFIXES)).size).toBe(kinds.length);
    for (const kind of kinds) {
      const id = newId(kind);
      expect(id.startsWith(`${ID_PREFIXES[kind]}_`) && id.length === ID_PREFIXES[kind].length + 27).toBe(true);
      expect(idPattern(kind)).toBe(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`);
      for (const other of kinds) expect(isId(other, id)).toBe(other === kind);
    }
  });
});

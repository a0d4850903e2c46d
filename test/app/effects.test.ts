import { describe, expect, it } from 'vitest';
import { COMMITS_WITH, EFFECTS, NO_FEATURE_YET, recorderFor, type EffectName } from '../../src/app/effects.js';
import { AUDIT_ACTIONS, type AuditAction } from '../../src/audit/audit-event.js';
import type { AuditRecorder } from '../../src/audit/audit-recorder.js';

describe('the declared side effects (src/app/effects.ts)', () => {
  it('declares every audit action in exactly one effect, but those with no feature yet', () => {
    const declaredBy = new Map<AuditAction, EffectName[]>();
    for (const [name, effect] of Object.entries(EFFECTS) as [EffectName, (typeof EFFECTS)[EffectName]][]) {
      for (const action of effect.actions) declaredBy.set(action, [...(declaredBy.get(action) ?? []), name]);
    }
    for (const action of AUDIT_ACTIONS) {
      const expected = (NO_FEATURE_YET as readonly AuditAction[]).includes(action) ? 0 : 1;
      expect(declaredBy.get(action) ?? [], action).toHaveLength(expected);
    }
    expect([...declaredBy.keys()].filter((action) => !AUDIT_ACTIONS.includes(action))).toEqual([]);
  });

  it('commits every effect with some action', () => {
    const used = new Set<string>(Object.values(COMMITS_WITH).flat());
    expect(Object.keys(EFFECTS).filter((name) => !used.has(name))).toEqual([]);
  });

  it('gives a service a recorder that refuses actions its effects do not declare', async () => {
    const recorded: string[] = [];
    const record: AuditRecorder = async (_tx, event) => {
      recorded.push(event.action);
    };
    const inboxes = recorderFor(record, 'inbox');
    const tx = {} as Parameters<AuditRecorder>[0];
    await inboxes(tx, { tenant: 'ten_x', actor: { type: 'system', id: 'test' }, action: 'inbox.created' });
    await expect(inboxes(tx, { tenant: 'ten_x', actor: { type: 'system', id: 'test' }, action: 'destination.created' })).rejects.toThrow(/not declared/);
    expect(recorded).toEqual(['inbox.created']);
  });
});

import { describe, expect, it } from 'vitest';
import type { Sample } from '../../api/client';
import { withSaved, type Saved } from './saved';

const sample = (id: string, labels: string[] = []) => ({ sample_id: id, sample_name: `${id}.png`, labels, labeled: labels.length > 0 }) as unknown as Sample;

describe('a page fetched before the dataset service has heard of the labels saved here', () => {
  it('leaves out of the unlabeled filter the samples saved with a label, and counts them out of the total', () => {
    const saved: Saved = new Map([['red_008', ['red']]]);
    const page = withSaved({ items: [sample('red_008'), sample('red_009')], total: 7 }, 'unlabeled', saved);
    expect(page.items.map((s) => s.sample_id)).toEqual(['red_009']);
    expect(page.total).toBe(6);
    expect(saved.has('red_008')).toBe(true); // the list has not caught up yet
  });

  it('shows the labels saved on other filters, and forgets them once the list agrees', () => {
    const saved: Saved = new Map([['a', ['red']], ['b', []]]);
    const stale = withSaved({ items: [sample('a'), sample('b', ['blue'])], total: 2 }, 'all', saved);
    expect(stale.items.map((s) => [s.sample_id, s.labels, s.labeled])).toEqual([['a', ['red'], true], ['b', [], false]]);
    const labeledTab = withSaved({ items: [sample('b', ['blue'])], total: 1 }, 'labeled', saved);
    expect(labeledTab.items).toEqual([]); // b's label was removed here
    const fresh = withSaved({ items: [sample('a', ['red'])], total: 1 }, 'labeled', saved);
    expect(fresh.items.map((s) => s.sample_id)).toEqual(['a']);
    expect(saved.has('a')).toBe(false);
  });
});

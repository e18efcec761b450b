import type { Sample } from '../../api/client';

/** Labels saved on the labeling page, by sample id. */
export type Saved = Map<string, string[]>;
export type Tab = 'unlabeled' | 'labeled' | 'all';

/** A page as the labels saved here say it is. The labeling service's answer to a save is the truth; the
 *  dataset service's labeled state, which lists and filters the samples, follows it by event a moment later,
 *  so a page fetched right after a save may still list the sample under its old state. A saved sample takes
 *  the labels saved and leaves a filter it no longer matches; once the list agrees, the entry is dropped. */
export function withSaved(page: { items: Sample[]; total: number }, tab: Tab, saved: Saved): { items: Sample[]; total: number } {
  const items: Sample[] = [];
  for (const s of page.items) {
    const labels = saved.get(s.sample_id);
    if (labels === undefined) { items.push(s); continue; }
    if (labels.length === s.labels.length && labels.every((l) => s.labels.includes(l))) { saved.delete(s.sample_id); items.push(s); continue; }
    const now = { ...s, labels, labeled: labels.length > 0 };
    if ((tab === 'unlabeled' && now.labeled) || (tab === 'labeled' && !now.labeled)) continue;
    items.push(now);
  }
  return { items, total: page.total - (page.items.length - items.length) };
}

import { useState } from 'react';
import { step, textKey } from './keys';
import { useKeys } from './useKeys';
import type { Item, LabelInfo } from './types';

interface Props {
  items: Item[];
  labels: LabelInfo[];
  /** Save Current Page: each changed line with its one label. */
  onSave: (changes: Record<string, string>) => Promise<void>;
}

/** Text classification: one label per line, kept on the page until "Save Current Page". */
export function TextLabeler({ items, labels, onSave }: Props) {
  const [index, setIndex] = useState(0);
  const [pending, setPending] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);
  const item = items[index];
  const setLabel = (sampleId: string, label: string) => setPending((p) => ({ ...p, [sampleId]: label }));
  useKeys((key) => {
    const action = textKey(key, labels);
    if (!action || !item) return false;
    if (action.kind === 'set') setLabel(item.sample_id, action.label);
    else setIndex(step(index, action, items.length) ?? index);
    return true;
  });
  const save = async () => {
    setSaving(true);
    try {
      await onSave(pending);
      setPending({});
    } finally {
      setSaving(false);
    }
  };
  const changed = Object.keys(pending).length;
  return (
    <div className="labeler text">
      <div className="text-objects" aria-label="Labeling Objects">
        {items.map((s, i) => {
          const label = pending[s.sample_id] ?? s.labels[0];
          return (
            <div key={s.sample_id} role="row" className={`text-line ${i === index ? 'on' : ''} ${pending[s.sample_id] ? 'dirty' : ''}`} onClick={() => setIndex(i)}>
              <span className="text-content">{s.text ?? s.sample_name}</span>
              {label ? <span className="tag" style={{ background: labels.find((l) => l.name === label)?.color ?? undefined }}>{label}</span> : null}
            </div>
          );
        })}
      </div>
      <div className="label-set" role="group" aria-label="Label Set">
        {labels.map((l, i) => (
          <button key={l.name} className="chip" onClick={() => item && setLabel(item.sample_id, l.name)}>
            {i < 10 ? <kbd>{(i + 1) % 10}</kbd> : null} <span className="swatch" style={{ background: l.color ?? '#999' }} /> {l.name}
          </button>
        ))}
      </div>
      <div className="actions">
        <span className="muted">{changed ? `${changed} unsaved line(s): save before you turn the page` : 'Nothing to save'}</span>
        <button className="primary" disabled={!changed || saving} onClick={() => void save()}>Save Current Page</button>
      </div>
      <p className="hint">Keys: ↑ ↓ move between lines · 1–9 set the line's label.</p>
    </div>
  );
}

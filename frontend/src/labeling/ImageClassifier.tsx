import { useState, type ReactNode } from 'react';
import { imageClassificationKey, step, toggleLabel } from './keys';
import { useKeys } from './useKeys';
import { shortName, type Item, type LabelInfo } from './types';

interface Props {
  items: Item[];
  index: number;
  labels: LabelInfo[];
  onIndex: (index: number) => void;
  /** ←/→ past the first or last image of the page. */
  onEdge: (direction: 'prev' | 'next') => void;
  /** The image's labels changed (saved at once). */
  onChange: (item: Item, labels: string[]) => void;
  renderImage: (item: Item) => ReactNode;
}

/** Image classification: one image large, its labels toggled with number keys or clicks; ←/→ move. */
export function ImageClassifier({ items, index, labels, onIndex, onEdge, onChange, renderImage }: Props) {
  const item = items[index];
  const [typed, setTyped] = useState('');
  useKeys((key) => {
    if (!item) return false;
    const action = imageClassificationKey(key, labels);
    if (!action) return false;
    if (action.kind === 'toggle') {
      onChange(item, toggleLabel(item.labels, action.label));
      return true;
    }
    const next = step(index, action, items.length);
    if (next === null) onEdge(action.kind === 'prev' ? 'prev' : 'next');
    else onIndex(next);
    return true;
  });
  if (!item) return <p className="empty">No image here.</p>;
  const addTyped = () => {
    const name = typed.trim();
    if (name && !item.labels.includes(name)) onChange(item, toggleLabel(item.labels, name));
    setTyped('');
  };
  return (
    <div className="labeler">
      <div className="stage" data-testid="stage">
        <button className="nav prev" aria-label="Previous image" onClick={() => (index > 0 ? onIndex(index - 1) : onEdge('prev'))}>‹</button>
        <div className="stage-media">{renderImage(item)}</div>
        <button className="nav next" aria-label="Next image" onClick={() => (index < items.length - 1 ? onIndex(index + 1) : onEdge('next'))}>›</button>
      </div>
      <div className="stage-caption">
        <b data-testid="current-sample">{shortName(item.sample_name)}</b>
        <span className="labels" data-testid="current-labels">
          {item.labels.length ? item.labels.map((l) => <span key={l} className="tag">{l}</span>) : <i>unlabeled</i>}
        </span>
      </div>
      <div className="label-set" role="group" aria-label="Labels">
        {labels.map((l, i) => (
          <button key={l.name} className={item.labels.includes(l.name) ? 'chip on' : 'chip'} aria-pressed={item.labels.includes(l.name)} onClick={() => onChange(item, toggleLabel(item.labels, l.name))}>
            {i < 10 ? <kbd>{(i + 1) % 10}</kbd> : null} <span className="swatch" style={{ background: l.color ?? '#999' }} /> {l.name}
          </button>
        ))}
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); addTyped(); }}>
          <input aria-label="Label" placeholder="Label" value={typed} onChange={(e) => setTyped(e.target.value)} list="label-names" />
          <datalist id="label-names">{labels.map((l) => <option key={l.name} value={l.name} />)}</datalist>
          <button>OK</button>
        </form>
      </div>
      <p className="hint">Keys: ← → move between images · 1–9 toggle a label · several labels per image.</p>
    </div>
  );
}

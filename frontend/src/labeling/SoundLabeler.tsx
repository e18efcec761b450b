import { useEffect, useRef, useState } from 'react';
import WaveSurfer from 'wavesurfer.js';
import { soundKey, step } from './keys';
import { useKeys } from './useKeys';
import { shortName, type Item, type LabelInfo } from './types';

interface Props {
  items: Item[];
  index: number;
  labels: LabelInfo[];
  audioUrl: string | null;
  onIndex: (index: number) => void;
  onEdge: (direction: 'prev' | 'next') => void;
  /** The sound's one label (saved at once). */
  onLabel: (item: Item, label: string) => void;
}

/** Sound classification: the waveform of the selected sound, Space plays, a label's shortcut key labels it. */
export function SoundLabeler({ items, index, labels, audioUrl, onIndex, onEdge, onLabel }: Props) {
  const wave = useRef<HTMLDivElement>(null);
  const player = useRef<WaveSurfer | null>(null);
  const [playing, setPlaying] = useState(false);
  const item = items[index];

  useEffect(() => {
    if (!audioUrl || !wave.current) return;
    const ws = WaveSurfer.create({ container: wave.current, url: audioUrl, height: 96, waveColor: '#9db4f0', progressColor: '#316bf3', cursorColor: '#1d2b4f' });
    ws.on('play', () => setPlaying(true));
    ws.on('pause', () => setPlaying(false));
    ws.on('finish', () => setPlaying(false));
    player.current = ws;
    return () => {
      ws.destroy();
      player.current = null;
    };
  }, [audioUrl]);

  useKeys((key) => {
    if (!item) return false;
    const action = soundKey(key, labels);
    if (!action) return false;
    if (action.kind === 'play') void player.current?.playPause();
    else if (action.kind === 'set') onLabel(item, action.label);
    else {
      const next = step(index, action, items.length);
      if (next === null) onEdge(action.kind === 'prev' ? 'prev' : 'next');
      else onIndex(next);
    }
    return true;
  });

  return (
    <div className="labeler sound">
      <ul className="sound-list" aria-label="Sound files">
        {items.map((s, i) => (
          <li key={s.sample_id} className={i === index ? 'on' : ''} onClick={() => onIndex(i)}>
            <span>♪ {shortName(s.sample_name)}</span>
            <span className="labels">{s.labels.map((l) => <span key={l} className="tag">{l}</span>)}</span>
          </li>
        ))}
      </ul>
      <div className="sound-stage">
        {item ? (
          <>
            <div className="stage-caption">
              <b data-testid="current-sample">{shortName(item.sample_name)}</b>
              <span className="labels" data-testid="current-labels">{item.labels.length ? item.labels.join(', ') : <i>unlabeled</i>}</span>
            </div>
            <div ref={wave} className="waveform" data-testid="waveform" />
            <button className="primary" onClick={() => void player.current?.playPause()}>{playing ? '❚❚ Pause' : '▶ Play'}</button>
          </>
        ) : <p className="empty">No sound here.</p>}
        <div className="label-set" role="group" aria-label="Labels">
          {labels.map((l) => (
            <button key={l.name} className={item?.labels.includes(l.name) ? 'chip on' : 'chip'} onClick={() => item && onLabel(item, l.name)}>
              {l.shortcut ? <kbd>{l.shortcut}</kbd> : null} {l.name}
            </button>
          ))}
        </div>
        <p className="hint">Keys: Space play/pause · a label's shortcut key labels the sound · ← → other sounds. Set shortcuts in All Labels (✎).</p>
      </div>
    </div>
  );
}

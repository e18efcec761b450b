import { useEffect, useRef, useState } from 'react';
import { createImageAnnotator, UserSelectAction, type ImageAnnotation, type ImageAnnotator } from '@annotorious/annotorious';
import '@annotorious/annotorious/annotorious.css';
import { detectionKey } from './keys';
import { fromAnnotation, toAnnotation, type Box } from './boxes';
import { useKeys } from './useKeys';
import type { LabelInfo } from './types';

interface Props {
  imageUrl: string;
  width: number;
  height: number;
  /** The boxes the image starts with (remount the editor for another image). */
  initial: Box[];
  labels: LabelInfo[];
  onChange: (boxes: Box[]) => void;
  /** Save: the boxes as drawn now (an edit in progress included). */
  onSave: (boxes: Box[]) => void;
  onNavigate: (direction: 'prev' | 'next') => void;
}

const colorOf = (labels: LabelInfo[], name: string) => (labels.find((l) => l.name === name)?.color ?? '#ff6600') as `#${string}`;

/** Object detection: draw boxes by dragging (Annotorious), move and resize them, a label per box, zoom. */
export function BoxEditor({ imageUrl, width, height, initial, labels, onChange, onSave, onNavigate }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const anno = useRef<ImageAnnotator | null>(null);
  const [boxes, setBoxes] = useState<Box[]>(initial);
  const [selected, setSelected] = useState<string | null>(null);
  const [label, setLabel] = useState(labels[0]?.name ?? '');
  const [zoom, setZoom] = useState(1);
  const chosen = label || labels[0]?.name || '';
  const labelRef = useRef(chosen);
  labelRef.current = chosen;
  const labelsRef = useRef(labels);
  labelsRef.current = labels;
  const changeRef = useRef(onChange);
  changeRef.current = onChange;

  useEffect(() => {
    const container = host.current!;
    // Annotorious wraps the <img> in its own element: the image is created here, outside React's tree.
    const img = document.createElement('img');
    img.src = imageUrl;
    img.alt = 'sample';
    img.draggable = false;
    container.appendChild(img);
    const annotator = createImageAnnotator(img, {
      drawingEnabled: true,
      drawingMode: 'drag',
      autoSave: true,
      userSelectAction: UserSelectAction.EDIT,
      style: (a: ImageAnnotation) => {
        const name = String(a.bodies.find((b) => b.purpose === 'tagging')?.value ?? '');
        return { stroke: colorOf(labelsRef.current, name), strokeWidth: 2, fill: colorOf(labelsRef.current, name), fillOpacity: 0.15 };
      },
    });
    annotator.setDrawingTool('rectangle');
    annotator.setAnnotations(initial.map(toAnnotation));
    const sync = () => {
      const next = drawn(annotator);
      setBoxes(next);
      changeRef.current(next);
    };
    annotator.on('createAnnotation', (a) => {
      // A new box gets the label chosen in the toolbar.
      annotator.updateAnnotation({ ...a, bodies: [{ id: `${a.id}-label`, annotation: a.id, purpose: 'tagging', value: labelRef.current }] } as ImageAnnotation);
      sync();
    });
    annotator.on('updateAnnotation', sync);
    annotator.on('deleteAnnotation', sync);
    annotator.on('selectionChanged', (list) => setSelected(list[0]?.id ?? null));
    anno.current = annotator;
    return () => {
      annotator.destroy();
      anno.current = null;
      container.replaceChildren();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [imageUrl]);

  const drawn = (annotator: ImageAnnotator) =>
    annotator.getAnnotations().map((a) => fromAnnotation(a, labelRef.current, width, height)).filter((b): b is Box => b !== null);
  const save = () => {
    const annotator = anno.current;
    if (!annotator) return;
    annotator.cancelSelected(); // ends an edit in progress, so its last move counts
    onSave(drawn(annotator));
  };
  const removeSelected = () => {
    const annotator = anno.current;
    if (!annotator || !selected) return;
    annotator.removeAnnotation(selected);
    setSelected(null);
    const next = boxes.filter((b) => b.id !== selected);
    setBoxes(next);
    onChange(next);
  };
  const relabelSelected = (name: string) => {
    const annotator = anno.current;
    const a = annotator?.getAnnotations().find((x) => x.id === selected);
    if (!annotator || !a) return;
    annotator.updateAnnotation({ ...a, bodies: [{ id: `${a.id}-label`, annotation: a.id, purpose: 'tagging', value: name }] } as ImageAnnotation);
    const next = boxes.map((b) => (b.id === selected ? { ...b, name } : b));
    setBoxes(next);
    onChange(next);
  };
  useKeys((key) => {
    const action = detectionKey(key);
    if (!action) return false;
    if (action.kind === 'delete') removeSelected();
    else if (action.kind === 'zoom') setZoom((z) => Math.max(0.25, Math.min(8, z * action.by)));
    else if (action.kind === 'prev' || action.kind === 'next') onNavigate(action.kind);
    return true;
  });
  const current = boxes.find((b) => b.id === selected);
  return (
    <div className="box-editor">
      <div className="toolbar">
        <label>
          New box label{' '}
          <select aria-label="New box label" value={chosen} onChange={(e) => setLabel(e.target.value)}>
            {labels.map((l) => <option key={l.name}>{l.name}</option>)}
          </select>
        </label>
        {current ? (
          <label>
            Selected box{' '}
            <select aria-label="Selected box label" value={current.name} onChange={(e) => relabelSelected(e.target.value)}>
              {labels.map((l) => <option key={l.name}>{l.name}</option>)}
            </select>{' '}
            <button className="danger" onClick={removeSelected}>Delete box</button>
          </label>
        ) : null}
        <span className="zoom">
          <button aria-label="Zoom out" onClick={() => setZoom((z) => Math.max(0.25, z * 0.8))}>−</button>
          <span data-testid="zoom">{Math.round(zoom * 100)}%</span>
          <button aria-label="Zoom in" onClick={() => setZoom((z) => Math.min(8, z * 1.25))}>+</button>
        </span>
        <span className="muted" data-testid="box-count">{boxes.length} box(es)</span>
        <button className="primary save" onClick={save}>Save</button>
      </div>
      <div className="box-canvas">
        <div ref={host} className="box-host" data-testid="box-host" style={{ width: `${Math.round(Math.min(720, Math.max(480, width)) * zoom)}px` }} />
      </div>
      <p className="hint">Drag on the image to draw a box; drag a box to move it, its corners to resize. Delete removes the selected box · +/− zoom · ← → other images.</p>
    </div>
  );
}

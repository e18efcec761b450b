// Boxes of object detection: the API's VOC rectangles (pixels, origin top-left) and Annotorious'
// rectangle annotations (natural image pixels, x/y/w/h), converted both ways and kept inside the image.
import type { ImageAnnotation } from '@annotorious/annotorious';

export interface BndBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export interface Box {
  id: string;
  name: string;
  bndbox: BndBox;
  suggested?: boolean;
}

const round = (v: number) => Math.round(v * 10) / 10;

/** The box inside a width × height image, rounded to 0.1 px; null when nothing of it is left. */
export function clampBox(b: BndBox, width: number, height: number): BndBox | null {
  const xmin = round(Math.max(0, Math.min(b.xmin, b.xmax)));
  const ymin = round(Math.max(0, Math.min(b.ymin, b.ymax)));
  const xmax = round(Math.min(width, Math.max(b.xmin, b.xmax)));
  const ymax = round(Math.min(height, Math.max(b.ymin, b.ymax)));
  return xmax - xmin >= 1 && ymax - ymin >= 1 ? { xmin, ymin, xmax, ymax } : null;
}

export function toAnnotation(box: Box): ImageAnnotation {
  const { xmin, ymin, xmax, ymax } = box.bndbox;
  return {
    id: box.id,
    bodies: [{ id: `${box.id}-label`, annotation: box.id, purpose: 'tagging', value: box.name }],
    target: {
      annotation: box.id,
      selector: {
        type: 'RECTANGLE',
        geometry: { x: xmin, y: ymin, w: xmax - xmin, h: ymax - ymin, bounds: { minX: xmin, minY: ymin, maxX: xmax, maxY: ymax } },
      },
    },
  } as unknown as ImageAnnotation;
}

/** The box an annotation draws (its first tag is the label; an untagged new box gets `label`). */
export function fromAnnotation(a: ImageAnnotation, label: string, width: number, height: number): Box | null {
  const g = a.target.selector.geometry as { x?: number; y?: number; w?: number; h?: number; bounds: { minX: number; minY: number; maxX: number; maxY: number } };
  const raw = g.w !== undefined && g.x !== undefined
    ? { xmin: g.x, ymin: g.y ?? 0, xmax: g.x + g.w, ymax: (g.y ?? 0) + (g.h ?? 0) }
    : { xmin: g.bounds.minX, ymin: g.bounds.minY, xmax: g.bounds.maxX, ymax: g.bounds.maxY };
  const bndbox = clampBox(raw, width, height);
  const tag = a.bodies.find((b) => b.purpose === 'tagging')?.value;
  return bndbox ? { id: a.id, name: tag || label, bndbox } : null;
}

/** Boxes as the labeling API takes them. */
export function toAnnotationsIn(boxes: readonly Box[]): { name: string; bndbox: BndBox }[] {
  return boxes.map((b) => ({ name: b.name, bndbox: b.bndbox }));
}

/** A number of a prediction answer: the API writes confidences and box coordinates as decimal strings
 * ("0.972", as the ExeML guide; ADR 0022), or numbers with `?numbers=true`. */
export function answerNumber(value: string | number): number {
  return typeof value === 'number' ? value : Number.parseFloat(value);
}

/** Detections of the prediction API ([y_min, x_min, y_max, x_max], decimal strings or numbers) as boxes to draw. */
export function fromDetections(classes: string[], boxes: (string | number)[][], scores: (string | number)[]): (Box & { score: number })[] {
  return classes.map((name, i) => {
    const [ymin, xmin, ymax, xmax] = boxes[i].map(answerNumber);
    return { id: `det-${i}`, name, bndbox: { xmin, ymin, xmax, ymax }, score: answerNumber(scores[i]) };
  });
}

import { describe, expect, it } from 'vitest';
import { clampBox, fromAnnotation, fromDetections, toAnnotation, toAnnotationsIn } from './boxes';

describe('boxes', () => {
  it('a box dragged in any direction is normalised and kept inside the image', () => {
    expect(clampBox({ xmin: 50, ymin: 40, xmax: 10, ymax: 5 }, 64, 48)).toEqual({ xmin: 10, ymin: 5, xmax: 50, ymax: 40 });
    expect(clampBox({ xmin: -8, ymin: 3.04, xmax: 80, ymax: 60 }, 64, 48)).toEqual({ xmin: 0, ymin: 3, xmax: 64, ymax: 48 });
  });

  it('a box of less than a pixel, or outside the image, is no box', () => {
    expect(clampBox({ xmin: 5, ymin: 5, xmax: 5.4, ymax: 20 }, 64, 48)).toBeNull();
    expect(clampBox({ xmin: 70, ymin: 5, xmax: 90, ymax: 20 }, 64, 48)).toBeNull();
  });

  it('round-trips through an Annotorious rectangle with its label', () => {
    const box = { id: 'b1', name: 'car', bndbox: { xmin: 4, ymin: 6, xmax: 30, ymax: 20 } };
    const annotation = toAnnotation(box);
    expect(annotation.target.selector.type).toBe('RECTANGLE');
    expect(annotation.target.selector.geometry).toMatchObject({ x: 4, y: 6, w: 26, h: 14 });
    expect(fromAnnotation(annotation, 'other', 64, 48)).toEqual(box);
  });

  it('a moved or resized rectangle gives the new box; an untagged one takes the chosen label', () => {
    const annotation = toAnnotation({ id: 'b2', name: 'bus', bndbox: { xmin: 0, ymin: 0, xmax: 10, ymax: 10 } });
    const moved = { ...annotation, bodies: [], target: { ...annotation.target, selector: { type: 'RECTANGLE', geometry: { x: 20, y: 30, w: 60, h: 40, bounds: { minX: 20, minY: 30, maxX: 80, maxY: 70 } } } } };
    expect(fromAnnotation(moved as never, 'truck', 64, 48)).toEqual({ id: 'b2', name: 'truck', bndbox: { xmin: 20, ymin: 30, xmax: 64, ymax: 48 } });
  });

  it('the API gets name and rectangle only; detections are [y_min, x_min, y_max, x_max]', () => {
    expect(toAnnotationsIn([{ id: 'x', name: 'car', bndbox: { xmin: 1, ymin: 2, xmax: 3, ymax: 4 }, suggested: true }])).toEqual([
      { name: 'car', bndbox: { xmin: 1, ymin: 2, xmax: 3, ymax: 4 } },
    ]);
    expect(fromDetections(['car'], [[2, 1, 4, 3]], [0.9])[0]).toMatchObject({ name: 'car', bndbox: { xmin: 1, ymin: 2, xmax: 3, ymax: 4 }, score: 0.9 });
    // the API's decimal strings (ADR 0022) are read as numbers
    expect(fromDetections(['car'], [['2.50', '1.25', '4.00', '3.75']], ['0.900'])[0]).toMatchObject({ name: 'car', bndbox: { xmin: 1.25, ymin: 2.5, xmax: 3.75, ymax: 4 }, score: 0.9 });
  });
});

import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { DetectionView, Scores } from './PredictionTab';
import { fromDetections } from '../../labeling/boxes';

// The API's canonical answers: decimal strings, as the ExeML guide shows them (ADR 0022).
const detection = {
  detection_classes: ['yunbao'],
  detection_boxes: [['60.89', '268.44', '652.69', '806.91']],
  detection_scores: ['0.972'],
};

function loaded(container: HTMLElement, width: number, height: number) {
  const img = container.querySelector('img')!;
  Object.defineProperty(img, 'naturalWidth', { value: width });
  Object.defineProperty(img, 'naturalHeight', { value: height });
  fireEvent.load(img);
}

describe('PredictionTab answers', () => {
  it('draws a detection given as decimal strings at its place: [y_min, x_min, y_max, x_max] parsed, not concatenated', () => {
    const { container } = render(<DetectionView url="blob:x" answer={detection} />);
    loaded(container, 1000, 800);
    const rect = container.querySelector('rect')!;
    expect(Number(rect.getAttribute('x'))).toBeCloseTo(268.44);
    expect(Number(rect.getAttribute('y'))).toBeCloseTo(60.89);
    expect(Number(rect.getAttribute('width'))).toBeCloseTo(806.91 - 268.44);
    expect(Number(rect.getAttribute('height'))).toBeCloseTo(652.69 - 60.89);
    const label = container.querySelector('svg text')!;
    expect(Number(label.getAttribute('x'))).toBeCloseTo(270.44); // "268.44" + 2 would be 268.442
    expect(Number(label.getAttribute('y'))).toBeCloseTo(70.89);
    expect(label.textContent).toBe('yunbao 97%');
  });

  it('draws the same boxes from the numbers of ?numbers=true', () => {
    const numbers = { detection_classes: ['yunbao'], detection_boxes: [[60.89, 268.44, 652.69, 806.91]], detection_scores: [0.972] };
    expect(fromDetections(numbers.detection_classes, numbers.detection_boxes, numbers.detection_scores)).toEqual(
      fromDetections(detection.detection_classes, detection.detection_boxes, detection.detection_scores),
    );
  });

  it('shows classification scores given as decimal strings as percentages and bars', () => {
    const { container } = render(<Scores answer={{ predicted_label: 'sunflowers', scores: [['sunflowers', '0.972'], ['dandelion', '0.028']] }} />);
    expect(screen.getByTestId('predicted-label').textContent).toBe('sunflowers');
    expect(screen.getByText('97.2%')).toBeTruthy();
    expect(screen.getByText('2.8%')).toBeTruthy();
    const bars = [...container.querySelectorAll<HTMLElement>('.progress-fill')].map((b) => parseFloat(b.style.width));
    expect(bars[0]).toBeCloseTo(97.2);
    expect(bars[1]).toBeCloseTo(2.8);
  });
});

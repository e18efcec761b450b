import { describe, expect, it } from 'vitest';
import { detectionKey, imageClassificationKey, isTypingTarget, soundKey, step, textKey, toggleLabel } from './keys';

const labels = [{ name: 'daisy' }, { name: 'roses', shortcut: 'r' }, { name: 'tulips', shortcut: 'T' }];

describe('labeling keys', () => {
  it('image classification: arrows move, number keys toggle the n-th label', () => {
    expect(imageClassificationKey('ArrowLeft', labels)).toEqual({ kind: 'prev' });
    expect(imageClassificationKey('ArrowRight', labels)).toEqual({ kind: 'next' });
    expect(imageClassificationKey('2', labels)).toEqual({ kind: 'toggle', label: 'roses' });
    expect(imageClassificationKey('4', labels)).toBeNull(); // no 4th label
    expect(imageClassificationKey('x', labels)).toBeNull();
  });

  it('0 names the tenth label', () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ name: `l${i + 1}` }));
    expect(imageClassificationKey('0', ten)).toEqual({ kind: 'toggle', label: 'l10' });
  });

  it('sound: a shortcut (either case) sets the one label, Space plays', () => {
    expect(soundKey('r', labels)).toEqual({ kind: 'set', label: 'roses' });
    expect(soundKey('t', labels)).toEqual({ kind: 'set', label: 'tulips' });
    expect(soundKey(' ', labels)).toEqual({ kind: 'play' });
    expect(soundKey('d', labels)).toBeNull(); // daisy has no shortcut
  });

  it('text: up/down move between lines, number keys set the label', () => {
    expect(textKey('ArrowDown', labels)).toEqual({ kind: 'next' });
    expect(textKey('ArrowUp', labels)).toEqual({ kind: 'prev' });
    expect(textKey('3', labels)).toEqual({ kind: 'set', label: 'tulips' });
  });

  it('detection: delete, zoom and navigation', () => {
    expect(detectionKey('Delete')).toEqual({ kind: 'delete' });
    expect(detectionKey('Backspace')).toEqual({ kind: 'delete' });
    expect(detectionKey('+')).toEqual({ kind: 'zoom', by: 1.25 });
    expect(detectionKey('-')).toEqual({ kind: 'zoom', by: 0.8 });
    expect(detectionKey('ArrowRight')).toEqual({ kind: 'next' });
  });

  it('toggling adds and removes a label, keeping them sorted', () => {
    expect(toggleLabel(['roses'], 'daisy')).toEqual(['daisy', 'roses']);
    expect(toggleLabel(['daisy', 'roses'], 'daisy')).toEqual(['roses']);
  });

  it('stepping stops at the page edges', () => {
    expect(step(0, { kind: 'prev' }, 3)).toBeNull();
    expect(step(2, { kind: 'next' }, 3)).toBeNull();
    expect(step(1, { kind: 'next' }, 3)).toBe(2);
  });

  it('keys typed into form fields are not commands', () => {
    const input = document.createElement('input');
    const checkbox = Object.assign(document.createElement('input'), { type: 'checkbox' });
    expect(isTypingTarget(input)).toBe(true);
    expect(isTypingTarget(document.createElement('textarea'))).toBe(true);
    expect(isTypingTarget(checkbox)).toBe(false);
    expect(isTypingTarget(document.body)).toBe(false);
  });
});

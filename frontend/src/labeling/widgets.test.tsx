import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { ImageClassifier } from './ImageClassifier';
import { TextLabeler } from './TextLabeler';
import type { Item } from './types';

const labels = [{ name: 'daisy', color: '#3399ff' }, { name: 'roses', color: '#ff6600' }];
const items: Item[] = [
  { sample_id: 'a', sample_name: 'in/a.jpg', labels: [] },
  { sample_id: 'b', sample_name: 'in/b.jpg', labels: ['daisy'] },
];

describe('ImageClassifier', () => {
  it('number keys toggle labels on the current image; arrows move and report the page edge', () => {
    const onChange = vi.fn();
    const onIndex = vi.fn();
    const onEdge = vi.fn();
    const { rerender } = render(
      <ImageClassifier items={items} index={0} labels={labels} onIndex={onIndex} onEdge={onEdge} onChange={onChange} renderImage={(i) => <span>{i.sample_name}</span>} />,
    );
    fireEvent.keyDown(window, { key: '2' });
    expect(onChange).toHaveBeenLastCalledWith(items[0], ['roses']);
    fireEvent.keyDown(window, { key: 'ArrowRight' });
    expect(onIndex).toHaveBeenLastCalledWith(1);
    fireEvent.keyDown(window, { key: 'ArrowLeft' });
    expect(onEdge).toHaveBeenLastCalledWith('prev');

    rerender(<ImageClassifier items={items} index={1} labels={labels} onIndex={onIndex} onEdge={onEdge} onChange={onChange} renderImage={() => null} />);
    fireEvent.keyDown(window, { key: '1' }); // daisy is on b: the key takes it off
    expect(onChange).toHaveBeenLastCalledWith(items[1], []);
    fireEvent.keyDown(window, { key: 'ArrowRight' });
    expect(onEdge).toHaveBeenLastCalledWith('next');
  });

  it('keys typed in the label box are not commands', () => {
    const onChange = vi.fn();
    render(<ImageClassifier items={items} index={0} labels={labels} onIndex={vi.fn()} onEdge={vi.fn()} onChange={onChange} renderImage={() => null} />);
    const box = screen.getByLabelText('Label');
    fireEvent.keyDown(box, { key: '1' });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.change(box, { target: { value: 'tulips' } });
    fireEvent.click(screen.getByRole('button', { name: 'OK' }));
    expect(onChange).toHaveBeenCalledWith(items[0], ['tulips']);
  });
});

describe('TextLabeler', () => {
  it('labels lines by keyboard and saves the page only on Save Current Page', async () => {
    const onSave = vi.fn().mockResolvedValue(undefined);
    const lines: Item[] = [
      { sample_id: 't1', sample_name: 'c.txt#1', labels: [], text: 'good product' },
      { sample_id: 't2', sample_name: 'c.txt#2', labels: [], text: 'broken on arrival' },
    ];
    render(<TextLabeler items={lines} labels={labels} onSave={onSave} />);
    fireEvent.keyDown(window, { key: '1' });
    fireEvent.keyDown(window, { key: 'ArrowDown' });
    fireEvent.keyDown(window, { key: '2' });
    fireEvent.keyDown(window, { key: '1' }); // one label per line: the last key wins
    expect(onSave).not.toHaveBeenCalled();
    expect(screen.getByText('2 unsaved line(s): save before you turn the page')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Save Current Page' }));
    expect(onSave).toHaveBeenCalledWith({ t1: 'daisy', t2: 'daisy' });
    expect(await screen.findByText('Nothing to save')).toBeInTheDocument();
  });
});

import { useEffect, useRef } from 'react';
import { isTypingTarget } from './keys';

/** Calls `handler` with each key pressed on the page (not in a form field); it returns true when used. */
export function useKeys(handler: (key: string) => boolean): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const listener = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTypingTarget(e.target)) return;
      if (ref.current(e.key)) e.preventDefault();
    };
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);
}

import { useState } from 'react';

/** Copies `text` to the clipboard; says so in a live region, for screen readers too. */
export function CopyButton({ text, label = 'Copy' }: { readonly text: string; readonly label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      // Clipboard access needs a secure context and the page's focus; say it failed rather than pretend.
      setState('failed');
    }
  };
  return (
    <span className="copy">
      <button type="button" className="button-small" onClick={() => void copy()}>
        {label}
      </button>
      <span aria-live="polite" className="muted small">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text instead' : ''}
      </span>
    </span>
  );
}

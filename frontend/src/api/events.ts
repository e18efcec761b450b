// The tenant's live events (GET /v1/events, server-sent events). EventSource cannot send the API key,
// so the stream is read with fetch and parsed by eventsource-parser.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { authHeaders } from './client';

export interface PlatformEvent {
  type: string;
  subject?: string | null;
  data: Record<string, unknown>;
}

/** Calls `onEvent` for each event until `signal` aborts; reconnects after a dropped stream. */
export async function streamEvents(onEvent: (event: PlatformEvent) => void, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch('/v1/events', { headers: authHeaders(), signal });
      if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
      const parser = createParser({
        onEvent: (message: EventSourceMessage) => {
          try {
            onEvent(JSON.parse(message.data) as PlatformEvent);
          } catch {
            /* a malformed event is skipped */
          }
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
